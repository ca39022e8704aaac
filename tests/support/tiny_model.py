"""A tiny random Hugging Face causal LM, made offline in about a second.

Tests that need *a* real model directory (sources, digests, registries, loaders) use
this instead of waiting for the trained example model: the weights are random, but the
directory is exactly what ``save_pretrained`` writes (config.json, model.safetensors,
tokenizer files), so every code path that reads a model dir sees the real layout.
"""

from __future__ import annotations

from pathlib import Path

# The example model's alphabet: digits and the characters of "12+34=046\n".
VOCAB_CHARS = list("0123456789+= \n")
SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def make_tokenizer():
    """A character-level fast tokenizer (one token per character)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + VOCAB_CHARS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def make_tiny_model(out_dir: Path, *, seed: int = 0, hidden_size: int = 16, layers: int = 1) -> Path:
    """Save a random Llama-style model and its tokenizer to ``out_dir``; return it.

    Same ``seed`` -> byte-identical weights, so tests can build two copies and compare
    digests; a different seed gives a different model.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out_dir = Path(out_dir)
    tokenizer = make_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=64,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


_BUILT: dict[tuple[int, int, int], Path] = {}


def tiny_model_copy(dest: Path, *, seed: int = 0, hidden_size: int = 16, layers: int = 1) -> Path:
    """A private copy of the tiny model at ``dest`` (tests may damage it freely).

    The model is built once per test process and per shape/seed, then copied: copying
    takes milliseconds where building takes about a second.
    """
    import atexit
    import shutil
    import tempfile

    key = (seed, hidden_size, layers)
    if key not in _BUILT or not _BUILT[key].is_dir():
        root = Path(tempfile.mkdtemp(prefix="llm-gitops-tiny-model-"))
        atexit.register(shutil.rmtree, root, True)
        _BUILT[key] = make_tiny_model(root / "model", seed=seed, hidden_size=hidden_size, layers=layers)
    shutil.copytree(_BUILT[key], dest)
    return Path(dest)
