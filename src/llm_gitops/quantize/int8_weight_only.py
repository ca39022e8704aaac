"""int8-weight-only: torchao's int8 weight-only quantization through transformers.

Weights are stored as int8 with per-row scales and dequantized on the fly, so accuracy
is the closest to fp32 of the int8 methods. On CPU eager it is slower than fp32 (no
fused kernel), so ``prefer: fastest`` will not pick it; it wins on size with zero loss.
The result is a regular ``save_pretrained`` directory whose ``config.json`` carries the
quantization config, so plain transformers (and lm-eval) load it too.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from llm_gitops.models.loaded import LoadedModel, load_hf_dir
from llm_gitops.quantize.base import MethodReport, Progress, QuantizeParams
from llm_gitops.quantize.model_parts import body_linears, canonicalize_safetensors, save_tokenizer


def _import_torchao_quietly() -> None:
    """Import torchao with its logger muted.

    On import torchao tries to load its CUDA kernel libraries and logs a warning for
    each one that a CPU-only torch cannot load; none of them is used here.
    """
    logger = logging.getLogger("torchao")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import torchao  # noqa: F401
    finally:
        logger.setLevel(level)


class Int8WeightOnly:
    name = "int8-weight-only"
    summary = "torchao int8 weights (per row), fp32 compute; smallest loss, not faster on CPU"

    def applies_to(self, model: Any) -> str | None:
        if not body_linears(model):
            return (
                "it has no nn.Linear layers outside the output head (GPT-2-style Conv1D projections), "
                f"so {self.name} would quantize nothing"
            )
        return None

    def check(self, params: QuantizeParams) -> None:
        return None

    def quantize(self, src_dir: Path, out_dir: Path, params: QuantizeParams, progress: Progress) -> MethodReport:
        import torch

        _import_torchao_quietly()
        from torchao.quantization import Int8WeightOnlyConfig
        from transformers import AutoModelForCausalLM, TorchAoConfig

        progress(f"{self.name}: loading with torchao Int8WeightOnlyConfig")
        model = AutoModelForCausalLM.from_pretrained(
            src_dir, dtype=torch.float32, quantization_config=TorchAoConfig(Int8WeightOnlyConfig())
        )
        layers = len(body_linears(model))
        progress(f"{self.name}: {layers} linear layers quantized; saving")
        model.save_pretrained(out_dir)
        save_tokenizer(src_dir, out_dir)
        files = tuple(sorted(p.name for p in out_dir.glob("*.safetensors")))
        for name in files:
            # torchao's per-tensor metadata comes out in a different order on every run.
            canonicalize_safetensors(out_dir / name)
        return MethodReport(
            parameters={"library": "torchao", "config": "Int8WeightOnlyConfig", "granularity": "per row"},
            files=files,
            measured={"quantized_linear_layers": layers},
        )

    def load(self, artifact_dir: Path, manifest: dict[str, Any]) -> LoadedModel:
        _import_torchao_quietly()
        return load_hf_dir(artifact_dir, manifest=manifest)


QUANTIZER = Int8WeightOnly()
