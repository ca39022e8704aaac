"""lm-eval model arguments for the backends that are given a path rather than an object.

The ``hf`` backend normally gets a loaded model object (``models.loader``), so that a
quantized artifact is evaluated exactly as it is served. Two cases hand lm-eval a
path and its model arguments instead:

* ``eval.backend: vllm``: lm-eval's ``vllm`` model (CUDA GPU runners);
* a LoRA/PEFT adapter on the ``hf`` backend: ``pretrained=BASE,peft=ADAPTER``, so
  lm-eval applies the adapter itself, as a team's own lm-eval run would.

Arguments are returned as a dict (lm-eval accepts one), so a path holding a comma or
an equals sign cannot split into two arguments.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError, MissingExtra
from llm_gitops.evaluation.placement import GPU_DOC, Placement
from llm_gitops.extras import VLLM_INSTALL
from llm_gitops.models.adapters import has_tokenizer
from llm_gitops.models.loaded import is_artifact


def require_vllm(placement: Placement, model_dir: Path | None = None) -> None:
    """vllm importable, a model it can load and a GPU to run it on, or a usage error saying what to do."""
    if model_dir is not None and is_artifact(model_dir):
        raise EvalError(
            f"eval.backend is 'vllm' but {model_dir} is a quantized llm-gitops artifact, which only the hf backend runs",
            hint="evaluate artifacts with eval.backend: hf (on the CPU), or give vLLM the unquantized model",
        )
    if importlib.util.find_spec("vllm") is None:
        raise MissingExtra("vllm", VLLM_INSTALL, "eval")
    if not placement.on_gpu:
        raise EvalError(
            "eval.backend is 'vllm' but the eval would run on the CPU (eval.device resolved to 'cpu')",
            hint=f"run on a CUDA GPU runner with eval.device: auto or cuda, or use backend 'hf' ({GPU_DOC})",
        )


def vllm_model_args(
    model_dir: Path, settings: EvalSection, placement: Placement, *, adapter_dir: Path | None = None
) -> dict[str, Any]:
    """lm-eval ``vllm`` model arguments; ``adapter_dir`` is a LoRA served by vLLM over ``model_dir``."""
    args: dict[str, Any] = {
        "pretrained": str(model_dir),
        "dtype": placement.dtype,
        "tensor_parallel_size": settings.vllm.tensor_parallel_size,
        "gpu_memory_utilization": settings.vllm.gpu_memory_utilization,
        "seed": settings.seed,
        "batch_size": "auto",
    }
    if settings.vllm.max_model_len is not None:
        args["max_model_len"] = settings.vllm.max_model_len
    if settings.max_gen_toks:
        args["max_gen_toks"] = settings.max_gen_toks
    if adapter_dir is not None:
        args["lora_local_path"] = str(adapter_dir)
    return args


def hf_peft_model_args(base_dir: Path, adapter_dir: Path, settings: EvalSection, placement: Placement) -> dict[str, Any]:
    """lm-eval ``hf`` model arguments that load ``base_dir`` and apply the adapter in ``adapter_dir``."""
    return {
        "pretrained": str(base_dir),
        "peft": str(adapter_dir),
        "tokenizer": str(adapter_dir if has_tokenizer(adapter_dir) else base_dir),
        "dtype": placement.dtype,
        "device": placement.device,
        "batch_size": settings.batch_size,
    }
