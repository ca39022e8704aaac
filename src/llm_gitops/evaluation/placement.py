"""Where an eval runs and in which dtype: ``eval.device`` and ``eval.dtype`` resolved.

``auto`` is resolved before the cache is consulted, because the resolved values are
part of the eval cache key: a bfloat16 run on a GPU and a float32 run on a CPU give
different numbers and must not answer for each other.

Resolving must stay cheap on the cache-hit path of a CPU runner, which imports no
torch: without an NVIDIA or AMD driver on the machine (no ``/proc/driver/nvidia``, no
``/dev/nvidia*``, no ``/dev/kfd``) there is no GPU to ask torch about. Only where a
driver exists does torch decide (and its import is paid there).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path

from llm_gitops.errors import EvalError

DTYPES = ("float32", "bfloat16", "float16")
GPU_DOC = "docs/gpu.md"


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda" or "cuda:N"
    dtype: str  # one of DTYPES

    @property
    def on_gpu(self) -> bool:
        return self.device.startswith("cuda")


def driver_present() -> bool:
    """Whether a GPU driver is on this machine (no torch import)."""
    return os.path.exists("/proc/driver/nvidia/version") or bool(glob.glob("/dev/nvidia[0-9]*")) or os.path.exists("/dev/kfd")


def cuda_devices() -> int:
    """CUDA (or ROCm) devices torch can use; 0 without a driver, without importing torch."""
    if not driver_present():
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_placement(device: str, dtype: str, model_dir: Path | None = None, *, gpus: int | None = None) -> Placement:
    """``eval.device``/``eval.dtype`` made concrete for this machine and model.

    ``gpus`` overrides the detected device count (tests). Raises ``EvalError`` when a
    CUDA device is asked for that this machine does not have.
    """
    if device == "cpu":
        resolved = "cpu"
    else:
        count = cuda_devices() if gpus is None else gpus
        if device == "auto":
            resolved = "cuda" if count else "cpu"
        else:
            index = int(device.split(":", 1)[1]) if ":" in device else 0
            if index >= count:
                seen = "no CUDA GPU" if not count else f"{count} CUDA GPU(s) (cuda:0..cuda:{count - 1})"
                raise EvalError(
                    f"eval.device is {device!r} but torch sees {seen} on this machine{_cpu_build_note()}",
                    hint=f"set eval.device: auto (or cpu), or run the job on a GPU runner ({GPU_DOC})",
                )
            resolved = device
    if dtype != "auto":
        return Placement(resolved, dtype)
    if resolved == "cpu":
        # Half precision on a CPU is slow and not what the model is served in there.
        return Placement(resolved, "float32")
    return Placement(resolved, config_dtype(model_dir) if model_dir is not None else "float32")


def config_dtype(model_dir: Path) -> str:
    """The dtype config.json says the weights were saved in (float32 when it says none)."""
    try:
        config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "float32"
    value = config.get("torch_dtype") or config.get("dtype") if isinstance(config, dict) else None
    return value if value in DTYPES else "float32"


def _cpu_build_note() -> str:
    """Say so when the installed torch is a CPU-only build (a common cause)."""
    if not driver_present():
        return " (no GPU driver found)"
    try:
        import torch
    except ImportError:
        return ""
    return f" (torch {torch.__version__} is a CPU-only build)" if torch.version.cuda is None and not torch.version.hip else ""
