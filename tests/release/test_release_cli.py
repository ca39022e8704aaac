"""``llm-gitops release`` records the gated eval; ``deploy`` with a smoke eval refuses a
release that records none. Through the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llm_gitops.models.digest import model_digest
from llm_gitops.release.record import Release, load_release, write_release
from tests.corpus.harness import expect_clean_error, run_cli
from tests.evaluation.conftest import write_suite
from tests.support.tiny_model import make_tiny_model

DIGEST = "sha256:" + "ab" * 32
CONFIG = """\
version: 1
eval:
  tasks: [tasks/add_em.yaml, tasks/add_mc.yaml]
  limit: 8
  batch_size: 8
  max_gen_toks: 4
environments:
  staging:
    target: docker
    require_gate: false
    analysis:
      smoke_eval: {limit: 8}
"""


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture
def project(tmp_path, tiny_model) -> Path:
    root = write_suite(tmp_path / "repo", count=20)
    (root / ".llm-gitops.yaml").write_text(CONFIG)
    shutil.copytree(tiny_model, root / "model")
    (root / ".llm-gitops").mkdir()
    (root / ".llm-gitops" / "build.json").write_text(json.dumps({
        "reference": f"127.0.0.1:5000/adder@{DIGEST}", "model": {"digest": "sha256:" + "11" * 32, "source": "./model"},
        "recorded_at": "2026-12-02T10:00:00Z", "labels": {}}))
    (root / "deploy").mkdir()
    (root / "deploy" / "staging.yaml").write_text("version: 1\nrelease: null\n")
    return root


def gate_report(root: Path, *, digest: str | None = None, kind: str = "local") -> Path:
    path = root / "report.json"
    path.write_text(json.dumps({"verdict": "pass", "summary": "pass", "checks": [], "models": {"candidate": {
        "source": "./model", "digest": digest or model_digest(root / "model"), "kind": kind}}}))
    return path


@pytest.mark.slow
def test_release_records_the_gated_models_scores_on_the_first_documents(project):
    report = gate_report(project)
    run = run_cli(["release", "--gate-report", str(report), "--env", "staging"], cwd=project, timeout_s=300)
    assert run.code == 0, run.err
    release_id = run.out.strip()
    assert "recorded eval: 8 documents per task of add_em, add_mc" in run.err
    release = load_release(project / "deploy" / "releases", release_id)
    recorded = release.eval
    assert recorded.model_digest == model_digest(project / "model")
    assert recorded.settings["split_sizes"] == {"add_em": 20, "add_mc": 20} and recorded.settings["max_gen_toks"] == 4
    for key in ("add_em/exact_match", "add_mc/acc"):
        samples = recorded.metrics[key]["samples"]
        assert len(samples["doc_ids"]) == len(samples["scores"]) == 8
    # Recorded from the eval cache the second time: the same content, the same id.
    again = run_cli(["release", "--gate-report", str(report)], cwd=project, timeout_s=300)
    assert again.code == 0 and again.out.strip() == release_id and "cache hit" in again.err


@pytest.mark.parametrize("case, args, culprit", [
    ("another model", ["--gate-report", "report.json"], ["report.json", "the gate evaluated sha256:abababab"]),
    ("results, no model", ["--gate-report", "report.json"], ["lm-eval results", "--no-eval"]),
    ("too many documents", ["--gate-report", "report.json", "--eval-docs", "5000"], "--eval-docs 5000"),
])
def test_release_bad_input_is_a_clean_error(project, case, args, culprit):
    if case == "another model":
        gate_report(project, digest=DIGEST)
    else:
        gate_report(project, kind="lm-eval-results" if case == "results, no model" else "local")
    expect_clean_error(["release", *args], cwd=project, culprit=culprit, surface="release", case=case)


def test_deploy_with_a_smoke_eval_refuses_a_release_without_a_recorded_eval(project):
    release = Release(image=f"127.0.0.1:5000/adder@{DIGEST}", model_digest="sha256:" + "11" * 32,
                      model_source="./model", quantization="none", source_commit=None, built_at="", gate=None)
    write_release(release, project / "deploy" / "releases")
    (project / "deploy" / "staging.yaml").write_text(f"version: 1\nrelease: {release.id}\n")
    expect_clean_error(["deploy", "--env", "staging", "--forge", "none"], cwd=project, surface="deploy",
                       case="smoke eval, no recorded eval",
                       culprit=["environments.staging.analysis.smoke_eval", f"release {release.id} records no eval"])
