"""Which layers of a causal LM the methods touch, and the files every artifact needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _output_module(model: Any):
    getter = getattr(model, "get_output_embeddings", None)
    return getter() if getter is not None else None


def body_linears(model: Any) -> list[tuple[str, Any]]:
    """``nn.Linear`` layers other than the output head (the ones int8 kernels speed up).

    GPT-2-style models implement their projections as ``Conv1D``, so this is empty for
    them: quantizing "Linear" there would touch only the head.
    """
    from torch import nn

    head = _output_module(model)
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear) and m is not head]


def weight_matrices(model: Any) -> list[tuple[str, Any]]:
    """Projection layers (``nn.Linear`` or ``Conv1D``) outside the embeddings and head.

    Embeddings are tied to the head in most small models; pruning them would prune the
    output distribution too, so pruning stays in the transformer body.
    """
    from torch import nn

    try:
        from transformers.pytorch_utils import Conv1D
    except ImportError:  # a transformers without GPT-2's Conv1D
        Conv1D = nn.Linear  # noqa: N806
    head = _output_module(model)
    return [
        (name, m) for name, m in model.named_modules() if isinstance(m, (nn.Linear, Conv1D)) and m is not head
    ]


def save_tokenizer(src_dir: Path, out_dir: Path) -> None:
    """Copy the source's tokenizer into an artifact (as ``save_pretrained`` writes it)."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(src_dir).save_pretrained(out_dir)


def meta_model(src_dir: Path) -> Any:
    """The source's architecture with no weights (instant; enough to inspect layers)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(src_dir)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def canonicalize_safetensors(path: Path) -> None:
    """Rewrite a safetensors header with sorted keys, leaving the tensor bytes as they are.

    The format stores a JSON header before the data; writers that keep metadata in a
    hash map emit its keys in a different order on every run, so the same weights would
    get a new digest each time (and miss every cache). Offsets in the header are
    relative to the end of the header, so changing its length moves nothing.
    """
    import json
    import os
    import struct

    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(length))
        data_start = 8 + length
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the writer's own alignment: data starts on 8 bytes
    tmp = path.with_name(path.name + ".canonical")
    with path.open("rb") as src, tmp.open("wb") as dst:
        dst.write(struct.pack("<Q", len(text)))
        dst.write(text)
        src.seek(data_start)
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    os.replace(tmp, path)
