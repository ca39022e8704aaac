"""Graceful shutdown for real: a server process, requests in flight, then SIGTERM."""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest

from tests.serve.conftest import metric_value, serve_process

DRAIN_SECONDS = 1.5
MAX_TOKENS = 200  # ~1 s of generation each on this model; requests queue for the model


def test_sigterm_drains_then_finishes_in_flight_requests_and_exits_0(eos_free_model, tmp_path):
    log = tmp_path / "serve.log"
    # Generous request and graceful timeouts: this test is about draining, and a loaded CI
    # machine may take many times the usual second per request.
    args = ["--max-tokens", str(MAX_TOKENS), "--drain-seconds", str(DRAIN_SECONDS), "--color", "blue",
            "--request-timeout", "600", "--graceful-timeout", "600"]
    with serve_process(eos_free_model, log, *args) as (proc, base):
        with httpx.Client(base_url=base, timeout=60) as client:
            results: list[tuple[int, float]] = []

            def request():
                # A connection per request, as independent clients would have.
                with httpx.Client(base_url=base, timeout=60) as own:
                    r = own.post("/v1/completions", json={"prompt": "12+34=", "max_tokens": MAX_TOKENS, "temperature": 0})
                    results.append((r.status_code, time.monotonic(), r.json()["usage"]["completion_tokens"]))

            threads = [threading.Thread(target=request) for _ in range(2)]
            for t in threads:
                t.start()
            while metric_value(client.get("/metrics").text, "llm_gitops_requests_in_flight") < 3:  # 2 + this scrape
                time.sleep(0.02)

            proc.send_signal(signal.SIGTERM)
            draining = client.get("/readyz")
            drained_at = time.monotonic()
            assert draining.status_code == 503 and draining.json()["status"] == "draining"

            for t in threads:
                t.join(timeout=60)
        assert proc.wait(timeout=60) == 0, log.read_text()

    # Both requests were in flight when SIGTERM came, and both were answered in full.
    assert [status for status, _, _ in results] == [200, 200]
    assert [tokens for _, _, tokens in results] == [MAX_TOKENS, MAX_TOKENS]
    assert max(done for _, done, _ in results) > drained_at
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
    assert "Traceback" not in log.read_text()
