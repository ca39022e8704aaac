"""Fixtures for the serve tests: small real models and a ready test client."""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.tiny_model import make_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random 1-layer Llama with the example's character tokenizer (~1 s to make)."""
    return make_tiny_model(tmp_path_factory.mktemp("serve") / "tiny")


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
