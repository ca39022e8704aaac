"""Models and data the quantize tests share: a tiny random Llama, a GPT-2 (Conv1D) one,
and a small distillation dataset in the example's format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.tiny_model import make_tiny_model, make_tokenizer


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    """A random Llama (hidden 32, 2 layers, tied embeddings) with the example tokenizer."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model", hidden_size=32, layers=2)


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    """The tiny model as the sources layer resolves it (validated and digested)."""
    from llm_gitops.models.sources import resolve_model

    return resolve_model(str(tiny_dir), base_dir=tiny_dir.parent)


@pytest.fixture(scope="session")
def gpt2_dir(tmp_path_factory) -> Path:
    """A random GPT-2: its projections are Conv1D, which int8 Linear quantization skips."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    out = tmp_path_factory.mktemp("gpt2") / "model"
    tokenizer = make_tokenizer()
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=16, n_layer=1, n_head=2, n_positions=64)
    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def sums_jsonl(tmp_path_factory) -> Path:
    """Fixed-width sums as the example's train.jsonl writes them."""
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    rows = [{"text": f"{a:02d}+{b:02d}={a + b:03d}\n"} for a in range(0, 100, 3) for b in range(0, 100, 7)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def ids():
    """A batch of prompts in the tiny vocabulary ("12+34=", "07+45=")."""
    import torch

    tokenizer = make_tokenizer()
    return torch.tensor([tokenizer("12+34=")["input_ids"], tokenizer("07+45=")["input_ids"]])
