"""Loading a model directory for inference: a plain Hugging Face dir or an llm-gitops
artifact (quantized / pruned / distilled, with a manifest).

``eval``, ``bench``, ``gate`` and ``serve`` all load through ``load_model`` so that an
artifact behaves the same everywhere. The pieces it dispatches between live below it
(``models.loaded`` for a plain directory, ``quantize.artifact`` for an artifact), and
neither imports this module back.
"""

from __future__ import annotations

from pathlib import Path

from llm_gitops.errors import LlmGitopsError, ModelSourceError
from llm_gitops.gc_pause import import_libraries
from llm_gitops.models.loaded import ARTIFACT_MANIFEST, MODEL_LIBRARIES, LoadedModel, is_artifact, load_hf_dir

__all__ = ["ARTIFACT_MANIFEST", "LoadedModel", "is_artifact", "load_hf_dir", "load_model"]


def load_model(path: Path, *, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """Load ``path`` on ``device`` in ``dtype`` (an artifact: as its manifest says).

    ``device``/``dtype`` are the resolved ``eval.device``/``eval.dtype``; serve and bench
    use the CPU and float32 defaults. Quantized artifacts run on the CPU only.

    A directory that passed validation but still fails in transformers is a
    ``ModelSourceError`` naming it; what is not the directory's fault (out of memory, a
    missing package) propagates as it is.
    """
    path = Path(path)
    # Here too, not only in load_hf_dir: an artifact loads through its quantizer, not always by load_hf_dir.
    import_libraries(*MODEL_LIBRARIES)
    from llm_gitops.models.adapters import is_adapter, load_merged

    if is_adapter(path):  # bench and serve run an adapter merged into its base
        return load_merged(path, device=device, dtype=dtype)
    if is_artifact(path):
        if device != "cpu":
            raise ModelSourceError(
                f"{path} is a quantized llm-gitops artifact, which runs on the CPU only (eval.device is {device!r})",
                hint="set eval.device: cpu for artifacts, or evaluate the unquantized model on the GPU",
            )
        from llm_gitops.quantize.artifact import load_artifact

        return load_artifact(path)
    try:
        return load_hf_dir(path, device=device, dtype=dtype)
    except (LlmGitopsError, MemoryError, ImportError):
        raise
    except Exception as exc:  # noqa: BLE001 - transformers raises many types for a bad directory
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise ModelSourceError(
            f"{path} does not load with transformers' AutoModelForCausalLM ({type(exc).__name__}: {first})",
            hint="check that it is a causal LM saved with save_pretrained, and that transformers knows its model_type",
        ) from None
