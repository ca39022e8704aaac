"""What a loaded model is, and how a plain Hugging Face directory loads.

The leaf of model loading: it imports nothing else of llm-gitops but the leaf
``gc_pause``, so the quantize methods (which load a directory and wrap the result) and
``models.loader`` (which dispatches between plain directories and artifacts) both build
on it without an import cycle between ``models`` and ``quantize``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_gitops.gc_pause import import_libraries

# The manifest file that makes a directory an llm-gitops artifact (``quantize.artifact``).
ARTIFACT_MANIFEST = "llm-gitops-artifact.json"


@dataclass
class LoadedModel:
    model: Any  # a transformers PreTrainedModel (possibly quantized), in eval mode
    tokenizer: Any  # a transformers tokenizer
    manifest: dict | None  # the artifact manifest, None for a plain model dir
    # Whether lm-eval's HFLM may call tie_weights() on this model (dynamic-quantized
    # tied heads break when re-tied).
    retie_safe: bool = True


# What a first ``from_pretrained`` imports: transformers' ``modeling_utils`` alone pulls in
# ~1,500 modules (torchao, kernels, sympy...). Imported up front by ``gc_pause.import_libraries``.
MODEL_LIBRARIES = ("torch", "transformers.modeling_utils", "transformers.models.auto.modeling_auto",
                   "transformers.models.auto.tokenization_auto")


def is_artifact(path: Path) -> bool:
    return (Path(path) / ARTIFACT_MANIFEST).is_file()


def load_hf_dir(path: Path, *, manifest: dict | None = None, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """Load a directory as ``save_pretrained`` wrote it (artifacts in that layout too).

    ``dtype`` is given to ``from_pretrained`` (an 8B model is never materialised in
    float32 on its way to bfloat16); the model then moves to ``device``.
    """
    import_libraries(*MODEL_LIBRARIES)  # the quantizers load their source model here, not by load_model
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    if device != "cpu":
        model.to(device)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    return LoadedModel(model=model, tokenizer=tokenizer, manifest=manifest)
