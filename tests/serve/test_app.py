"""The HTTP API on a real (tiny, random) model: validation, probes, metrics, decoding."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from llm_gitops.models.digest import model_digest
from llm_gitops.serve.generation import Generator
from llm_gitops.serve.protocol import Limits
from tests.serve.conftest import metric_value, ready_client, wait_ready


@pytest.fixture(scope="module")
def client(tiny_model):
    with ready_client(tiny_model, color="green", model_version="7", limits=Limits(max_prompt_chars=40, max_tokens=20)) as c:
        yield c


def _complete(client, **body):
    return client.post("/v1/completions", json={"prompt": "12+34=", **body})


def test_completion_has_the_openai_shape(client):
    response = _complete(client, max_tokens=5, temperature=0)
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-") and isinstance(body["created"], int)
    assert body["model"] == "tiny"
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["finish_reason"] in ("stop", "length")
    assert isinstance(choice["text"], str)
    usage = body["usage"]
    assert usage["prompt_tokens"] == 6  # one token per character
    assert 1 <= usage["completion_tokens"] <= 5
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_temperature_zero_is_greedy_and_repeatable(client):
    texts = {_complete(client, max_tokens=8, temperature=0).json()["choices"][0]["text"] for _ in range(3)}
    assert len(texts) == 1


def test_sampling_with_a_seed_is_repeatable_and_differs_from_other_seeds(client):
    def sample(seed):
        return _complete(client, max_tokens=12, temperature=2.0, seed=seed).json()["choices"][0]["text"]

    assert sample(1) == sample(1)
    assert len({sample(s) for s in range(2, 7)}) > 1  # a random model at T=2 does not repeat itself


def test_a_list_of_one_prompt_is_accepted(client):
    one = client.post("/v1/completions", json={"prompt": ["12+34="], "max_tokens": 4, "temperature": 0}).json()
    plain = _complete(client, max_tokens=4, temperature=0).json()
    assert one["choices"][0]["text"] == plain["choices"][0]["text"]


def test_stop_strings_cut_the_text_and_finish_with_stop(client):
    free = _complete(client, max_tokens=10, temperature=0).json()["choices"][0]["text"]
    assert free, "the random model produced nothing to cut"
    stop = free[2]  # a character the greedy continuation contains
    cut = _complete(client, max_tokens=10, temperature=0, stop=[stop]).json()["choices"][0]
    assert cut["text"] == free[: free.index(stop)]
    assert cut["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"prompt": "1", "max_tokens": 0}, 400, "max_tokens"),
        ({"prompt": "1", "max_tokens": 21}, 400, "max_tokens"),  # over the server's cap of 20
        ({"prompt": "1", "max_tokens": "many"}, 400, "max_tokens"),
        ({"prompt": "1", "temperature": -0.1}, 400, "temperature"),
        ({"prompt": "1", "temperature": 2.5}, 400, "temperature"),
        ({"prompt": "1", "n": 2}, 400, "n"),
        ({"prompt": "1", "stream": True}, 400, "stream"),
        ({"prompt": "1", "stop": ["a", "b", "c", "d", "e"]}, 400, "stop"),
        ({"prompt": "1", "max_tokenz": 3}, 400, "max_tokenz"),
        ({"prompt": ["1", "2"]}, 400, "prompt"),
        ({"prompt": []}, 400, "prompt"),
        ({"prompt": ""}, 400, "prompt"),
        ({"prompt": 12}, 400, "prompt"),
        ({"prompt": "9" * 41}, 400, "prompt"),  # over the 40-character cap
        ({"max_tokens": 3}, 400, "prompt"),
    ],
)
def test_bad_requests_get_openai_shaped_400s_naming_the_field(client, body, status, param):
    response = client.post("/v1/completions", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]


def test_context_length_is_enforced(tiny_model):
    # The tiny model has 64 positions: 44 prompt characters + 20 new tokens fit, 45 + 20 do not.
    with ready_client(tiny_model, limits=Limits(max_prompt_chars=100, max_tokens=50)) as client:
        assert _complete(client, prompt="1" * 44, max_tokens=20, temperature=0).status_code == 200
        over = _complete(client, prompt="1" * 45, max_tokens=20).json()["error"]
        assert over["code"] == "context_length_exceeded" and over["param"] == "max_tokens"
        assert "64" in over["message"]
        assert _complete(client, prompt="1" * 70, max_tokens=1).json()["error"]["param"] == "prompt"


def test_malformed_bodies_are_4xx_not_500(client):
    for content, ctype, status in [(b"{not json", "application/json", 400), (b"[1, 2]", "application/json", 400),
                                   (b"prompt=1", "text/plain", 415)]:
        response = client.post("/v1/completions", content=content, headers={"content-type": ctype})
        assert response.status_code == status, (content, response.text)
        assert response.json()["error"]["param"] is None


def test_unknown_routes_and_methods_are_openai_shaped(client):
    missing = client.get("/v1/chat/completion")
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"
    wrong_method = client.get("/v1/completions")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_models_route_lists_the_served_model(client):
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["tiny"]


def test_metrics_count_requests_tokens_and_describe_the_model(client, tiny_model):
    before = client.get("/metrics").text
    ok = [_complete(client, max_tokens=n, temperature=0).json() for n in (3, 4, 5)]
    client.post("/v1/completions", json={"prompt": "1", "n": 3})
    client.get("/no/such/path")
    after = client.get("/metrics").text

    def delta(name, **labels):
        return metric_value(after, name, **labels) - metric_value(before, name, **labels)

    route = "/v1/completions"
    assert delta("llm_gitops_requests_total", route=route, method="POST", status="200") == 3
    assert delta("llm_gitops_requests_total", route=route, method="POST", status="400") == 1
    assert delta("llm_gitops_requests_total", route="other", method="GET", status="404") == 1
    assert delta("llm_gitops_request_duration_seconds_count", route=route) == 4
    assert delta("llm_gitops_generated_tokens_total") == sum(r["usage"]["completion_tokens"] for r in ok)
    assert delta("llm_gitops_prompt_tokens_total") == sum(r["usage"]["prompt_tokens"] for r in ok)
    assert metric_value(after, "llm_gitops_ready") == 1
    info = dict(digest=model_digest(tiny_model), version="7", color="green", method="none")
    assert metric_value(after, "llm_gitops_model_info", **info) == 1


def test_readyz_waits_for_the_warmup_generation(tiny_model):
    from fastapi.testclient import TestClient

    from llm_gitops.models.loader import load_model
    from llm_gitops.serve.app import create_app

    gate = threading.Event()

    class GatedGenerator(Generator):
        def complete(self, *args, **kwargs):
            assert gate.wait(10)
            return super().complete(*args, **kwargs)

    with TestClient(create_app(tiny_model, generator=GatedGenerator(load_model(tiny_model)))) as client:
        time.sleep(0.2)  # the loader is now blocked in the warm-up generation
        assert client.get("/healthz").status_code == 200
        loading = client.get("/readyz")
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        early = client.post("/v1/completions", json={"prompt": "1"})
        assert early.status_code == 503 and early.json()["error"]["code"] == "model_not_ready"
        gate.set()
        assert wait_ready(client).status_code == 200


def test_draining_turns_readyz_503_but_keeps_serving(tiny_model):
    with ready_client(tiny_model) as client:
        client.app.state.serve.begin_drain()
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["status"] == "draining"
        assert client.post("/v1/completions", json={"prompt": "1", "max_tokens": 2}).status_code == 200
        assert metric_value(client.get("/metrics").text, "llm_gitops_ready") == 0


def test_a_model_that_fails_to_load_is_reported_by_the_probes(tiny_model, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    errors = []
    from fastapi.testclient import TestClient

    from llm_gitops.serve.app import create_app

    with TestClient(create_app(broken, on_load_error=errors.append)) as client:
        ready = wait_ready(client)
        assert ready.status_code == 503 and ready.json()["status"] == "failed"
        assert client.get("/healthz").status_code == 500
        assert client.post("/v1/completions", json={"prompt": "1"}).status_code == 503
    assert len(errors) == 1


def test_echo_with_max_tokens_0_scores_the_prompt_like_the_model_itself(client, tiny_model):
    import torch

    from llm_gitops.models.loader import load_model

    prompt = "12+34=046"
    body = client.post("/v1/completions", json={"prompt": prompt, "max_tokens": 0, "echo": True, "logprobs": 2}).json()
    [choice] = body["choices"]
    assert choice["text"] == prompt and body["usage"]["completion_tokens"] == 0
    lp = choice["logprobs"]
    assert lp["tokens"] == list(prompt) and lp["text_offset"] == list(range(len(prompt)))
    assert lp["token_logprobs"][0] is None and lp["top_logprobs"][0] is None

    loaded = load_model(tiny_model)
    ids = loaded.tokenizer(prompt)["input_ids"]
    with torch.inference_mode():
        logp = torch.log_softmax(loaded.model(torch.tensor([ids])).logits[0].float(), dim=-1)
    expected = [logp[i - 1, ids[i]].item() for i in range(1, len(ids))]
    assert lp["token_logprobs"][1:] == pytest.approx(expected, abs=1e-5)
    for position, top in enumerate(lp["top_logprobs"][1:], start=1):
        assert 2 <= len(top) <= 3 and top[prompt[position]] == lp["token_logprobs"][position]
        assert max(top.values()) == pytest.approx(logp[position - 1].max().item(), abs=1e-5)


def test_logprobs_without_echo_cover_the_generated_tokens(client):
    plain = _complete(client, max_tokens=6, temperature=0).json()["choices"][0]
    scored = _complete(client, max_tokens=6, temperature=0, logprobs=0).json()["choices"][0]
    assert scored["text"] == plain["text"] and plain["logprobs"] is None
    lp = scored["logprobs"]
    assert "".join(lp["tokens"]).startswith(scored["text"])
    assert lp["text_offset"][0] == len("12+34=")  # offsets count from the prompt's end, as OpenAI's do
    assert all(v <= 0 for v in lp["token_logprobs"]) and all(len(top) == 1 for top in lp["top_logprobs"])
    # Greedy decoding picks the most likely token, so each token is its position's best.
    echoed = _complete(client, max_tokens=6, temperature=0, logprobs=1, echo=True).json()["choices"][0]
    assert echoed["text"] == "12+34=" + plain["text"]
    for token, own, top in zip(echoed["logprobs"]["tokens"][6:], echoed["logprobs"]["token_logprobs"][6:],
                               echoed["logprobs"]["top_logprobs"][6:]):
        assert own == max(top.values()), (token, top)


@pytest.mark.parametrize("seed", [-(2**63), -1, 0, 2**63 - 1])
def test_every_seed_in_the_documented_range_is_accepted(client, seed):
    response = _complete(client, max_tokens=2, temperature=1.0, seed=seed)
    assert response.status_code == 200, response.text


def test_seed_out_of_range_is_a_400_naming_the_range(client):
    error = _complete(client, seed=1e26).json()["error"]
    assert error["param"] == "seed" and str(2**63 - 1) in error["message"]
    assert _complete(client, max_tokens=True).json()["error"]["param"] == "max_tokens"


def test_a_token_id_prompt_is_the_same_as_its_text(client, tiny_model):
    from llm_gitops.models.loader import load_model

    ids = load_model(tiny_model).tokenizer("12+34=")["input_ids"]
    text = _complete(client, max_tokens=5, temperature=0).json()["choices"][0]
    for prompt in (ids, [ids]):
        by_ids = client.post("/v1/completions", json={"prompt": prompt, "max_tokens": 5, "temperature": 0}).json()
        assert by_ids["choices"][0]["text"] == text["text"] and by_ids["usage"]["prompt_tokens"] == len(ids)
    echoed = client.post("/v1/completions", json={"prompt": ids, "max_tokens": 0, "echo": True, "logprobs": 0}).json()
    assert echoed["choices"][0]["text"] == "12+34=" and echoed["choices"][0]["logprobs"]["tokens"] == list("12+34=")
    outside = client.post("/v1/completions", json={"prompt": [1, 10**6]}).json()["error"]
    assert outside["param"] == "prompt" and "vocabulary" in outside["message"]
