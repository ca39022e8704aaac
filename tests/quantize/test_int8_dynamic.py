"""int8-dynamic: artifact round trip, logits, re-tying, determinism."""

from __future__ import annotations

import copy
from importlib import metadata

import pytest
import torch
from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

from llm_gitops.models.loader import load_model
from llm_gitops.quantize.artifact import build_artifact, load_artifact, verify_artifact
from llm_gitops.quantize.base import QuantizeParams
from llm_gitops.quantize.int8_dynamic import WEIGHTS_FILE, quantize_module_tree


@pytest.fixture(scope="module")
def artifact(tiny, tmp_path_factory):
    return build_artifact(tiny, tmp_path_factory.mktemp("q") / "int8", "int8-dynamic", QuantizeParams())


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_manifest_describes_the_artifact(artifact, tiny):
    m = artifact.manifest
    assert m["schema"] == "llm-gitops/artifact/v1"
    assert m["method"] == "int8-dynamic"
    assert m["files"] == [WEIGHTS_FILE]
    assert m["source"]["digest"] == tiny.digest
    assert m["artifact"]["digest"].startswith("sha256:") and m["artifact"]["digest"] != tiny.digest
    assert 0 < m["artifact"]["size_bytes"] < m["source"]["size_bytes"]
    assert m["artifact"]["size_ratio"] == pytest.approx(m["artifact"]["size_bytes"] / m["source"]["size_bytes"], abs=1e-4)
    assert m["versions"]["torch"] == metadata.version("torch")
    assert m["versions"]["transformers"] and "torchao" in m["versions"]
    assert m["created_at"].endswith("Z")
    assert (artifact.path / "tokenizer.json").is_file()


def test_loaded_artifact_equals_a_freshly_quantized_model(artifact, tiny_dir, ids):
    fp32 = load_model(tiny_dir).model
    fresh = quantize_module_tree(copy.deepcopy(fp32))
    loaded = load_model(artifact.path)  # models.loader dispatches on the manifest
    assert loaded.manifest["method"] == "int8-dynamic"
    assert isinstance(loaded.model.model.layers[0].mlp.up_proj, DynamicLinear)
    assert isinstance(loaded.model.lm_head, DynamicLinear)
    assert torch.equal(_logits(loaded.model, ids), _logits(fresh, ids))
    # Close to fp32, but not the same model.
    diff = (_logits(loaded.model, ids) - _logits(fp32, ids)).abs().max()
    assert 0 < diff < 0.05


def test_retie_is_safe_and_a_no_op(artifact, ids):
    loaded = load_artifact(artifact.path)
    assert loaded.retie_safe is True
    before = _logits(loaded.model, ids)
    loaded.model.tie_weights()  # what lm-eval's HFLM calls
    assert torch.equal(_logits(loaded.model, ids), before)


def test_digest_is_stable_across_runs(artifact, tiny, tmp_path):
    again = build_artifact(tiny, tmp_path / "again", "int8-dynamic", QuantizeParams())
    assert again.digest == artifact.digest
    assert verify_artifact(again.path).digest == artifact.digest
