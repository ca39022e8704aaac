"""prune: global L1 magnitude pruning of the transformer body, made permanent.

The smallest-magnitude weights across all projection layers (one global ranking, so
layers with many small weights give up more) are set to zero. The file keeps its dense
size - zeros compress well (gzip, registries) and sparse kernels can exploit them - but
the artifact is a plain Hugging Face directory any tool loads. Without fine-tuning,
30% costs about a point on the example; 50% costs far more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llm_gitops.models.loaded import LoadedModel, load_hf_dir
from llm_gitops.quantize.base import MethodReport, Progress, QuantizeParams
from llm_gitops.quantize.model_parts import save_tokenizer, weight_matrices


def measured_sparsity(model: Any) -> tuple[float, float]:
    """(fraction of zeros in the pruned layers, fraction of zeros in all parameters)."""
    layer_zeros = layer_total = 0
    for _, module in weight_matrices(model):
        layer_zeros += int((module.weight == 0).sum())
        layer_total += module.weight.numel()
    seen: set[int] = set()
    all_zeros = all_total = 0
    for param in model.parameters():
        if id(param) in seen:  # tied parameters count once
            continue
        seen.add(id(param))
        all_zeros += int((param == 0).sum())
        all_total += param.numel()
    return layer_zeros / max(layer_total, 1), all_zeros / max(all_total, 1)


class Prune:
    name = "prune"
    summary = "zero the smallest weights (global L1, quantize.sparsity); plain HF dir, compresses well"

    def applies_to(self, model: Any) -> str | None:
        if not weight_matrices(model):
            return "it has no Linear or Conv1D projection layers to prune"
        return None

    def check(self, params: QuantizeParams) -> None:
        return None

    def quantize(self, src_dir: Path, out_dir: Path, params: QuantizeParams, progress: Progress) -> MethodReport:
        import torch
        from torch.nn.utils import prune

        source = load_hf_dir(src_dir)
        model = source.model
        layers = weight_matrices(model)
        progress(f"{self.name}: zeroing {params.sparsity:.0%} of the weights of {len(layers)} layers (global L1)")
        targets = [(module, "weight") for _, module in layers]
        prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=params.sparsity)
        for module, name in targets:
            # Folds weight_orig * weight_mask into a plain weight, so the saved model
            # has the usual parameter names and no masks.
            prune.remove(module, name)
        with torch.no_grad():
            layer_sparsity, overall = measured_sparsity(model)
        progress(f"{self.name}: {layer_sparsity:.1%} of the pruned layers' weights are zero ({overall:.1%} overall)")
        model.save_pretrained(out_dir)
        save_tokenizer(src_dir, out_dir)
        files = tuple(sorted(p.name for p in out_dir.glob("*.safetensors")))
        return MethodReport(
            parameters={"sparsity": params.sparsity, "criterion": "global L1 magnitude", "scope": "projection layers"},
            files=files,
            measured={"sparsity_pruned_layers": round(layer_sparsity, 6), "sparsity_overall": round(overall, 6)},
        )

    def load(self, artifact_dir: Path, manifest: dict[str, Any]) -> LoadedModel:
        return load_hf_dir(artifact_dir, manifest=manifest)


QUANTIZER = Prune()
