"""MLflow tracking: one run per gate, and the candidate registered as a model version.

The default store is ``sqlite:///<repo>/.llm-gitops/mlflow.db`` with artifacts beside it
(``.llm-gitops/mlartifacts``): offline, nothing to run, and ``mlflow ui
--backend-store-uri`` shows it. A remote tracking server is used when
``tracking.mlflow.tracking_uri`` names one.

What a gate run records:

* params: both models' digests and sources, the eval settings and every threshold;
* metrics: ``candidate/<metric>``, ``baseline/<metric>``, ``delta/<metric>`` and, where
  the gate computed them, the delta's ``ci_low/``, ``ci_high/`` and ``p_value/<metric>``;
* tags: ``verdict``, ``summary``, ``git_sha`` (also as ``mlflow.source.git.commit``) and
  ``report_digest`` (sha256 of report.json);
* artifacts: the report files (report.md, report.json, the chart).

With ``register_as`` the candidate's directory is logged under the run and becomes a
version of that registered model, tagged ``git_sha``, ``verdict``, ``report_digest``
and ``model_digest``. ``register_model_dir`` publishes any model directory the same way
(to seed a baseline: ``models:/adder@production``).

mlflow is imported inside the functions: a job that only posts a comment needs none of it.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_gitops.cache import canonical_json
from llm_gitops.config.schema import Config
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.tracking.store import (  # noqa: F401 - re-exported: the store is part of tracking's API
    artifact_location,
    default_tracking_uri,
    display_uri,
    ensure_experiment,
    open_client,
    quiet_mlflow,
    resolve_tracking_uri,
    seed_sqlite_store,
    service_error,
    sqlite_path,
)

DEFAULT_EXPERIMENT = "llm-gitops"
MODEL_ARTIFACT_PATH = "model"
REPORT_JSON = "report.json"
# MLflow's limit on a param value (mlflow 3: 6000); longer values are cut, not rejected.
_PARAM_MAX = 6000
_TAG_MAX = 8000
# MLflow key characters: alphanumerics, _ - . space / ; anything else becomes "_".
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass(frozen=True)
class TrackingRecord:
    """Where a gate run landed: the MLflow run and, when registered, the model version."""

    run_id: str
    model_version: str | None
    experiment_id: str | None = None
    tracking_uri: str | None = None  # without credentials

    @property
    def url(self) -> str | None:
        """The run's page in the MLflow UI when the store is a server; None for a local store."""
        return run_url(self.tracking_uri or "", self.experiment_id, self.run_id)


# --------------------------------------------------------------------------- registry
def register_model_dir(
    config_or_uri: Config | str,
    name: str,
    model_dir: Path,
    *,
    alias: str | None = None,
    tags: dict[str, str] | None = None,
    experiment: str | None = None,
) -> str:
    """Publish ``model_dir`` as a new version of registered model ``name``; return the version.

    The directory is validated first (a broken model must not become a baseline), logged
    as the artifacts of a run in ``experiment`` and registered from that run's artifact
    URI. ``alias`` (e.g. ``production``) is pointed at the new version.
    """
    from llm_gitops.models.digest import model_digest
    from llm_gitops.models.validate import validate_model_dir

    model_dir = Path(model_dir)
    validate_model_dir(model_dir)
    if isinstance(config_or_uri, Config):
        uri = resolve_tracking_uri(config_or_uri)
        experiment = experiment or config_or_uri.tracking.mlflow.experiment
    else:
        uri = config_or_uri
    experiment = experiment or DEFAULT_EXPERIMENT
    digest = model_digest(model_dir)
    client = open_client(uri)
    from mlflow.exceptions import MlflowException

    try:
        experiment_id = ensure_experiment(client, uri, experiment)
        run = client.create_run(experiment_id, run_name=f"register {name}", tags={"model_digest": digest})
        run_id = run.info.run_id
        try:
            client.log_artifacts(run_id, str(model_dir), artifact_path=MODEL_ARTIFACT_PATH)
        except BaseException:
            client.set_terminated(run_id, status="FAILED")
            raise
        client.set_terminated(run_id)
        version = _create_version(client, name, run, {"model_digest": digest, **(tags or {})})
        if alias:
            client.set_registered_model_alias(name, alias, version)
    except (MlflowException, OSError) as exc:
        raise service_error(uri, exc, f"registering {model_dir} as {name!r}") from None
    return version


def set_alias(config_or_uri: Config | str, name: str, version: str | int, alias: str) -> None:
    """Point ``models:/NAME@ALIAS`` at ``version`` (e.g. promote a candidate to production)."""
    uri = resolve_tracking_uri(config_or_uri) if isinstance(config_or_uri, Config) else config_or_uri
    client = open_client(uri)  # imports mlflow as quiet_mlflow says: first
    from mlflow.exceptions import MlflowException

    try:
        client.set_registered_model_alias(name, alias, str(version))
    except MlflowException as exc:
        raise service_error(uri, exc, f"setting alias {alias!r} of {name!r} to version {version}") from None


def _create_version(client, name: str, run, tags: dict[str, str]) -> str:
    """A model version from the run's ``model`` artifacts, the registered model made if new.

    ``mlflow.register_model`` on a plain artifact folder fails (it expects an MLflow
    model); ``create_model_version`` with the artifact URI as source does not.
    """
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
        try:
            client.create_registered_model(name)
        except MlflowException:
            client.get_registered_model(name)  # created meanwhile by another process
    source = f"{run.info.artifact_uri.rstrip('/')}/{MODEL_ARTIFACT_PATH}"
    version = client.create_model_version(name, source=source, run_id=run.info.run_id, tags=tags)
    return str(version.version)


# --------------------------------------------------------------------------- gate runs
def run_url(tracking_uri: str, experiment_id: str | None, run_id: str) -> str | None:
    """The MLflow UI page of a run on an http(s) tracking server, without credentials.

    None for a local store (sqlite, file): its UI runs on nobody's machine but the
    runner's, so a PR comment has nothing a reviewer could open.
    """
    if not tracking_uri.startswith(("http://", "https://")) or not experiment_id:
        return None
    return f"{display_uri(tracking_uri).rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def start_gate_run(config: Config, *, candidate: ResolvedModel, git_sha: str | None) -> TrackingRecord:
    """Create the gate's MLflow run (status RUNNING) before the report is written.

    The run's id is known before its content: the report and the PR comment can then
    link it (``TrackingRecord.url``), and ``log_gate_run(..., run=record)`` fills it in.
    """
    uri = resolve_tracking_uri(config)
    tags = {"model_digest": candidate.digest}
    if git_sha:
        tags.update({"git_sha": git_sha, "mlflow.source.git.commit": git_sha})
    client = open_client(uri)  # imports mlflow as quiet_mlflow says: first
    from mlflow.exceptions import MlflowException

    try:
        experiment_id = ensure_experiment(client, uri, config.tracking.mlflow.experiment)
        run = client.create_run(experiment_id, run_name=f"gate {candidate.short_digest}", tags=tags)
    except (MlflowException, OSError) as exc:
        raise service_error(uri, exc, "creating the gate run") from None
    return TrackingRecord(run_id=run.info.run_id, model_version=None, experiment_id=experiment_id,
                          tracking_uri=display_uri(uri))


def log_gate_run(
    config: Config,
    *,
    report: dict,
    artifacts: list[Path],
    candidate: ResolvedModel,
    git_sha: str | None,
    run: TrackingRecord | None = None,
) -> TrackingRecord:
    """Record one gate as an MLflow run (and a model version when ``register_as`` is set).

    ``report`` is the gate's report document (``llm-gitops/gate-report/v1``). Read from
    it: ``verdict``, ``summary``, the baseline under ``models.baseline`` (``digest``,
    ``source``) and the rows of ``checks`` (``metric``, ``candidate``, ``baseline``,
    ``delta``, ``ci_low``, ``ci_high``, ``p_value``; numbers or null). A ``metrics``
    mapping from metric name to such a row is read the same way. ``run``: a run made
    by ``start_gate_run`` to fill in; else a new one is created.
    """
    settings = config.tracking.mlflow
    uri = resolve_tracking_uri(config)
    verdict = str(report.get("verdict", "unknown"))
    report_digest = _report_digest(report, artifacts)
    params = _gate_params(config, report, candidate)
    metrics = _gate_metrics(report)
    tags = {"verdict": verdict, "report_digest": report_digest, "model_digest": candidate.digest}
    if report.get("summary"):
        tags["summary"] = str(report["summary"])[:_TAG_MAX]
    if git_sha:
        tags.update({"git_sha": git_sha, "mlflow.source.git.commit": git_sha})

    client = open_client(uri)  # imports mlflow as quiet_mlflow says: first
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

    try:
        if run is None:
            experiment_id = ensure_experiment(client, uri, settings.experiment)
            mlflow_run = client.create_run(experiment_id, run_name=f"gate {candidate.short_digest}", tags=tags)
        else:
            experiment_id, mlflow_run = run.experiment_id, client.get_run(run.run_id)
        run_id = mlflow_run.info.run_id
        status = "FAILED"
        try:
            now = int(time.time() * 1000)
            client.log_batch(
                run_id,
                params=[Param(_key(k), _param_value(v)) for k, v in params.items()],
                metrics=[Metric(_key(k), v, now, 0) for k, v in metrics.items()],
                tags=[RunTag(k, v) for k, v in tags.items()] if run is not None else [],
            )
            for path in artifacts:
                path = Path(path)
                if path.is_file():
                    client.log_artifact(run_id, str(path), artifact_path="report")
            version = None
            if settings.register_as:
                client.log_artifacts(run_id, str(candidate.path), artifact_path=MODEL_ARTIFACT_PATH)
                version_tags = {"verdict": verdict, "report_digest": report_digest, "model_digest": candidate.digest}
                if git_sha:
                    version_tags["git_sha"] = git_sha
                version = _create_version(client, settings.register_as, mlflow_run, version_tags)
                client.set_tag(run_id, "registered_version", f"{settings.register_as}/{version}")
            status = "FINISHED"
        finally:
            client.set_terminated(run_id, status=status)
    except (MlflowException, OSError) as exc:
        raise service_error(uri, exc, "logging the gate run") from None
    return TrackingRecord(run_id=run_id, model_version=version, experiment_id=experiment_id, tracking_uri=display_uri(uri))


def _report_digest(report: dict, artifacts: list[Path]) -> str:
    """sha256 of report.json as written; of its canonical JSON when it was not written."""
    for path in artifacts:
        path = Path(path)
        if path.name == REPORT_JSON and path.is_file():
            return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return "sha256:" + hashlib.sha256(canonical_json(report).encode()).hexdigest()


def _gate_params(config: Config, report: dict, candidate: ResolvedModel) -> dict[str, Any]:
    models = report.get("models")
    baseline = models.get("baseline") if isinstance(models, dict) else None
    baseline = baseline if isinstance(baseline, dict) else {}
    params: dict[str, Any] = {
        "candidate.digest": candidate.digest,
        "candidate.source": candidate.source,
        "candidate.kind": candidate.kind,
        "baseline.digest": baseline.get("digest") or "none",
        "baseline.source": baseline.get("source") or "none",
    }
    eval_settings = config.eval
    params["eval.tasks"] = ",".join(t.label for t in eval_settings.tasks) or "none"
    for field in ("backend", "device", "dtype", "limit", "sampling", "num_fewshot", "batch_size", "seed", "max_gen_toks"):
        params[f"eval.{field}"] = getattr(eval_settings, field)
    params["gate.alpha"] = config.gate.alpha
    params["gate.on_inconclusive"] = config.gate.on_inconclusive
    for threshold in config.thresholds:
        bounds = [
            f"{name}={value}"
            for name in ("min", "max", "max_drop", "hard_max_drop")
            if (value := getattr(threshold, name)) is not None
        ]
        key = f"threshold.{threshold.metric}"
        # Two thresholds on one metric share a param: MLflow params are write-once.
        params[key] = f"{params[key]}; {' '.join(bounds)}" if key in params else " ".join(bounds)
    return params


def _number(value) -> float | None:
    if isinstance(value, dict):
        value = value.get("value")
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # NaN is not a metric


def _metric_rows(report: dict) -> list[tuple[str, dict]]:
    rows: list[tuple[str, dict]] = []
    for section in ("checks", "metrics"):
        value = report.get(section)
        if isinstance(value, dict):
            rows.extend((str(k), v) for k, v in value.items() if isinstance(v, dict))
        elif isinstance(value, list):
            named = (v for v in value if isinstance(v, dict) and (v.get("metric") or v.get("name")))
            rows.extend((str(v.get("metric") or v.get("name")), v) for v in named)
    return rows


def _gate_metrics(report: dict) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for name, row in _metric_rows(report):
        cand = _number(row.get("candidate"))
        base = _number(row.get("baseline"))
        delta = _number(row.get("delta"))
        if delta is None and cand is not None and base is not None:
            delta = cand - base
        extra = ((key, _number(row.get(key))) for key in ("ci_low", "ci_high", "p_value"))
        for prefix, value in (("candidate", cand), ("baseline", base), ("delta", delta), *extra):
            if value is not None:
                metrics.setdefault(f"{prefix}/{name}", value)
    return metrics


def _key(name: str) -> str:
    return _KEY_CHARS.sub("_", name)[:250]


def _param_value(value: Any) -> str:
    return str(value)[:_PARAM_MAX]
