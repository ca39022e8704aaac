"""int8-weight-only, prune and distill: each writes an artifact that loads and behaves."""

from __future__ import annotations

import json

import pytest
import torch

from llm_gitops.errors import ConfigError
from llm_gitops.models.loader import load_model
from llm_gitops.quantize.artifact import build_artifact, load_artifact, verify_artifact
from llm_gitops.quantize.base import QuantizeParams
from llm_gitops.quantize.model_parts import weight_matrices


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_int8_weight_only_round_trips_and_plain_transformers_loads_it(tiny, tiny_dir, tmp_path, ids):
    artifact = build_artifact(tiny, tmp_path / "wo", "int8-weight-only", QuantizeParams())
    assert artifact.manifest["files"] == ["model.safetensors"]
    assert artifact.size_ratio < 0.9
    loaded = load_artifact(artifact.path)
    weight = loaded.model.model.layers[0].mlp.up_proj.weight
    assert "torchao" in type(weight).__module__  # really quantized, not fp32 again
    fp32 = load_model(tiny_dir).model
    diff = (_logits(loaded.model, ids) - _logits(fp32, ids)).abs().max()
    assert 0 < diff < 0.05
    loaded.model.tie_weights()  # lm-eval does this; it must not change the model
    assert torch.equal(_logits(loaded.model, ids), _logits(load_artifact(artifact.path).model, ids))
    again = build_artifact(tiny, tmp_path / "wo2", "int8-weight-only", QuantizeParams())
    assert again.digest == artifact.digest


@pytest.mark.parametrize("sparsity", [0.3, 0.5])
def test_prune_zeroes_the_requested_fraction_permanently(tiny, tmp_path, sparsity):
    artifact = build_artifact(tiny, tmp_path / "pruned", "prune", QuantizeParams(sparsity=sparsity))
    measured = artifact.manifest["measured"]["sparsity_pruned_layers"]
    assert measured == pytest.approx(sparsity, abs=0.005)
    assert artifact.manifest["parameters"]["sparsity"] == sparsity
    model = load_artifact(artifact.path).model
    names = {n for n, _ in model.named_parameters()}
    assert not any(n.endswith(("weight_orig", "weight_mask")) for n in names)  # pruning made permanent
    zeros = sum(int((m.weight == 0).sum()) for _, m in weight_matrices(model))
    total = sum(m.weight.numel() for _, m in weight_matrices(model))
    assert zeros / total == pytest.approx(measured, abs=1e-6)
    # The embeddings (tied to the head) are left alone.
    source = load_model(tiny.path).model
    assert torch.equal(model.model.embed_tokens.weight, source.model.embed_tokens.weight)
    assert verify_artifact(artifact.path).digest == artifact.digest


def test_distill_trains_a_smaller_student(tiny, tmp_path, sums_jsonl, ids):
    params = QuantizeParams(distill_dataset=sums_jsonl, distill_steps=30, distill_hidden_size=16, distill_layers=1)
    lines: list[str] = []
    artifact = build_artifact(tiny, tmp_path / "student", "distill", params, lines.append)
    m = artifact.manifest
    assert m["measured"]["final_loss"] < m["measured"]["initial_loss"]
    assert m["measured"]["student_params"] < m["measured"]["teacher_params"]
    assert m["parameters"]["steps"] == 30 and m["parameters"]["temperature"] == 2.0
    assert any("step 30/30" in line for line in lines)  # progress reached the caller
    loaded = load_artifact(artifact.path)
    assert loaded.model.config.hidden_size == 16 and loaded.model.config.num_hidden_layers == 1
    teacher = load_model(tiny.path)
    assert loaded.tokenizer.get_vocab() == teacher.tokenizer.get_vocab()
    assert _logits(loaded.model, ids).shape == _logits(teacher.model, ids).shape


def test_distill_without_dataset_fails_before_any_work(tiny, tmp_path):
    with pytest.raises(ConfigError, match="quantize.distill_dataset"):
        build_artifact(tiny, tmp_path / "out", "distill", QuantizeParams(distill_dataset=None))
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []


def test_distill_dataset_line_without_text_is_named(tiny, tmp_path):
    data = tmp_path / "bad.jsonl"
    data.write_text(json.dumps({"text": "12+34=046\n"}) + "\n" + json.dumps({"question": "1+1="}) + "\n")
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: expected an object with a string 'text' field"):
        build_artifact(tiny, tmp_path / "out", "distill", QuantizeParams(distill_dataset=data))
    assert not (tmp_path / "out").exists()
