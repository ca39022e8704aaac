"""Loading a model directory for inference: a plain Hugging Face dir or an llm-gitops
artifact (quantized / pruned / distilled, with a manifest).

``eval``, ``bench``, ``gate`` and ``serve`` all load through ``load_model`` so that an
artifact behaves the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ARTIFACT_MANIFEST = "llm-gitops-artifact.json"


@dataclass
class LoadedModel:
    model: Any  # a transformers PreTrainedModel (possibly quantized), in eval mode
    tokenizer: Any  # a transformers tokenizer
    manifest: dict | None  # the artifact manifest, None for a plain model dir
    # Whether lm-eval's HFLM may call tie_weights() on this model (dynamic-quantized
    # tied heads break when re-tied).
    retie_safe: bool = True


def is_artifact(path: Path) -> bool:
    return (Path(path) / ARTIFACT_MANIFEST).is_file()


def load_model(path: Path) -> LoadedModel:
    """Load ``path`` on CPU in float32 (or as its artifact manifest says)."""
    path = Path(path)
    if is_artifact(path):
        from llm_gitops.quantize.artifact import load_artifact

        return load_artifact(path)
    return load_hf_dir(path)


def load_hf_dir(path: Path, *, manifest: dict | None = None) -> LoadedModel:
    """Load a directory as ``save_pretrained`` wrote it (artifacts in that layout too)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    return LoadedModel(model=model, tokenizer=tokenizer, manifest=manifest)
