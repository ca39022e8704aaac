"""Fixtures for the CI-glue tests (marker `glue`)."""

from __future__ import annotations

import pytest

from tests.glue.real_cli import RecordingCli, recording_cli
from tests.glue.support import FakePython, make_fake_python


@pytest.fixture
def cli(tmp_path) -> RecordingCli:
    """The real llm-gitops of this checkout (installed by install.sh), recording its calls."""
    return recording_cli(tmp_path / "cli")


@pytest.fixture
def fake_python(tmp_path) -> FakePython:
    return make_fake_python(tmp_path / "fake-python")


@pytest.fixture(scope="session")
def glue_tiny_models(tmp_path_factory):
    """Candidate and baseline model dirs for the end-to-end gate runs (made once)."""
    from tests.glue.support import tiny_models

    return tiny_models(tmp_path_factory.mktemp("glue-models"))


@pytest.fixture
def gate_state_dir(tmp_path):
    """LLM_GITOPS_STATE_DIR shared by the runs of one test: the eval cache a CI cache would keep."""
    path = tmp_path / "state"
    path.mkdir()
    return path
