"""Broken model directories are refused before loading, with the path, the problem and the fix."""

from __future__ import annotations

import json
import struct

import pytest

from llm_gitops.errors import ModelSourceError
from llm_gitops.models.validate import validate_model_dir
from tests.support.tiny_model import tiny_model_copy


@pytest.fixture
def model(tmp_path):
    return tiny_model_copy(tmp_path / "model")


def refused(path, *needles):
    with pytest.raises(ModelSourceError) as excinfo:
        validate_model_dir(path)
    message = str(excinfo.value)
    assert "\n" not in message
    for needle in needles:
        assert needle in message, message
    return message


def test_a_saved_model_is_accepted(model):
    validate_model_dir(model)


def test_missing_path(tmp_path):
    refused(tmp_path / "nope", str(tmp_path / "nope"), "does not exist")


def test_a_file_is_not_a_model_dir(model):
    refused(model / "config.json", str(model / "config.json"), "not a model directory")


def test_empty_dir(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / ".gitkeep").write_text("")  # hidden files don't count
    refused(tmp_path / "empty", str(tmp_path / "empty"), "is empty", "save_pretrained")


def test_no_weights(model):
    (model / "model.safetensors").unlink()
    refused(model, str(model), "no weight files", "save_pretrained")


def test_no_config(model):
    (model / "config.json").unlink()
    refused(model, str(model), "no config.json")


def test_unparsable_config(model):
    (model / "config.json").write_text("{not json")
    refused(model, str(model / "config.json"), "not valid JSON")


def test_no_tokenizer(model):
    (model / "tokenizer.json").unlink()
    refused(model, str(model), "no tokenizer", "tokenizer.save_pretrained")


def test_truncated_safetensors(model):
    weights = model / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    refused(model, str(weights), "corrupt", "truncated")


def test_safetensors_with_garbage_header(model):
    weights = model / "model.safetensors"
    weights.write_bytes(b"\xff" * 64)
    refused(model, str(weights), "corrupt")


def test_safetensors_header_that_is_not_json(model):
    weights = model / "model.safetensors"
    weights.write_bytes(struct.pack("<Q", 4) + b"{{{{" + b"\0" * 16)
    refused(model, str(weights), "corrupt", "not JSON")


def test_safetensors_offsets_that_do_not_match_the_shape(model):
    header = json.dumps({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}).encode()
    weights = model / "model.safetensors"
    weights.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    refused(model, str(weights), "'w' has 8 bytes for shape [4] of F32")


def test_git_lfs_pointer(model):
    (model / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1\n")
    refused(model, "Git LFS pointer", "git lfs pull")


def test_bin_weights_that_are_not_a_torch_checkpoint(model):
    (model / "model.safetensors").unlink()
    (model / "pytorch_model.bin").write_text("hello")
    refused(model, str(model / "pytorch_model.bin"), "not a torch checkpoint")


def test_sharded_index_naming_a_missing_shard(model):
    (model / "model.safetensors").rename(model / "model-00001-of-00002.safetensors")
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    refused(model, "model-00002-of-00002.safetensors", "missing")


def test_custom_fix_is_named(model):
    (model / "model.safetensors").unlink()
    with pytest.raises(ModelSourceError, match="dvc push"):
        validate_model_dir(model, fix="dvc add DIR && dvc push")


def _artifact(model, manifest):
    import torch
    from safetensors.torch import load_file

    state = load_file(model / "model.safetensors")
    (model / "model.safetensors").unlink()
    torch.save(state, model / "model.pt")
    (model / "llm-gitops-artifact.json").write_text(json.dumps(manifest))
    return model


def test_artifact_dir_with_a_state_dict_is_accepted(model):
    validate_model_dir(_artifact(model, {"method": "int8-dynamic", "weights": "model.pt"}))


def test_artifact_dir_missing_what_its_manifest_names(model):
    _artifact(model, {"method": "int8-dynamic", "files": {"weights": "quantized.pt"}})
    refused(model, "quantized.pt", "llm-gitops-artifact.json", "missing")


def test_artifact_dir_with_a_corrupt_state_dict(model):
    _artifact(model, {"method": "int8-dynamic", "weights": "model.pt"})
    (model / "model.pt").write_bytes(b"PK\x03\x04 not really")
    refused(model, str(model / "model.pt"), "not a torch checkpoint")


def test_unreadable_manifest(model):
    (model / "llm-gitops-artifact.json").write_text("[oops")
    refused(model, "llm-gitops-artifact.json", "not valid JSON", "llm-gitops quantize")
