"""LoRA/PEFT adapters as candidates: an adapter directory plus the base model it applies to.

An adapter (``adapter_config.json`` + ``adapter_model.safetensors``, as
``PeftModel.save_pretrained`` writes it) is resolved in three steps:

1. its own files are validated (``models.validate``: the layout, the weights' headers);
2. its base is resolved like any source: ``base`` in the source spec when given, else the
   adapter's ``base_model_name_or_path`` (a directory, relative to the adapter, or a
   Hugging Face Hub id, fetched as ``hf:ID``);
3. the adapter is checked against the base without loading either: every target module
   exists in the base's weights and each LoRA matrix fits the layer it adapts.

Its digest covers both (``sha256`` of the adapter's digest and the base's), so a new
base under the same adapter is a new model to the caches. What the rest of llm-gitops
loads is a *view* of the adapter in the llm-gitops cache: links to its files and an
``adapter_config.json`` naming the resolved base's directory, so that a path alone is
enough to load it (``load_merged``, used by ``models.loader`` for bench and serve) or to
evaluate it (lm-eval's ``hf`` model with ``pretrained=BASE,peft=VIEW``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llm_gitops.atomic_dir import fill_atomically
from llm_gitops.errors import ModelSourceError
from llm_gitops.models.digest import model_digest
from llm_gitops.models.loaded import LoadedModel, load_hf_dir
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.models.validate import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    check_weight_file,
    read_json_object,
    validate_adapter_layout,
)

HUB_PREFIX = "hf:"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# How PEFT names an adapted layer's matrices in the adapter's weights.
_LORA_TENSOR = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<which>[AB])(?:\.[^.]+)?\.weight$")

Resolve = Callable[[str], ResolvedModel]


def is_adapter(path: Path) -> bool:
    """Whether ``path`` is an adapter directory (an adapter config and no model config)."""
    path = Path(path)
    return (path / ADAPTER_CONFIG).is_file() and not (path / "config.json").exists()


def base_source(adapter_dir: Path, config: dict[str, Any], override: str | None) -> str:
    """The source string of the adapter's base model (see the module doc)."""
    if override:
        return override
    named = (config.get("base_model_name_or_path") or "").strip()
    if not named:
        raise ModelSourceError(
            f"{adapter_dir / ADAPTER_CONFIG} names no base model (base_model_name_or_path is empty)",
            hint="give it in the source spec: {source: ./adapter, base: ./base-model}",
        )
    local = adapter_dir / Path(named).expanduser()  # an absolute path stays as it is
    if local.exists() or local.is_symlink() or named.startswith((".", "/", "~")):
        return str(local)
    if named.startswith(HUB_PREFIX) or _HUB_ID.match(named):
        return named if named.startswith(HUB_PREFIX) else f"{HUB_PREFIX}{named}"
    return str(local)  # validation of the base says it does not exist


def resolve_adapter(adapter_dir: Path, label: str, *, override: str | None, resolve: Resolve, view_root: Path) -> ResolvedModel:
    """The adapter in ``adapter_dir`` with its base resolved by ``resolve``; see the module doc.

    ``view_root`` is the cache directory the adapter's view is written under.
    """
    adapter_dir = Path(adapter_dir)
    config = validate_adapter_layout(adapter_dir)
    base = resolve(base_source(adapter_dir, config, override))
    if base.base is not None:
        raise ModelSourceError(
            f"{adapter_dir}: its base {base.source} is itself an adapter", hint="merge that adapter into its base first"
        )
    check_against_base(adapter_dir, config, base.path)
    adapter_digest = model_digest(adapter_dir)
    digest = "sha256:" + hashlib.sha256(f"adapter\0{adapter_digest}\0{base.digest}".encode()).hexdigest()
    view = _write_view(adapter_dir, config, base.path, view_root / digest.split(":", 1)[1][:32])
    return ResolvedModel(path=view, digest=digest, source=f"{label} (base {base.source})", kind="adapter", base=base)


def check_against_base(adapter_dir: Path, config: dict[str, Any], base_dir: Path) -> None:
    """Every target module is in the base, and each LoRA matrix fits the layer it adapts."""
    where = adapter_dir / ADAPTER_CONFIG
    base_shapes: dict[str, list[int]] = {}
    for weight in _base_weights(base_dir):
        base_shapes.update(check_weight_file(weight) or {})
    if not base_shapes:
        return  # torch checkpoints (.bin): no header to read without torch; loading will tell
    modules = {name[: -len(".weight")] for name in base_shapes if name.endswith(".weight")}
    targets = config.get("target_modules")
    if isinstance(targets, str):
        pattern = re.compile(targets)
        if not any(pattern.fullmatch(m) for m in modules):
            raise ModelSourceError(
                f"{where}: target_modules {targets!r} matches no layer of the base model {base_dir}",
                hint="train the adapter on this base, or point 'base' at the model it was trained on",
            )
    elif isinstance(targets, list):
        missing = [t for t in targets if not any(m == t or m.endswith(f".{t}") for m in modules)]
        if missing:
            raise ModelSourceError(
                f"{where}: target module(s) {', '.join(missing)} not in the base model {base_dir}",
                hint="train the adapter on this base, or point 'base' at the model it was trained on",
            )
    adapter_file = adapter_dir / "adapter_model.safetensors"
    if not adapter_file.is_file():
        return
    for name, shape in (check_weight_file(adapter_file) or {}).items():
        match = _LORA_TENSOR.match(name)
        if not match or len(shape) != 2:
            continue
        layer = base_shapes.get(f"{match.group('module')}.weight")
        if layer is None or len(layer) != 2:
            continue
        out_features, in_features = layer
        fits = shape[1] == in_features if match.group("which") == "A" else shape[0] == out_features
        if not fits:
            raise ModelSourceError(
                f"{adapter_file}: {name} has shape {shape}, which does not fit the base's "
                f"{match.group('module')} of shape {layer} ({base_dir})",
                hint="the adapter was trained on another base model: point 'base' at that one",
            )


def _base_weights(base_dir: Path) -> list[Path]:
    return sorted(Path(base_dir).glob("*.safetensors"))


def _write_view(adapter_dir: Path, config: dict[str, Any], base_dir: Path, view: Path) -> Path:
    """Links to the adapter's files and a config naming the resolved base (written atomically)."""
    wanted = dict(config, base_model_name_or_path=str(base_dir))
    if view.is_dir():
        try:
            if read_json_object(view / ADAPTER_CONFIG, "") == wanted and all(
                (view / n).resolve() == (adapter_dir / n).resolve() for n in _adapter_files(adapter_dir)
            ):
                return view
        except (ModelSourceError, OSError):
            pass
        shutil.rmtree(view, ignore_errors=True)

    def fill(tmp: Path) -> None:
        for name in _adapter_files(adapter_dir):
            os.symlink((adapter_dir / name).resolve(), tmp / name)
        (tmp / ADAPTER_CONFIG).write_text(json.dumps(wanted, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    return fill_atomically(view, fill)


def _adapter_files(adapter_dir: Path) -> list[str]:
    return sorted(p.name for p in adapter_dir.iterdir() if p.is_file() and p.name != ADAPTER_CONFIG and not p.name.startswith("."))


def base_dir_of(view: Path) -> Path:
    """The base model directory an adapter (view) names."""
    config = read_json_object(Path(view) / ADAPTER_CONFIG, "re-resolve the adapter")
    return Path(view) / Path(config.get("base_model_name_or_path") or "").expanduser()


def has_tokenizer(path: Path) -> bool:
    return any((Path(path) / name).is_file() for name in ("tokenizer.json", "tokenizer.model", "vocab.json"))


def load_merged(view: Path, *, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """The base with the adapter merged into its weights (what bench and serve run)."""
    from peft import PeftModel

    base = load_hf_dir(base_dir_of(view), device=device, dtype=dtype)
    model = PeftModel.from_pretrained(base.model, str(view)).merge_and_unload()
    model.eval()
    tokenizer = base.tokenizer
    if has_tokenizer(view):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(view)
    return LoadedModel(model=model, tokenizer=tokenizer, manifest=None)


__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "base_dir_of",
    "base_source",
    "check_against_base",
    "is_adapter",
    "load_merged",
    "resolve_adapter",
]
