"""``eval.backend: local-completions``: the example model served by ``llm-gitops serve`` on
loopback scores every document exactly as the same model loaded in-process; a server
that is down or answers garbage is a one-line usage error naming eval.endpoint."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.endpoint import PROBE_PROMPT, completions_url, served_target
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.evaluation.tasks import resolve_tasks
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from tests.corpus.harness import expect_clean_error, run_cli
from tests.serve.conftest import free_port, serve_process

pytestmark = pytest.mark.slow

TASKS = ["tasks/add_em.yaml", "tasks/add_mc.yaml"]


def settings(**extra) -> EvalSection:
    return EvalSection(tasks=TASKS, limit=30, sampling="random", seed=1234, batch_size=8, **extra)


@pytest.fixture(scope="module")
def served(example_models, tmp_path_factory):
    with serve_process(example_models.good, tmp_path_factory.mktemp("serve") / "serve.log") as (_, base):
        yield base


def test_served_and_in_process_scores_are_identical(example_models, served, tmp_path):
    model = ResolvedModel(example_models.good, model_digest(example_models.good), "good", "local")
    local = run_eval(model, settings(), base_dir=example_models.repo, cache_root=tmp_path)
    remote_settings = settings(backend="local-completions", endpoint=served)
    remote = run_eval(model, remote_settings, base_dir=example_models.repo, cache_root=tmp_path)
    assert set(remote.metrics) == set(local.metrics) == {"add_em/exact_match", "add_mc/acc"}
    for key, metric in local.metrics.items():
        got = remote.metrics[key]
        assert got.doc_ids == metric.doc_ids and len(got.doc_ids) == 30, key
        assert got.scores == metric.scores, key  # generate_until and multiple_choice alike
    assert local.metrics["add_em/exact_match"].value > 0.6  # the comparison is not of two blank models
    # llm-gitops serve reports the served digest: cached, under a key of its own.
    assert remote.model_digest == model.digest and remote.model_source == f"{served}/v1/completions"
    assert remote.cache_key and remote.cache_key != local.cache_key
    assert remote.settings["endpoint"]["backend"] == "local-completions"
    again = run_eval(model, remote_settings, base_dir=example_models.repo, cache_root=tmp_path)
    assert again.cached and again.metrics == remote.metrics


def test_eval_command_against_the_server(example_models, served, tmp_path):
    repo = tmp_path / "repo"
    (repo / "tasks").mkdir(parents=True)
    for task in ("add_em",):
        text = (example_models.repo / "tasks" / f"{task}.yaml").read_text()
        (repo / "tasks" / f"{task}.yaml").write_text(text.replace("../data/eval/", f"{example_models.data}/eval/"))
    (repo / ".llm-gitops.yaml").write_text(
        "version: 1\neval:\n  tasks: [tasks/add_em.yaml]\n  limit: 20\n  backend: local-completions\n"
        f"  endpoint: {served}/v1\n  tokenizer: {example_models.good}\n")
    run = run_cli(["eval", "--model", str(example_models.good), "--output", str(tmp_path / "out.json"), "--no-cache"],
                  cwd=repo, timeout_s=300)
    assert run.code == 0, run.err
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["model"]["source"] == f"{served}/v1/completions"
    assert len(data["metrics"]["add_em/exact_match"]["samples"]["scores"]) == 20


# --------------------------------------------------------------------------- bad servers
@contextmanager
def fake_server(routes: dict[str, tuple[int, bytes]]):
    """A loopback HTTP server answering each path with a fixed (status, body); 404 elsewhere."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            key = self.path + (":echo" if body.get("echo") else "")
            if body.get("prompt") not in (None, PROBE_PROMPT) and self.path + ":real" in routes:
                key = self.path + ":real"  # lm-eval's own requests, after the probe
            status, payload = routes.get(key) or routes.get(self.path) or (404, b'{"error": "not found"}')
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MODELS = (200, b'{"object": "list", "data": [{"id": "m"}]}')
COMPLETION = (200, b'{"choices": [{"text": "2", "index": 0}]}')
ECHO = (200, b'{"choices": [{"text": "1+1=2", "logprobs": {"tokens": ["1"], "token_logprobs": [null, -0.1]}}]}')

BAD_SERVERS = {
    "models-not-json": ({"/v1/models": (200, b"<html>hello</html>")}, "not JSON"),
    "models-500": ({"/v1/models": (500, b"boom")}, "HTTP 500"),
    "models-404": ({}, "HTTP 404"),
    "models-without-id": ({"/v1/models": (200, b'{"data": []}')}, "a model id"),
    "models-a-list": ({"/v1/models": (200, b"[1, 2]")}, "a model id"),
    "completion-garbage": ({"/v1/models": MODELS, "/v1/completions": (200, b'{"choices": "x"}')}, "choices[0].text"),
    "completion-503": ({"/v1/models": MODELS, "/v1/completions": (503, b'{"error": "loading"}')}, "HTTP 503"),
    "completion-huge": ({"/v1/models": MODELS, "/v1/completions": (200, b" " * (2 << 20))}, "more than 1 MiB"),
    "no-prompt-logprobs": ({"/v1/models": MODELS, "/v1/completions": COMPLETION},
                           "task 'add_mc' is multiple_choice, which needs the prompt's log-probabilities"),
}


def write_repo(root: Path, example_models, endpoint: str, tasks: list[str] = TASKS) -> Path:
    (root / "tasks").mkdir(parents=True)
    for task in ("add_em", "add_mc"):
        text = (example_models.repo / "tasks" / f"{task}.yaml").read_text()
        (root / "tasks" / f"{task}.yaml").write_text(text.replace("../data/eval/", f"{example_models.data}/eval/"))
    (root / ".llm-gitops.yaml").write_text(
        f"version: 1\neval:\n  tasks: {json.dumps(tasks)}\n  limit: 5\n  backend: local-completions\n"
        f"  endpoint: {endpoint}\n")
    return root


@pytest.mark.parametrize("name", sorted(BAD_SERVERS))
def test_a_server_that_answers_garbage_is_a_clean_error(name, example_models, tmp_path):
    routes, said = BAD_SERVERS[name]
    with fake_server(routes) as base:
        repo = write_repo(tmp_path / "repo", example_models, base)
        expect_clean_error(["eval", "--model", str(example_models.good), "--output", str(repo / "out.json")], cwd=repo,
                           culprit=["eval.endpoint", base, said], surface="endpoint", case=name)


@pytest.mark.parametrize("name, answer", [
    ("http-500", (500, b'{"error": "overloaded"}')),
    ("garbage", (200, b'{"choices": 7}')),
    ("not-json", (200, b"<html>")),
])
def test_a_server_that_fails_mid_run_is_a_clean_error(name, answer, example_models, tmp_path):
    """The probe passes, then lm-eval's own requests get a broken answer."""
    routes = {"/v1/models": MODELS, "/v1/completions": COMPLETION, "/v1/completions:real": answer}
    with fake_server(routes) as base:
        repo = write_repo(tmp_path / "repo", example_models, base, tasks=["tasks/add_em.yaml"])
        run = run_cli(["eval", "--model", str(example_models.good), "--output", str(repo / "out.json")], cwd=repo,
                      timeout_s=120)
    # Progress lines come first (the run had started); then one error line, and nothing written.
    # Exit 4, not 2: every input was checked (the probe passed), and a retry may succeed.
    assert run.code == 4 and "Traceback" not in run.err, run.err
    errors = [line for line in run.error_lines if not line.startswith("eval: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: eval.endpoint {base}: the server failed during the "
                                                     "evaluation"), run.err
    assert not (repo / "out.json").exists()


def test_a_server_that_is_down_is_a_clean_error(example_models, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    repo = write_repo(tmp_path / "repo", example_models, url)
    expect_clean_error(["eval", "--model", str(example_models.good)], cwd=repo,
                       culprit=["eval.endpoint", "Connection refused", "start the server"], surface="endpoint",
                       case="down")


def test_a_server_that_reports_no_digest_is_not_cached(example_models, tmp_path):
    suite = resolve_tasks(EvalSection(tasks=TASKS), base_dir=write_repo(tmp_path / "repo", example_models, "x"))
    with fake_server({"/v1/models": MODELS, "/v1/completions": COMPLETION, "/v1/completions:echo": ECHO}) as base:
        target = served_target(base, suite, tokenizer=None, model_dir=example_models.good, base_dir=tmp_path)
    assert target.key_part is None and target.endpoint.digest is None
    assert target.endpoint.model_digest.startswith("endpoint:")
    with fake_server({"/v1/models": MODELS, "/v1/completions": COMPLETION, "/v1/completions:echo": ECHO,
                      "/readyz": (200, b'{"digest": "sha256:abc"}')}) as base:
        one = served_target(base, suite, tokenizer=None, model_dir=example_models.good, base_dir=tmp_path)
        two = served_target(base + "/v1/completions", suite, tokenizer=None, model_dir=example_models.good,
                            base_dir=tmp_path)
    assert one.key_part and one.key_part == two.key_part and one.endpoint.model_digest == "sha256:abc"


def test_endpoint_forms():
    assert completions_url("http://h:1") == ("http://h:1", "http://h:1/v1/completions")
    assert completions_url("http://h:1/v1/") == ("http://h:1", "http://h:1/v1/completions")
    assert completions_url("http://h:1/p/v1/completions") == ("http://h:1/p", "http://h:1/p/v1/completions")


@pytest.mark.parametrize("body, said", [
    ("backend: local-completions", "needs the server's URL"),
    ("endpoint: http://127.0.0.1:1", "only used with backend: local-completions"),
    ("backend: local-completions\n  endpoint: ftp://x", "not an http(s) URL"),
])
def test_endpoint_config_errors(body, said, tmp_path):
    (tmp_path / ".llm-gitops.yaml").write_text(f"version: 1\neval:\n  {body}\n  tasks: [x.yaml]\n")
    expect_clean_error(["validate-config"], cwd=tmp_path, culprit=["eval.endpoint", said], surface="endpoint",
                       case=said)


def test_gate_refuses_two_sides_on_one_server(example_models, tmp_path):
    repo = write_repo(tmp_path / "repo", example_models, "http://127.0.0.1:1")
    with (repo / ".llm-gitops.yaml").open("a") as fh:
        fh.write("thresholds:\n  - {metric: add_em/exact_match, max_drop: 2pt}\n")
    expect_clean_error(["gate", "--candidate", str(example_models.good), "--baseline", str(example_models.good)],
                       cwd=repo, culprit=["eval.backend", "--baseline-results"], surface="endpoint", case="gate-both")


def test_gate_a_served_candidate_against_lm_eval_output(example_models, served, tmp_path):
    """The blue/green smoke eval: the preview colour's server against a baseline's lm-eval files."""
    from tests.evaluation.conftest import write_suite
    from tests.evaluation.lm_eval_output import write_lm_eval_output

    repo = write_suite(tmp_path / "repo", count=40)
    baseline = write_lm_eval_output(example_models.good, repo, TASKS, tmp_path / "base").parent
    (repo / ".llm-gitops.yaml").write_text(
        "version: 1\neval:\n  tasks: [tasks/add_em.yaml, tasks/add_mc.yaml]\n  backend: local-completions\n"
        f"  endpoint: {served}\n"
        "thresholds:\n  - {metric: add_em/exact_match, max_drop: 2pt}\n  - {metric: add_mc/acc, max_drop: 2pt}\n"
        "tracking: {mlflow: {enabled: false}}\nreport: {to: none}\n")
    run = run_cli(["gate", "--candidate", str(example_models.good), "--baseline-results", str(baseline)], cwd=repo,
                  timeout_s=300)
    assert run.code in (0, 1), run.err
    report = json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text())
    for check in report["checks"]:
        assert check["candidate"] == check["baseline"] and check["n"] == 40, check  # same model, same documents
    assert report["models"]["baseline"]["kind"] == "lm-eval-results"
