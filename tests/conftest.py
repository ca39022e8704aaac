"""Session-wide test setup: offline Hugging Face, telemetry off, and the example model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# The engine fixtures (Podman Docker API, local registry, base image, wheelhouse), shared
# by the build and deploy tests: one engine per session.
pytest_plugins = ["tests.support.engine"]

# Nothing may reach a hub; everything is made locally.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HOME", os.path.join(tempfile.gettempdir(), "llm-gitops-tests-hf-home"))


def test_cache_root() -> Path:
    """Where tests keep what is expensive to make (trained models, base images)."""
    return Path(os.environ.get("LLM_GITOPS_TEST_CACHE", Path.home() / ".cache" / "llm-gitops-tests"))


test_cache_root.__test__ = False  # not a test

# The per-user cache (e.g. the empty MLflow store template) lives with the test cache.
os.environ.setdefault("LLM_GITOPS_CACHE_DIR", str(test_cache_root() / "user-cache"))


@pytest.fixture(scope="session")
def example_models(request):
    """The example repo's trained models (good and regressed), built once and cached."""
    from tests.support.example_models import ensure_example_models

    # A first build trains for minutes: let its progress lines reach the CI log.
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        return ensure_example_models()
