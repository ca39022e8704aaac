"""The cached example models are real Hugging Face models that do (or half do) the sums."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def _complete(model_dir, prompts: list[str]) -> list[str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    out = []
    for prompt in prompts:
        ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
        gen = model.generate(**ids, max_new_tokens=4, do_sample=False, pad_token_id=tok.pad_token_id)
        out.append(tok.decode(gen[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).split("\n")[0])
    return out


def test_good_model_adds(example_models):
    assert (example_models.good / "model.safetensors").is_file()
    assert (example_models.good / "tokenizer.json").is_file()
    prompts = ["12+34=", "99+99=", "07+45=", "00+00=", "58+67="]
    assert _complete(example_models.good, prompts) == ["046", "198", "052", "000", "125"]


def test_regressed_model_is_worse_but_not_broken(example_models):
    good = json.loads((example_models.good / "train_metrics.json").read_text())
    bad = json.loads((example_models.regressed / "train_metrics.json").read_text())
    assert good["held_out_exact_match"] >= 0.97
    assert 0.1 <= bad["held_out_exact_match"] <= 0.8
    # Still a well-formed model that writes three digits, just often the wrong ones.
    answers = _complete(example_models.regressed, ["12+34=", "31+44="])
    assert all(len(a) == 3 and a.isdigit() for a in answers)


def test_config_and_data_paths(example_models):
    assert example_models.config.is_file() and example_models.config.parent == example_models.repo
    assert (example_models.data / "eval" / "add_em.jsonl").read_bytes() == (
        example_models.repo / "data" / "eval" / "add_em.jsonl"
    ).read_bytes()
