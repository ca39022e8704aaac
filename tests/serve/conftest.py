"""Fixtures for the serve tests: small real models, a ready test client, and a real
``llm-gitops serve`` process on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

import pytest

from tests.support.tiny_model import make_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random 1-layer Llama with the example's character tokenizer (~1 s to make)."""
    return make_tiny_model(tmp_path_factory.mktemp("serve") / "tiny")


def make_eos_free_model(out: Path) -> Path:
    """A random Llama without an EOS token (4 layers, 1024 positions): every completion runs
    to max_tokens, so how much work a request asks for is known (a random model could
    otherwise stop at once); ~5 ms per token on a CPU."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.support.tiny_model import make_tokenizer

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


@pytest.fixture(scope="session")
def eos_free_model(tmp_path_factory) -> Path:
    return make_eos_free_model(tmp_path_factory.mktemp("serve-long") / "long")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_process(model_dir: Path, log_path: Path, *args: str, timeout: float = 120) -> Iterator[tuple[subprocess.Popen, str]]:
    """``llm-gitops serve`` on a free loopback port, once /readyz answers 200: (process, base URL).

    Stopped by pid on exit (SIGKILL if still running: tests that check the graceful
    shutdown stop it themselves first).
    """
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "llm_gitops", "serve", "--model", str(model_dir), "--port", str(port), *args],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"server never became ready: {log_path.read_text()[-2000:]}"
            time.sleep(0.1)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def open_completion(base: str, body: dict) -> socket.socket:
    """Send a completion request on a raw socket and return it unread: closing it is a
    client that disconnects at a moment the test chooses."""
    host, port = base.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(data), data))
    return sock


def wait_for_metric(base: str, name: str, value: float, timeout: float = 60, **labels: str) -> str:
    """Poll /metrics until ``name{labels}`` equals ``value``; the scrape it saw."""
    deadline = time.monotonic() + timeout
    while True:
        text = httpx.get(f"{base}/metrics", timeout=10).text
        if metric_value(text, name, **labels) == value:
            return text
        assert time.monotonic() < deadline, f"{name}{labels} never reached {value}: {metric_value(text, name, **labels)}"
        time.sleep(0.02)


def wait_ready(client, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200 or response.json().get("status") == "failed":
            return response
        time.sleep(0.02)
    raise AssertionError(f"/readyz never turned 200 within {timeout}s: {response.json()}")


@contextmanager
def ready_client(model_dir: Path, **kwargs):
    """A TestClient (lifespan started) on a freshly created app, once /readyz answers."""
    from fastapi.testclient import TestClient

    from llm_gitops.serve.app import create_app

    with TestClient(create_app(model_dir, **kwargs)) as client:
        wait_ready(client)
        yield client


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text output (0 if the series is absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0
