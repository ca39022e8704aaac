"""Fixtures for the CI-glue tests (marker `glue`)."""

from __future__ import annotations

import pytest

from tests.glue.support import FakeCli, FakePython, make_fake_cli, make_fake_python


@pytest.fixture
def fake_cli(tmp_path) -> FakeCli:
    return make_fake_cli(tmp_path / "fake-cli")


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
