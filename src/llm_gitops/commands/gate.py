"""``llm-gitops gate``: evaluate candidate and baseline, decide, write and publish the report."""

from __future__ import annotations

import base64
import functools
import importlib
import json
import subprocess
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import click

from llm_gitops import __version__
from llm_gitops.cache import ResultCache, content_key, write_atomic
from llm_gitops.commands.eval import progress_printer, resolve_command_model
from llm_gitops.commands.options import config_option
from llm_gitops.commands.step_outputs import append_step_summary, write_step_outputs
from llm_gitops.config import load_config
from llm_gitops.config.schema import Config, Threshold
from llm_gitops.errors import ConfigError, LlmGitopsError
from llm_gitops.logsafe import redact
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.sidecar import Sidecar
from llm_gitops.timestamps import utc_timestamp
from llm_gitops.workspace import cache_dir

REPORT_MD, REPORT_JSON, CHART_PNG = "report.md", "report.json", "chart.png"
PERF_PREFIX = "perf/"


def git_sha(directory: Path) -> str | None:
    """HEAD of the git repository holding ``directory``, or None outside a repository."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = proc.stdout.strip()
    return sha if proc.returncode == 0 and sha else None


def _relative(threshold: Threshold) -> bool:
    return threshold.max_drop is not None or threshold.hard_max_drop is not None


@dataclass(frozen=True)
class _Plan:
    """What the gate will do, settled before any model is touched."""

    config: Config
    thresholds: tuple[Threshold, ...]  # those that will be checked
    needs_eval: bool
    needs_perf: bool
    notes: tuple[str, ...]


def plan_gate(config: Config, *, no_perf: bool) -> _Plan:
    """Validate the config for a gate run (no model is loaded); raise ConfigError."""
    from llm_gitops.gate.metrics import check_threshold_metrics

    if not config.thresholds:
        raise ConfigError(
            f"{config.where('thresholds')}: thresholds: none configured, so the gate has nothing to decide",
            hint="add e.g. '- {metric: TASK/METRIC, max_drop: 2pt}' under thresholds (see 'llm-gitops init')",
        )
    check_threshold_metrics(config)
    perf = [t for t in config.thresholds if t.metric.startswith(PERF_PREFIX)]
    notes = []
    thresholds = list(config.thresholds)
    perf_off = no_perf or not config.gate.perf
    if perf and perf_off:
        why = "--no-perf" if no_perf else "gate.perf is false"
        notes.append(f"perf thresholds not checked ({why}): {', '.join(t.metric for t in perf)}")
        thresholds = [t for t in thresholds if not t.metric.startswith(PERF_PREFIX)]
    return _Plan(
        config=config,
        thresholds=tuple(thresholds),
        needs_eval=any(not t.metric.startswith(PERF_PREFIX) for t in thresholds),
        needs_perf=bool(perf) and not perf_off,
        notes=tuple(notes),
    )


def _model_info(model: ResolvedModel | None, eval_results, perf_results):
    from llm_gitops.gate.outcome import ModelInfo

    if model is None:
        return None
    return ModelInfo(
        source=model.source,
        digest=model.digest,
        kind=model.kind,
        eval_cached=eval_results.cached if eval_results is not None else None,
        perf_cached=perf_results.cached if perf_results is not None else None,
        eval_cache_key=eval_results.cache_key if eval_results is not None else None,
        harness_version=eval_results.harness_version if eval_results is not None else None,
    )


@dataclass(frozen=True)
class RenderedGate:
    """A decided gate, rendered: what is written, printed, tracked and posted.

    Rendering (matplotlib) and deciding (scipy) are the slow imports of a gate run whose
    evals are cached, so a decision already made on the same inputs is reused whole.
    """

    verdict: str
    exit_code: int
    summary: str
    markdown: str  # report.md and $GITHUB_STEP_SUMMARY
    comment: str  # the PR/MR comment (adds Mermaid charts)
    text: str  # the terminal table
    json: str  # report.json
    png: bytes | None  # chart.png, None when there is nothing to draw
    decision_key: str | None = None  # key in the gate decision cache, None when not cacheable
    tracked: tuple[tuple[str, str], ...] = ()  # (git sha, MLflow run id) already logged for it

    @classmethod
    def from_outcome(cls, sidecar: Sidecar, outcome, decision_key: str | None = None) -> "RenderedGate":
        """Render ``outcome``; the chart is drawn by ``sidecar`` (where matplotlib is warm)."""
        from llm_gitops.report.chart import render_chart
        from llm_gitops.report.json_report import render_json
        from llm_gitops.report.markdown import render_markdown
        from llm_gitops.report.text import render_text

        return cls(
            verdict=outcome.verdict, exit_code=outcome.exit_code, summary=outcome.summary,
            markdown=render_markdown(outcome), comment=render_markdown(outcome, for_comment=True),
            text=render_text(outcome), json=render_json(outcome), png=sidecar.call(render_chart, outcome),
            decision_key=decision_key,
        )

    def to_cache(self) -> dict:
        data = {k: getattr(self, k) for k in ("verdict", "exit_code", "summary", "markdown", "comment", "text", "json")}
        data["png_b64"] = base64.b64encode(self.png).decode() if self.png is not None else None
        data["tracked"] = [list(pair) for pair in self.tracked]
        return data

    @classmethod
    def from_cache(cls, data: dict, decision_key: str) -> "RenderedGate":
        png = base64.b64decode(data["png_b64"]) if data.get("png_b64") else None
        return cls(verdict=data["verdict"], exit_code=int(data["exit_code"]), summary=data["summary"],
                   markdown=data["markdown"], comment=data["comment"], text=data["text"], json=data["json"], png=png,
                   decision_key=decision_key, tracked=tuple(tuple(pair) for pair in data.get("tracked", ())))


def write_reports(rendered: RenderedGate, output_dir: Path) -> tuple[Path, Path, Path | None]:
    """Write each report file atomically; returns the paths (the chart's is None when absent)."""
    md_path, json_path, png_path = output_dir / REPORT_MD, output_dir / REPORT_JSON, output_dir / CHART_PNG
    if rendered.png is not None:
        write_atomic(png_path, rendered.png)
    else:
        png_path.unlink(missing_ok=True)  # a chart from an earlier run would mislead
    write_atomic(md_path, rendered.markdown)
    write_atomic(json_path, rendered.json)
    return md_path, json_path, png_path if rendered.png is not None else None


@click.command("gate")
@config_option()
@click.option("--candidate", "candidate_src", default=None, metavar="SRC",
              help="Model under test: DIR (relative to the config file), models:/NAME/VERSION, models:/NAME@ALIAS "
                   "or dvc:PATH (default: models.candidate).")
@click.option("--baseline", "baseline_src", default=None, metavar="SRC",
              help="Model to compare with, same forms (default: models.baseline; without one, min/max are "
                   "checked and max_drop checks are inconclusive).")
@click.option("--report-to", type=click.Choice(["auto", "github", "gitlab", "none"]), default=None,
              help="Where to post the report (default: report.to, itself 'auto': the forge of the CI job, if any).")
@click.option("--output-dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Directory for report.md, report.json and chart.png (default: report.output_dir).")
@click.option("--output-env", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Append LLM_GITOPS_VERDICT=.. and LLM_GITOPS_REPORT=.. to this dotenv file (GitLab, Jenkins).")
@click.option("--no-cache", is_flag=True, help="Ignore and don't update the eval/bench result cache.")
@click.option("--no-perf", is_flag=True, help="Skip the benchmark; perf/* thresholds are reported as not checked.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Samples per task (overrides eval.limit).")
def command(config_path: Path | None, candidate_src: str | None, baseline_src: str | None, report_to: str | None,
            output_dir: Path | None, output_env: Path | None, no_cache: bool, no_perf: bool, limit: int | None) -> None:
    """Compare a candidate with thresholds and a baseline: pass, fail or inconclusive.

    Both models run the eval suite (cached by content) and, when perf thresholds exist,
    the benchmark. Each threshold is one check: min/max bound the candidate; max_drop
    tolerates a degradation vs the baseline. A larger drop fails when a paired test says
    it is significant at gate.alpha (or it exceeds hard_max_drop); otherwise the check is
    inconclusive, which never passes silently: gate.on_inconclusive decides its exit code.

    \b
    Writes report.md, report.json (schema llm-gitops/gate-report/v1) and chart.png,
    appends the report to $GITHUB_STEP_SUMMARY and verdict/report-path to $GITHUB_OUTPUT
    when those are set, logs the run to MLflow (tracking.mlflow) and posts the report
    as a pull/merge request comment (--report-to).

    \b
    Examples:
      llm-gitops gate
      llm-gitops gate --candidate ./model --baseline models:/adder@production
      llm-gitops gate --baseline dvc:model --limit 200 --report-to none
      llm-gitops gate --no-perf --output-dir out/ --output-env gate.env

    \b
    Exit codes: 0 pass (or inconclusive with on_inconclusive pass/neutral),
    1 fail (or inconclusive with on_inconclusive fail), 2 bad config, flag or model
    source (nothing is written) or a failed post to an explicit --report-to on a
    pass, 3 the evaluation itself failed (verdict 'error' is written to report.json)
    or an internal error.
    """
    started = time.perf_counter()
    say = progress_printer()
    config = load_config(config_path)
    if limit is not None:
        config = config.model_copy(update={"eval": config.eval.model_copy(update={"limit": limit})})
    plan = plan_gate(config, no_perf=no_perf)
    candidate_spec = candidate_src or config.models.candidate
    if candidate_spec is None:
        raise ConfigError(
            f"{config.where('models')}: models.candidate is not set and no --candidate was given",
            hint="pass --candidate DIR|models:/NAME@ALIAS|dvc:PATH or set models.candidate",
        )
    baseline_spec = baseline_src or config.models.baseline
    out_dir = output_dir.resolve() if output_dir is not None else config.resolve_path(config.report.output_dir)
    target = report_to or config.report.to

    # Bad sources are exit 2 before anything is measured or written.
    candidate = resolve_command_model(config, candidate_spec)
    say(f"gate: candidate {candidate.source} ({candidate.short_digest})")
    baseline = resolve_command_model(config, baseline_spec) if baseline_spec is not None else None
    if baseline is not None:
        say(f"gate: baseline {baseline.source} ({baseline.short_digest})")

    decisions = None if no_cache else ResultCache(cache_dir(config.base_dir), "gate")
    with Sidecar(_sidecar_warmups(config)) as sidecar:
        rendered = _measure_and_decide(plan, candidate, baseline, no_cache=no_cache, say=say, started=started,
                                       decisions=decisions, sidecar=sidecar)
        code = _write_publish_track(config, rendered, out_dir, output_env, target, candidate, say,
                                    decisions=decisions, sidecar=sidecar)
    click.echo(rendered.text, nl=False)
    if code:
        # SystemExit, not click's Exit: the entry point runs click with
        # standalone_mode=False, where click turns Exit into a discarded return value.
        raise SystemExit(code)


def _sidecar_warmups(config: Config) -> list:
    """What the helper process gets ready while the models are measured: the chart's
    matplotlib and, when tracking is on, MLflow with its store opened."""
    warmups = [functools.partial(importlib.import_module, name)
               for name in ("matplotlib.backends.backend_agg", "matplotlib.figure")]
    if config.tracking.mlflow.enabled:
        from llm_gitops.tracking.mlflow_tracking import open_client, resolve_tracking_uri

        warmups.append(functools.partial(open_client, resolve_tracking_uri(config)))
    return warmups


def _write_publish_track(config: Config, rendered: RenderedGate, out_dir: Path, output_env: Path | None, target: str,
                         candidate: ResolvedModel, say, *, decisions: ResultCache | None, sidecar: Sidecar) -> int:
    """Write the reports and step outputs, post, log to MLflow; returns the exit code."""
    md_path, json_path, png_path = write_reports(rendered, out_dir)
    say(f"gate: wrote {md_path}, {json_path}" + (f", {png_path}" if png_path else ""))

    append_step_summary(rendered.markdown)
    write_step_outputs(
        {"verdict": rendered.verdict, "report-path": str(md_path), "report-json": str(json_path)},
        {"LLM_GITOPS_VERDICT": rendered.verdict, "LLM_GITOPS_REPORT": str(md_path), "LLM_GITOPS_REPORT_JSON": str(json_path)},
        output_env,
    )

    # Post first: the reviewer's comment should not wait for MLflow's slow import.
    code = rendered.exit_code
    if target != "none":
        code = _publish(config, rendered, target, code, say)
    if rendered.verdict != "error" and config.tracking.mlflow.enabled:
        _track(config, rendered, [md_path, json_path] + ([png_path] if png_path else []), candidate, say,
               decisions=decisions, sidecar=sidecar)
    return code


def _decision_key(plan: _Plan, candidate: ResolvedModel, baseline: ResolvedModel | None,
                  results: dict[str, object]) -> str | None:
    """What decides the verdict: every measurement's cache key, the checks and the policy."""
    keys = {name: getattr(result, "cache_key", "") for name, result in results.items()}
    if not keys or not all(keys.values()):
        return None  # something was measured without a cache key: decide afresh
    config = plan.config
    return content_key({
        "llm_gitops": __version__,
        "measurements": keys,
        "thresholds": [t.model_dump(mode="json") for t in plan.thresholds],
        "gate": config.gate.model_dump(mode="json"),
        "notes": list(plan.notes),
        "candidate": [candidate.source, candidate.digest],
        "baseline": [baseline.source, baseline.digest] if baseline is not None else None,
    })


def _measure_and_decide(plan: _Plan, candidate: ResolvedModel, baseline: ResolvedModel | None, *, no_cache: bool,
                        say, started: float, decisions: ResultCache | None, sidecar: Sidecar) -> RenderedGate:
    # gate.policy (numpy, scipy) is imported only to decide: a reused decision needs neither.
    config = plan.config
    cache_root = None if no_cache else cache_dir(config.base_dir)
    timings: dict[str, float] = {}
    results: dict[str, object] = {}
    notes = list(plan.notes)
    if baseline is None and any(_relative(t) for t in plan.thresholds):
        notes.append("no baseline (models.baseline or --baseline): max_drop/hard_max_drop are not checked, "
                     "so those checks are inconclusive")
    if baseline is not None and baseline.digest == candidate.digest:
        notes.append(f"candidate and baseline are the same model ({candidate.short_digest})")
    settings = {
        "eval_tasks": [t.label for t in config.eval.tasks],
        "eval_limit": config.eval.limit,
        "eval_sampling": config.eval.sampling,
        "num_fewshot": config.eval.num_fewshot,
        "perf": plan.needs_perf,
        "cache": not no_cache,
    }
    common = dict(gate=config.gate, seed=config.eval.seed, settings=settings, version=__version__,
                  created_at=utc_timestamp())
    steps = []
    if plan.needs_eval:
        from llm_gitops.evaluation.runner import run_eval

        for role, model in (("candidate", candidate), ("baseline", baseline)):
            if model is not None:
                steps.append((role, "eval", lambda m=model: run_eval(m, config.eval, base_dir=config.base_dir,
                                                                      cache_root=cache_root, progress=say,
                                                                      on_miss=sidecar.start)))
    if plan.needs_perf:
        from llm_gitops.perf.bench import run_bench

        # A benchmark is timed: the helper is not started for it, and one warming up
        # since an eval is waited for, so that it takes no CPU from the measurement.
        for role, model in (("candidate", candidate), ("baseline", baseline)):
            if model is not None:
                steps.append((role, "perf", lambda m=model: run_bench(m, config.perf, cache_root=cache_root, progress=say,
                                                                        on_miss=sidecar.wait_ready)))
    for role, kind, step in steps:
        t0 = time.perf_counter()
        try:
            results[f"{role}_{kind}"] = step()
        except LlmGitopsError:
            raise  # a config-class problem (unknown task, unusable model): exit 2, nothing written
        except Exception as exc:  # noqa: BLE001 - a failed measurement is the verdict 'error'
            first = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
            click.echo(redact(traceback.format_exc()), err=True)
            timings[f"{role}_{kind}_s"] = time.perf_counter() - t0
            timings["total_s"] = time.perf_counter() - started
            from llm_gitops.gate.policy import error_outcome

            return RenderedGate.from_outcome(sidecar, error_outcome(
                f"the {role}'s {'evaluation' if kind == 'eval' else 'benchmark'} failed: {type(exc).__name__}: {first}",
                candidate_info=_model_info(candidate, results.get("candidate_eval"), results.get("candidate_perf")),
                baseline_info=_model_info(baseline, results.get("baseline_eval"), results.get("baseline_perf")),
                timings=timings, notes=tuple(notes), **common,
            ))
        timings[f"{role}_{kind}_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - started
    key = _decision_key(plan, candidate, baseline, results) if decisions is not None else None
    if key is not None:
        cached = decisions.get(key)
        if cached is not None:
            say("gate: same measurements, thresholds and policy as an earlier run: reusing its decision")
            return RenderedGate.from_cache(cached, key)
    say("gate: deciding")
    from llm_gitops.gate.policy import Measurements, decide

    outcome = decide(
        plan.thresholds,
        candidate=Measurements(eval=results.get("candidate_eval"), perf=results.get("candidate_perf")),
        baseline=None if baseline is None else Measurements(eval=results.get("baseline_eval"), perf=results.get("baseline_perf")),
        candidate_info=_model_info(candidate, results.get("candidate_eval"), results.get("candidate_perf")),
        baseline_info=_model_info(baseline, results.get("baseline_eval"), results.get("baseline_perf")),
        timings=timings, notes=tuple(notes), **common,
    )
    rendered = RenderedGate.from_outcome(sidecar, outcome, key)
    if key is not None:
        decisions.put(key, rendered.to_cache())
    return rendered


def _track(config: Config, rendered: RenderedGate, artifacts: list[Path], candidate: ResolvedModel, say, *,
           decisions: ResultCache | None, sidecar: Sidecar) -> None:
    """Log the run to MLflow. A tracking failure is a warning: the verdict stands."""
    from llm_gitops.tracking.mlflow_tracking import log_gate_run, resolve_tracking_uri, sqlite_path

    sha = git_sha(config.base_dir) or ""
    tracking_uri = resolve_tracking_uri(config)
    already = dict(rendered.tracked).get(f"{tracking_uri} {sha}")
    store = sqlite_path(tracking_uri)
    if already and (store is None or store.is_file()):
        # The same decision at the same commit is one run, however often CI re-runs it.
        say(f"gate: already logged as MLflow run {already}")
        return
    try:
        record = sidecar.call(log_gate_run, config, report=json.loads(rendered.json), artifacts=artifacts,
                              candidate=candidate, git_sha=sha or None)
    except LlmGitopsError as exc:
        click.echo(f"warning: the gate run was not logged to MLflow: {redact(str(exc))}", err=True)
        return
    registered = f", registered version {record.model_version}" if getattr(record, "model_version", None) else ""
    say(f"gate: logged MLflow run {record.run_id}{registered}")
    if decisions is not None and rendered.decision_key is not None:
        entry = decisions.get(rendered.decision_key)
        if entry is not None:
            entry["tracked"] = [*entry.get("tracked", []), [f"{tracking_uri} {sha}", record.run_id]]
            decisions.put(rendered.decision_key, entry)


def _publish(config: Config, rendered: RenderedGate, target: str, code: int, say) -> int:
    """Post the report; returns the exit code (a failed explicit post turns a pass into 2)."""
    from llm_gitops.forges.publish import publish_gate_report

    # The raw verdict goes to the forge: publish maps 'inconclusive' to a commit state
    # through the same gate.on_inconclusive policy that decided the exit code.
    try:
        result = publish_gate_report(markdown=rendered.comment, verdict=rendered.verdict, summary=rendered.summary,
                                     target=target, config=config)
    except LlmGitopsError as exc:
        click.echo(f"error: the report was not posted ({target}): {redact(str(exc))}", err=True)
        # An explicitly requested post that fails is a misconfiguration (exit 2), but it
        # never hides a failing verdict's own exit code.
        return exc.exit_code if (code == 0 and target != "auto") else code
    if result.posted:
        say(f"gate: report posted: {result.comment_url or result.reason}")
    else:
        say(f"gate: report not posted: {result.reason}")
    return code
