"""``eval.backend: local-completions``: the example model served by ``llm-gitops serve`` on
loopback scores every document exactly as the same model loaded in-process; a server
that is down, answers garbage or hangs, a URL of another API, and a tokenizer that splits
text otherwise than the served model are one-line errors naming the config field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError
from llm_gitops.evaluation import endpoint
from llm_gitops.evaluation.endpoint import PROBE_PROMPT, completions_url, served_target
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.evaluation.tasks import resolve_tasks
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from tests.corpus.harness import expect_clean_error, run_cli
from tests.serve.conftest import free_port, serve_process
from tests.support.loopback_http import json_server

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
    """--model (here another model) only gives the tokenizer: the served model is what the
    command prints, names its default results file by, and records."""
    repo = write_repo(tmp_path / "repo", example_models, f"{served}/v1", limit=20,
                      extra=f"  tokenizer: {example_models.good}\n")  # the right one: the check passes
    tokenizer_only = example_models.regressed
    served_digest = model_digest(example_models.good)
    assert model_digest(tokenizer_only) != served_digest
    run = run_cli(["eval", "--model", str(tokenizer_only), "--no-cache"], cwd=repo, timeout_s=300)
    assert run.code == 0, run.err
    short = served_digest.split(":")[1][:12]
    out = repo / ".llm-gitops" / "results" / f"eval-{short}.json"
    assert sorted(p.name for p in out.parent.iterdir()) == [out.name]
    assert f"model {served}/v1/completions ({served_digest[:19]})" in run.out.splitlines()
    assert str(tokenizer_only) not in run.out and f"wrote {out}" in run.out
    data = json.loads(out.read_text())
    assert data["model"] == {"digest": served_digest, "source": f"{served}/v1/completions"}
    for key in ("add_em/exact_match", "add_mc/acc"):
        assert len(data["metrics"][key]["samples"]["scores"]) == 20, key
    assert data["metrics"]["add_mc/acc"]["value"] > 0.6  # a wrong tokenizer scored 0.22 unchecked


def wrong_tokenizer(model_dir: Path, dest: Path) -> Path:
    """The model's tokenizer with one normalizer more (' + ' for '+'), as a reviewer wrote by
    mistake: it loads and encodes, but splits '50+13=' into 8 tokens instead of 6."""
    dest.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(model_dir / name, dest / name)
    spec = json.loads((dest / "tokenizer.json").read_text())
    assert spec["normalizer"] is None  # else this copy would not be the one-change copy it claims
    spec["normalizer"] = {"type": "Replace", "pattern": {"String": "+"}, "content": " + "}
    (dest / "tokenizer.json").write_text(json.dumps(spec))
    return dest


def test_a_tokenizer_that_splits_text_otherwise_is_refused(example_models, served, tmp_path):
    tokenizer = wrong_tokenizer(example_models.good, tmp_path / "tokenizer")
    repo = write_repo(tmp_path / "repo", example_models, served, extra=f"  tokenizer: {tokenizer}\n")
    line = (repo / ".llm-gitops.yaml").read_text().splitlines().index(f"  tokenizer: {tokenizer}") + 1
    run = expect_clean_error(["eval", "--model", str(example_models.good)], cwd=repo,
                             culprit=[f".llm-gitops.yaml:{line}: eval.tokenizer {tokenizer} does not tokenize like "
                                      "the served model", "task 'add_mc'",
                                      "point eval.tokenizer at the served model's directory"],
                             surface="endpoint", case="wrong-tokenizer")
    count = len(PROBE_PROMPT)  # the example's tokenizer has one token per character
    assert f"into {count} tokens, this tokenizer into {count + PROBE_PROMPT.count('+') * 2}" in run.err, run.err


# --------------------------------------------------------------------------- bad servers
HANG = None  # a route's answer: none, until the server stops


def fake_server(routes: dict[str, tuple[int, bytes] | None]):
    """A loopback HTTP server answering each path with a fixed (status, body), or ``HANG``; 404 elsewhere."""

    def answer(method, path, raw, stopping):
        body = json.loads(raw or b"{}") if raw else {}
        key = path + (":echo" if body.get("echo") else "")
        if body.get("prompt") not in (None, PROBE_PROMPT) and path + ":real" in routes:
            key = path + ":real"  # lm-eval's own requests, after the probe
        if key in routes and routes[key] is HANG:
            stopping.wait()
            return None
        return routes.get(key) or routes.get(path) or (404, b'{"error": "not found"}')

    return json_server(answer)


MODELS = (200, b'{"object": "list", "data": [{"id": "m"}]}')
COMPLETION = (200, b'{"choices": [{"text": "2", "index": 0}]}')


def echo(model_dir: Path, *, start: str | None = None) -> tuple[int, bytes]:
    """An echoed answer to the probe as a server with ``model_dir``'s tokenizer gives it: the
    prompt's tokens (after a ``start`` token it adds), then one generated token."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    pieces = [tokenizer.decode([i]) for i in tokenizer(PROBE_PROMPT, add_special_tokens=False)["input_ids"]]
    pieces = ([start] if start else []) + pieces + ["2"]
    logprobs = {"tokens": pieces, "token_logprobs": [None] + [-0.1] * (len(pieces) - 1),
                "top_logprobs": [None] + [{p: -0.1} for p in pieces[1:]]}
    return 200, json.dumps({"choices": [{"text": PROBE_PROMPT + "2", "logprobs": logprobs}]}).encode()

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


def write_repo(root: Path, example_models, endpoint: str, tasks: list[str] = TASKS, *, limit: int = 5,
               extra: str = "") -> Path:
    (root / "tasks").mkdir(parents=True)
    for task in ("add_em", "add_mc"):
        text = (example_models.repo / "tasks" / f"{task}.yaml").read_text()
        (root / "tasks" / f"{task}.yaml").write_text(text.replace("../data/eval/", f"{example_models.data}/eval/"))
    (root / ".llm-gitops.yaml").write_text(
        f"version: 1\neval:\n  tasks: {json.dumps(tasks)}\n  limit: {limit}\n  backend: local-completions\n"
        f"  endpoint: {endpoint}\n{extra}")
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


def test_a_server_that_hangs_after_the_probe_is_a_clean_error(example_models, tmp_path, monkeypatch):
    """lm-eval's client waits REQUEST_TIMEOUT_S per request (lowered here), not its own 300 s.

    Without the timeout in the model args this run hangs until run_cli's alarm: a failure."""
    monkeypatch.setattr(endpoint, "REQUEST_TIMEOUT_S", 1)
    routes = {"/v1/models": MODELS, "/v1/completions": COMPLETION, "/v1/completions:real": HANG}
    with fake_server(routes) as base:
        repo = write_repo(tmp_path / "repo", example_models, base, tasks=["tasks/add_em.yaml"])
        run = run_cli(["eval", "--model", str(example_models.good), "--output", str(repo / "out.json")], cwd=repo,
                      timeout_s=120)
    assert run.code == 4 and "Traceback" not in run.err, run.err  # as any failure mid-run
    errors = [line for line in run.error_lines if not line.startswith("eval: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: eval.endpoint {base}: the server failed during the "
                                                     "evaluation (ReadTimeout"), run.err
    assert "read timeout=1)" in errors[0] and not (repo / "out.json").exists()


def test_a_server_that_adds_a_start_token_is_refused(example_models, tmp_path):
    """The right tokenizer, but a server that puts BOS before text prompts: lm-eval's text
    requests would score every continuation one token off."""
    routes = {"/v1/models": MODELS, "/v1/completions": COMPLETION,
              "/v1/completions:echo": echo(example_models.good, start="<s>")}
    with fake_server(routes) as base:
        repo = write_repo(tmp_path / "repo", example_models, base)
        expect_clean_error(["eval", "--model", str(example_models.good)], cwd=repo,
                           culprit=[".llm-gitops.yaml:6: eval.endpoint", "start token ('<s>')", "task 'add_mc'",
                                    "eval.backend: hf"], surface="endpoint", case="start-token")


def test_a_server_that_reports_no_digest_is_not_cached(example_models, tmp_path):
    suite = resolve_tasks(EvalSection(tasks=TASKS), base_dir=write_repo(tmp_path / "repo", example_models, "x"))
    echoed = echo(example_models.good)
    with fake_server({"/v1/models": MODELS, "/v1/completions": COMPLETION, "/v1/completions:echo": echoed}) as base:
        target = served_target(base, suite, tokenizer=None, model_dir=example_models.good, base_dir=tmp_path)
    assert target.key_part is None and target.endpoint.digest is None
    assert target.endpoint.model_digest.startswith("endpoint:")
    with fake_server({"/v1/models": MODELS, "/v1/completions": COMPLETION, "/v1/completions:echo": echoed,
                      "/readyz": (200, b'{"digest": "sha256:abc"}')}) as base:
        one = served_target(base, suite, tokenizer=None, model_dir=example_models.good, base_dir=tmp_path)
        two = served_target(base + "/v1/completions", suite, tokenizer=None, model_dir=example_models.good,
                            base_dir=tmp_path)
    assert one.key_part and one.key_part == two.key_part and one.endpoint.model_digest == "sha256:abc"


def test_endpoint_forms():
    assert completions_url("http://h:1") == ("http://h:1", "http://h:1/v1/completions")
    assert completions_url("http://h:1/v1/") == ("http://h:1", "http://h:1/v1/completions")
    assert completions_url("http://h:1/p/v1/completions") == ("http://h:1/p", "http://h:1/p/v1/completions")
    assert completions_url("http://h:1/p/v1/models") == ("http://h:1/p", "http://h:1/p/v1/completions")


@pytest.mark.parametrize("path, said", [
    ("/v1/chat/completions", ["/v1/chat/completions is the chat API", "needs the completions API",
                              "use {base}/v1/completions"]),
    ("/p/v1/chat/completions/", ["is the chat API", "use {base}/p/v1/completions"]),
    ("/v1/embeddings", ["/v1/embeddings is not a completions server's URL",
                        "use the server's root http://HOST:PORT, its /v1 or its /v1/completions: e.g. {base}"]),
])
def test_endpoint_urls_of_other_apis_are_refused(path, said, example_models, tmp_path):
    """Refused as the config is read, by validate-config as by eval, before any request: no
    server listens on this port."""
    base = f"http://127.0.0.1:{free_port()}"
    repo = write_repo(tmp_path / "repo", example_models, base + path)
    culprit = [".llm-gitops.yaml:6: eval.endpoint:", *(s.format(base=base) for s in said)]
    for args in (["validate-config"], ["eval", "--model", str(example_models.good)]):
        expect_clean_error(args, cwd=repo, culprit=culprit, surface="endpoint", case=f"{args[0]} {path}")


@pytest.mark.parametrize("path, said", [
    ("/v1/chat/completions", "/v1/chat/completions is the chat API"),
    ("/v1/embeddings", "/v1/embeddings is not a completions server's URL"),
])
def test_endpoint_urls_no_config_holds_are_refused_too(path, said):
    """A URL handed to the probe by a command rather than read from a config (a preview colour's)."""
    with pytest.raises(EvalError) as caught:
        completions_url("http://127.0.0.1:1" + path)
    assert caught.value.message.startswith(f"eval.endpoint http://127.0.0.1:1{path}: {said}")
    assert caught.value.config_field == ("eval", "endpoint")


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
