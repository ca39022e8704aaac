"""Gate runs in a real MLflow sqlite store: params, metrics, tags, artifacts, model versions."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from llm_gitops.config import load_config
from llm_gitops.errors import ExternalServiceError
from llm_gitops.models.digest import model_digest
from llm_gitops.models.sources import resolve_model
from llm_gitops.tracking.mlflow_tracking import (
    TrackingRecord,
    display_uri,
    log_gate_run,
    register_model_dir,
    resolve_tracking_uri,
)
from tests.support.mlflow_store import empty_store
from tests.support.tiny_model import tiny_model_copy

CONFIG = """\
version: 1
models:
  candidate: ./candidate
  baseline: models:/adder@production
eval:
  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]
  limit: 50
thresholds:
  - metric: add_em/exact_match
    min: 0.5
    max_drop: 2pt
  - metric: perf/latency_p95_ms
    max: 250
tracking:
  mlflow:
{mlflow}
"""

# The shape of llm-gitops/gate-report/v1 (gate.outcome), trimmed to what tracking reads.
REPORT = {
    "schema": "llm-gitops/gate-report/v1",
    "verdict": "pass",
    "summary": "pass - all 3 checks passed",
    "models": {
        "candidate": {"digest": "sha256:cand", "source": "./candidate"},
        "baseline": {"digest": "sha256:base", "source": "models:/adder@production"},
    },
    "checks": [
        {"metric": "add_em/exact_match", "candidate": 0.82, "baseline": 0.80, "delta": 0.02,
         "ci_low": -0.01, "ci_high": 0.05, "p_value": 0.9, "verdict": "pass"},
        {"metric": "add_mc/acc", "candidate": 0.9, "baseline": 0.95, "delta": None, "verdict": "pass"},
        {"metric": "perf/latency_p95_ms", "candidate": 120.5, "baseline": None, "delta": None, "verdict": "pass"},
    ],
}


@pytest.fixture(autouse=True)
def _own_state_dir(monkeypatch):
    monkeypatch.delenv("LLM_GITOPS_STATE_DIR", raising=False)


def write_config(repo: Path, mlflow_lines: str):
    repo.mkdir(parents=True, exist_ok=True)
    path = repo / ".llm-gitops.yaml"
    path.write_text(CONFIG.format(mlflow=mlflow_lines))
    return load_config(path)


def write_report(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(REPORT, indent=2))
    (out / "report.md").write_text("## llm-gitops gate: pass\n")
    (out / "chart.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return [out / "report.md", out / "report.json", out / "chart.png"]


def client_for(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_tracking_uri_defaults_to_sqlite_in_the_state_dir(tmp_path):
    config = write_config(tmp_path / "repo", "    experiment: x")
    assert resolve_tracking_uri(config) == f"sqlite:///{tmp_path / 'repo' / '.llm-gitops' / 'mlflow.db'}"
    relative = write_config(tmp_path / "repo2", "    tracking_uri: stores/mlflow.db")
    assert resolve_tracking_uri(relative) == f"sqlite:///{tmp_path / 'repo2' / 'stores' / 'mlflow.db'}"
    remote = write_config(tmp_path / "repo3", "    tracking_uri: http://127.0.0.1:5000")
    assert resolve_tracking_uri(remote) == "http://127.0.0.1:5000"


def test_gate_run_with_registration(tmp_path):
    repo = tmp_path / "repo"
    config = write_config(repo, "    experiment: adder-gates\n    register_as: adder")
    # The default store's place, pre-made: a fresh store's migrations take many seconds.
    assert resolve_tracking_uri(config) == empty_store(repo / ".llm-gitops" / "mlflow.db")
    tiny_model_copy(repo / "candidate")
    candidate = resolve_model("./candidate", base_dir=repo)
    artifacts = write_report(repo / ".llm-gitops" / "reports")

    record = log_gate_run(config, report=REPORT, artifacts=artifacts, candidate=candidate, git_sha="abc123")

    assert isinstance(record, TrackingRecord) and record.model_version == "1"
    uri = resolve_tracking_uri(config)
    client = client_for(uri)
    run = client.get_run(record.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "adder-gates"
    # Artifacts live beside the store in the state dir, as the experiment was created.
    assert experiment.artifact_location == (repo / ".llm-gitops" / "mlartifacts").as_uri()
    assert run.info.status == "FINISHED"

    params = run.data.params
    assert params["candidate.digest"] == candidate.digest
    assert params["candidate.source"] == "./candidate"
    assert params["baseline.digest"] == "sha256:base"
    assert params["baseline.source"] == "models:/adder@production"
    assert params["eval.tasks"] == "tasks/add_mc.yaml,tasks/add_em.yaml"
    assert params["eval.limit"] == "50"
    assert params["threshold.add_em/exact_match"] == "min=0.5 max_drop=2pt"
    assert params["threshold.perf/latency_p95_ms"] == "max=250.0"

    metrics = run.data.metrics
    assert metrics["candidate/add_em/exact_match"] == pytest.approx(0.82)
    assert metrics["baseline/add_em/exact_match"] == pytest.approx(0.80)
    assert metrics["delta/add_em/exact_match"] == pytest.approx(0.02)
    assert metrics["ci_low/add_em/exact_match"] == pytest.approx(-0.01)
    assert metrics["p_value/add_em/exact_match"] == pytest.approx(0.9)
    assert metrics["delta/add_mc/acc"] == pytest.approx(-0.05)  # computed when absent
    assert metrics["candidate/perf/latency_p95_ms"] == pytest.approx(120.5)
    assert "baseline/perf/latency_p95_ms" not in metrics

    report_digest = "sha256:" + hashlib.sha256((artifacts[1]).read_bytes()).hexdigest()
    tags = run.data.tags
    assert tags["verdict"] == "pass" and tags["git_sha"] == "abc123"
    assert tags["summary"] == "pass - all 3 checks passed"
    assert tags["mlflow.source.git.commit"] == "abc123"
    assert tags["report_digest"] == report_digest
    assert tags["registered_version"] == "adder/1"

    logged = {a.path for a in client.list_artifacts(record.run_id, "report")}
    assert logged == {"report/report.md", "report/report.json", "report/chart.png"}

    version = client.get_model_version("adder", "1")
    assert version.run_id == record.run_id
    assert version.tags == {
        "git_sha": "abc123",
        "verdict": "pass",
        "report_digest": report_digest,
        "model_digest": candidate.digest,
    }
    # The registered candidate round-trips: same files, same digest.
    fetched = resolve_model("models:/adder/1", base_dir=tmp_path / "elsewhere", tracking_uri=uri)
    assert fetched.digest == candidate.digest == model_digest(repo / "candidate")


def test_gate_run_without_registration(tmp_path):
    repo = tmp_path / "repo"
    uri = empty_store(tmp_path / "store" / "mlflow.db")
    config = write_config(repo, f"    tracking_uri: {uri}")
    tiny_model_copy(repo / "candidate")
    candidate = resolve_model("./candidate", base_dir=repo)
    report = {"verdict": "fail", "checks": REPORT["checks"][:1]}

    record = log_gate_run(config, report=report, artifacts=[], candidate=candidate, git_sha=None)

    assert record.model_version is None
    client = client_for(uri)
    run = client.get_run(record.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "llm-gitops"
    assert run.data.tags["verdict"] == "fail" and "git_sha" not in run.data.tags
    assert run.data.params["baseline.digest"] == "none"
    # Without report.json on disk the digest covers the report document itself.
    assert run.data.tags["report_digest"].startswith("sha256:")
    assert client.search_registered_models() == []
    assert not (repo / ".llm-gitops" / "mlflow.db").exists()


def test_register_model_dir_refuses_a_broken_model(tmp_path):
    from llm_gitops.errors import ModelSourceError

    model = tiny_model_copy(tmp_path / "m")
    (model / "tokenizer.json").unlink()
    with pytest.raises(ModelSourceError, match="no tokenizer"):
        register_model_dir(f"sqlite:///{tmp_path / 'mlflow.db'}", "adder", model)


def test_unreachable_server_is_an_external_service_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(tmp_path / "repo", f"    tracking_uri: http://ci:tok3n-s3cret@127.0.0.1:{port}")
    tiny_model_copy(tmp_path / "repo" / "candidate")
    candidate = resolve_model("./candidate", base_dir=tmp_path / "repo")
    with pytest.raises(ExternalServiceError) as excinfo:
        log_gate_run(config, report=REPORT, artifacts=[], candidate=candidate, git_sha="abc")
    message = str(excinfo.value)
    assert f"MLflow tracking server http://127.0.0.1:{port} is unreachable" in message
    assert "tok3n-s3cret" not in message and "\n" not in message


def test_display_uri_drops_credentials():
    assert display_uri("https://user:pw-123456@mlflow.example:8443/path") == "https://mlflow.example:8443/path"
    assert display_uri("sqlite:////tmp/x/mlflow.db") == "sqlite:////tmp/x/mlflow.db"


def test_a_new_sqlite_store_is_seeded_from_a_migrated_template(tmp_path, monkeypatch):
    from llm_gitops.tracking.mlflow_tracking import open_client, seed_sqlite_store

    monkeypatch.setenv("LLM_GITOPS_CACHE_DIR", str(tmp_path / "user-cache"))
    db = tmp_path / "repo" / ".llm-gitops" / "mlflow.db"
    seed_sqlite_store(db)
    templates = list((tmp_path / "user-cache").glob("mlflow-empty-*.db"))
    assert len(templates) == 1 and db.read_bytes() == templates[0].read_bytes()
    client = open_client(f"sqlite:///{db}")
    experiment = client.create_experiment("gate", artifact_location=(tmp_path / "art").as_uri())
    assert client.get_experiment(experiment).name == "gate"
    before = db.read_bytes()
    seed_sqlite_store(db)  # an existing store is never replaced
    assert db.read_bytes() == before
    other = tmp_path / "other" / "mlflow.db"
    seed_sqlite_store(other)
    assert other.read_bytes() == templates[0].read_bytes()


# A fresh process (telemetry is decided when mlflow is first imported), outside CI and
# pytest as a user's laptop is: MLflow itself turns telemetry off under CI or pytest.
TELEMETRY_PROBE = """
import sys
from pathlib import Path
from llm_gitops.config import load_config
from llm_gitops.errors import LlmGitopsError
from llm_gitops.models.sources import resolve_model
from llm_gitops.tracking import mlflow_tracking as tracking

entry, repo = sys.argv[1], Path(sys.argv[2])
config = load_config(repo / ".llm-gitops.yaml")
candidate = resolve_model("./candidate", base_dir=repo)
assert "mlflow" not in sys.modules
if entry == "start_gate_run":
    tracking.start_gate_run(config, candidate=candidate, git_sha=None)
elif entry == "log_gate_run":
    tracking.log_gate_run(config, report={"verdict": "pass", "checks": []}, artifacts=[], candidate=candidate,
                          git_sha=None)
else:
    try:
        tracking.set_alias(config, "never-registered", 1, "production")
    except LlmGitopsError:
        pass
from mlflow.telemetry.client import get_telemetry_client
print("telemetry client:", get_telemetry_client())
"""


@pytest.mark.parametrize("entry", ["start_gate_run", "log_gate_run", "set_alias"])
def test_mlflow_telemetry_stays_off_whichever_call_imports_mlflow_first(tmp_path, entry):
    import os
    import subprocess
    import sys

    repo = tmp_path / "repo"
    write_config(repo, f"    tracking_uri: {empty_store(tmp_path / 'store' / 'mlflow.db')}")
    tiny_model_copy(repo / "candidate")
    keep = ("PATH", "HOME", "LANG", "LLM_GITOPS_CACHE_DIR", "LLM_GITOPS_TEST_CACHE", "HF_HOME")
    environ = {name: os.environ[name] for name in keep if name in os.environ}
    proc = subprocess.run([sys.executable, "-c", TELEMETRY_PROBE, entry, str(repo)], env=environ,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "telemetry client: None" in proc.stdout
