"""The gate against a served candidate (``eval.backend: local-completions``), through the
real ``llm-gitops gate`` and a real ``llm-gitops serve`` on loopback:

- the server must serve the candidate it is gated as: another model is exit 2 before
  anything is written, and a server that changes models between looks is caught;
- a server that breaks down mid-run is exit 4 (verdict ``error``), not a usage error;
- an endpoint with credentials or a query is refused in the config.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from llm_gitops.models.digest import model_digest
from tests.corpus.harness import expect_clean_error, run_cli, snapshot
from tests.serve.conftest import serve_process
from tests.support.loopback_http import json_server

pytestmark = pytest.mark.slow

TASKS = ["tasks/add_em.yaml", "tasks/add_mc.yaml"]


@pytest.fixture(scope="module")
def served(example_models, tmp_path_factory):
    with serve_process(example_models.good, tmp_path_factory.mktemp("serve") / "serve.log") as (_, base):
        yield base


@pytest.fixture(scope="module")
def baseline(example_models, tmp_path_factory):
    """A repo of 40 documents per task and lm-eval's own output of the good model on them."""
    from tests.evaluation.conftest import write_suite
    from tests.evaluation.lm_eval_output import write_lm_eval_output

    root = tmp_path_factory.mktemp("gate")
    repo = write_suite(root / "repo", count=40)
    results = write_lm_eval_output(example_models.good, repo, TASKS, root / "base").parent
    return repo, results


def configure(repo: Path, endpoint: str, *, sequential: str = "") -> None:
    (repo / ".llm-gitops.yaml").write_text(
        "version: 1\neval:\n  tasks: [tasks/add_em.yaml, tasks/add_mc.yaml]\n  backend: local-completions\n"
        f"  endpoint: {endpoint}\n{sequential}"
        "thresholds:\n  - {metric: add_em/exact_match, max_drop: 2pt}\n  - {metric: add_mc/acc, max_drop: 2pt}\n"
        "tracking: {mlflow: {enabled: false}}\nreport: {to: none}\n")


def test_a_server_serving_another_model_than_the_candidate_is_refused(example_models, served, baseline, tmp_path):
    repo, results = baseline
    configure(repo, served)
    before = snapshot(repo)
    run = run_cli(["gate", "--candidate", str(example_models.regressed), "--baseline-results", str(results)],
                  cwd=repo, timeout_s=300)
    assert run.code == 2, run.err
    [line] = [x for x in run.error_lines if not x.startswith("gate: ")]  # after the progress lines
    for said in ("error: eval.endpoint", f"serves {model_digest(example_models.good)[:19]}",
                 f"is {model_digest(example_models.regressed)[:19]}", "llm-gitops serve --model"):
        assert said in line, line
    assert snapshot(repo) == before  # no report, no cache entry


def proxy(upstream: str, answer):
    """A loopback proxy to ``upstream``; ``answer(method, path, prompt, upstream_answer)``
    returns the (status, body) to send instead, or None to pass the upstream's on."""

    def forward(method, path, body, _stopping):
        prompt = json.loads(body).get("prompt") if body else None
        real = httpx.request(method, upstream + path, content=body, timeout=120,
                             headers={"Content-Type": "application/json"})
        return answer(method, path, prompt, real) or (real.status_code, real.content)

    return json_server(forward)


def test_a_server_whose_model_changes_between_looks_is_caught(example_models, served, baseline, tmp_path):
    repo, results = baseline
    readyz = []

    def swapped_after_the_first_look(method, path, prompt, real):
        if path == "/readyz":
            readyz.append(1)
            if len(readyz) > 1:  # the model behind the URL is swapped during the gate
                return 200, json.dumps({**real.json(), "digest": "sha256:" + "cd" * 32}).encode()
        return None

    with proxy(served, swapped_after_the_first_look) as url:
        # Looks of 10, 20, 40 documents: the first cannot decide a 2pt drop, so a second look asks again.
        configure(repo, url, sequential="  limit: 10\n  sequential: true\n  max_limit: 40\n")
        run = run_cli(["gate", "--candidate", str(example_models.good), "--baseline-results", str(results),
                       "--no-cache"], cwd=repo, timeout_s=300)
    assert len(readyz) >= 2, run.err
    assert run.code == 2, run.err
    [line] = [x for x in run.error_lines if x.startswith("error:")]
    assert f"serves sha256:{'cd' * 6}" in line and f"is {model_digest(example_models.good)[:19]}" in line, line


def test_a_server_failing_mid_run_is_the_verdict_error_exit_4(example_models, served, baseline, tmp_path):
    from llm_gitops.evaluation.endpoint import PROBE_PROMPT

    repo, results = baseline

    def overloaded_after_the_probe(method, path, prompt, real):
        return (500, b'{"error": "overloaded"}') if method == "POST" and prompt not in (None, PROBE_PROMPT) else None

    with proxy(served, overloaded_after_the_probe) as url:
        configure(repo, url)
        run = run_cli(["gate", "--candidate", str(example_models.good), "--baseline-results", str(results),
                       "--no-cache", "--output-dir", str(tmp_path / "out")], cwd=repo, timeout_s=300)
    assert run.code == 4, run.err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "error"
    [line] = [x for x in run.error_lines if x.startswith("error:")]
    assert "the server failed during the evaluation" in line and "Traceback" not in run.err, run.err


@pytest.mark.parametrize("reports_digest", [True, False], ids=["digest reported", "no digest"])
def test_the_report_says_the_candidate_was_served(example_models, served, baseline, tmp_path, reports_digest):
    repo, results = baseline

    def without_readyz(method, path, prompt, real):
        return (404, b'{"error": "not found"}') if path == "/readyz" and not reports_digest else None

    with proxy(served, without_readyz) as url:
        configure(repo, url)
        run = run_cli(["gate", "--candidate", str(example_models.good), "--baseline-results", str(results),
                       "--output-dir", str(tmp_path / "out")], cwd=repo, timeout_s=300)
    assert run.code in (0, 1), run.err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["models"]["candidate"]["served_by"] == f"{url}/v1/completions"
    assert report["models"]["baseline"]["served_by"] is None
    # The server placed its model: the served side's device and dtype are not claimed, nor compared.
    assert report["models"]["candidate"]["device"] is report["models"]["candidate"]["dtype"] is None
    assert report["models"]["baseline"]["dtype"] == "float32" and not [n for n in report["notes"] if "precisions" in n]
    assert f"evaluated as served at `{url}/v1/completions`" in (tmp_path / "out" / "report.md").read_text()
    unchecked = [n for n in report["notes"] if "does not report the digest" in n]
    assert len(unchecked) == (0 if reports_digest else 1), report["notes"]


@pytest.mark.parametrize("endpoint, said, hidden", [
    ("http://alice:s3cretPW@127.0.0.1:1", "must not hold credentials", "s3cretPW"),
    ("http://127.0.0.1:1/v1?api_key=s3cretQ1", "must not carry a query", "s3cretQ1"),
])
def test_an_endpoint_with_credentials_or_a_query_is_refused(endpoint, said, hidden, tmp_path):
    (tmp_path / ".llm-gitops.yaml").write_text(
        f"version: 1\neval:\n  backend: local-completions\n  endpoint: {endpoint}\n  tasks: [x.yaml]\n")
    run = expect_clean_error(["validate-config"], cwd=tmp_path, culprit=["eval.endpoint", said], surface="endpoint",
                             case=said)
    assert hidden not in run.err


def test_a_tokenizer_without_a_served_backend_is_refused(tmp_path):
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\neval:\n  tokenizer: ./tok\n  tasks: [x.yaml]\n")
    expect_clean_error(["validate-config"], cwd=tmp_path, culprit=["eval.tokenizer", "backend: local-completions"],
                       surface="endpoint", case="tokenizer with hf")
