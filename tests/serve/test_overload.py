"""Bounded work on a real server process: a full queue sheds load with 429 + Retry-After,
a client that disconnects stops its generation (or leaves the queue), and a request
that runs out of time gets 504 with its generation stopped. Nothing is counted as
answered that was not."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.serve.conftest import metric_value, open_completion, ready_client, serve_process, wait_for_metric

MAX_TOKENS = 1000  # ~5 s of generation on this model: far longer than any test waits for it
LONG = {"prompt": "12+34=", "max_tokens": MAX_TOKENS, "temperature": 0}
ROUTE = "/v1/completions"


@pytest.fixture(scope="module")
def server(eos_free_model, tmp_path_factory):
    log = tmp_path_factory.mktemp("overload") / "serve.log"
    with serve_process(eos_free_model, log, "--max-queue", "1", "--max-tokens", str(MAX_TOKENS)) as (_, base):
        yield base, log
    assert "Traceback" not in log.read_text()


def _metrics(base: str) -> str:
    return httpx.get(f"{base}/metrics", timeout=10).text


def test_a_full_queue_answers_429_with_retry_after_and_disconnected_clients_free_the_model(server):
    base, _ = server
    running = open_completion(base, LONG)
    wait_for_metric(base, "llm_gitops_generation_active", 1)
    queued = open_completion(base, LONG)
    wait_for_metric(base, "llm_gitops_queue_depth", 1)

    refused = httpx.post(f"{base}{ROUTE}", json=LONG, timeout=30)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "queue_full"
    assert metric_value(_metrics(base), "llm_gitops_requests_rejected_total", reason="queue_full") == 1

    # The queued client leaves: it is out of the queue without a token generated for it.
    queued.close()
    text = wait_for_metric(base, "llm_gitops_queue_depth", 0)
    assert metric_value(text, "llm_gitops_generation_active") == 1
    assert metric_value(text, "llm_gitops_requests_cancelled_total", reason="client_gone") == 1
    assert metric_value(text, "llm_gitops_cancelled_generated_tokens_total") == 0

    # The running client leaves: its generation stops at the next decode step, long before max_tokens.
    running.close()
    wait_for_metric(base, "llm_gitops_requests_cancelled_total", 2, reason="client_gone")
    text = wait_for_metric(base, "llm_gitops_generation_active", 0)
    wasted = metric_value(text, "llm_gitops_cancelled_generated_tokens_total")
    assert 0 < wasted < MAX_TOKENS
    assert metric_value(text, "llm_gitops_decoded_tokens_total") == wasted  # every token made was for it
    time.sleep(0.5)
    after = _metrics(base)
    assert metric_value(after, "llm_gitops_decoded_tokens_total") == wasted  # and none after it left
    assert metric_value(after, "llm_gitops_generated_tokens_total") == 0  # nothing was answered
    assert metric_value(after, "llm_gitops_requests_total", route=ROUTE, method="POST", status="200") == 0
    assert metric_value(after, "llm_gitops_requests_total", route=ROUTE, method="POST", status="499") == 2

    # The model is free again: the next request is answered in full.
    ok = httpx.post(f"{base}{ROUTE}", json={"prompt": "12+34=", "max_tokens": 5, "temperature": 0}, timeout=60)
    assert ok.status_code == 200 and ok.json()["usage"]["completion_tokens"] == 5


def test_a_request_out_of_time_gets_504_and_its_generation_stops(eos_free_model):
    from llm_gitops.serve.protocol import Limits

    with ready_client(eos_free_model, limits=Limits(max_tokens=MAX_TOKENS), request_timeout=0.3) as client:
        response = client.post(ROUTE, json=LONG)
        assert response.status_code == 504, response.text
        assert response.json()["error"]["code"] == "request_timeout"
        text = client.get("/metrics").text
        assert metric_value(text, "llm_gitops_requests_cancelled_total", reason="timeout") == 1
        assert metric_value(text, "llm_gitops_generation_active") == 0  # stopped before the 504 was sent
        assert 0 < metric_value(text, "llm_gitops_cancelled_generated_tokens_total") < MAX_TOKENS
        assert metric_value(text, "llm_gitops_generated_tokens_total") == 0


def test_a_body_that_never_arrives_gets_408_without_touching_the_model(tiny_model):
    """A client trickling its body holds a connection, never the model, and not forever."""
    import asyncio

    with ready_client(tiny_model, request_timeout=0.3) as client:
        sent: list[dict] = []

        async def scenario():
            parts = [{"type": "http.request", "body": b'{"prompt": "1', "more_body": True}]

            async def receive():
                if parts:
                    return parts.pop()
                await asyncio.sleep(3600)  # the rest of the body never comes

            async def send(message):
                sent.append(message)

            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                     "scheme": "http", "path": ROUTE, "raw_path": ROUTE.encode(), "query_string": b"", "root_path": "",
                     "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
                     "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
            await asyncio.wait_for(client.app(scope, receive, send), 30)

        asyncio.run(scenario())
        assert sent[0]["status"] == 408
        assert json.loads(sent[1]["body"])["error"]["code"] == "request_timeout"
        assert metric_value(client.get("/metrics").text, "llm_gitops_generation_active") == 0
