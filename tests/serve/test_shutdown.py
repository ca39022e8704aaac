"""Graceful shutdown for real: a server process, requests in flight, then SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tests.serve.conftest import metric_value

DRAIN_SECONDS = 1.5
MAX_TOKENS = 200  # ~1 s of generation each on this model; requests queue behind one lock


@pytest.fixture(scope="module")
def eos_free_model(tmp_path_factory):
    """A random Llama without an EOS token: every completion runs to max_tokens, so a
    request's duration is predictable (a random model could otherwise stop at once)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.support.tiny_model import make_tokenizer

    out = tmp_path_factory.mktemp("serve-shutdown") / "long"
    tokenizer = make_tokenizer()
    tokenizer.eos_token = None
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=256, intermediate_size=512, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
        tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id, bos_token_id=None, eos_token_id=None,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_drains_then_finishes_in_flight_requests_and_exits_0(eos_free_model, tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_gitops", "serve", "--model", str(eos_free_model), "--port", str(port),
         "--max-tokens", str(MAX_TOKENS), "--drain-seconds", str(DRAIN_SECONDS), "--color", "blue"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 90
            while True:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server never became ready"
                time.sleep(0.1)

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
        assert proc.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()

    # Both requests were in flight when SIGTERM came, and both were answered in full.
    assert [status for status, _, _ in results] == [200, 200]
    assert [tokens for _, _, tokens in results] == [MAX_TOKENS, MAX_TOKENS]
    assert max(done for _, done, _ in results) > drained_at
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
