"""``models.loader.load_model``: a directory that passed validation but does not load is a
clean ``ModelSourceError`` naming it, never a traceback from transformers."""

from __future__ import annotations

import pytest

from llm_gitops.errors import ModelSourceError
from llm_gitops.models import loaded, loader


def test_a_load_failure_names_the_directory_and_the_fix(tmp_path, monkeypatch):
    def refuse(path, **kwargs):
        raise ValueError("Unrecognized configuration class <class 'FooConfig'>\nmore detail")

    monkeypatch.setattr(loader, "load_hf_dir", refuse)
    with pytest.raises(ModelSourceError) as excinfo:
        loader.load_model(tmp_path)
    message = str(excinfo.value)
    assert str(tmp_path) in message and "ValueError: Unrecognized configuration class" in message
    assert "more detail" not in message and "AutoModelForCausalLM" in message


@pytest.mark.parametrize("error", [MemoryError(), ImportError("No module named 'torch'")])
def test_what_is_not_the_directorys_fault_is_not_blamed_on_it(tmp_path, monkeypatch, error):
    def fail(path, **kwargs):
        raise error

    monkeypatch.setattr(loader, "load_hf_dir", fail)
    with pytest.raises(type(error)):
        loader.load_model(tmp_path)


def test_the_loader_reexports_the_leaf_names():
    assert loader.ARTIFACT_MANIFEST == loaded.ARTIFACT_MANIFEST and loader.LoadedModel is loaded.LoadedModel
