"""Content digests of model directories."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path

# Files that define a model's behaviour: weights, tokenizer, configs. Logs, READMEs
# and caches don't change what the model answers, so they don't change its digest.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "chat_template.jinja",
)
CONFIG_FILES = ("config.json", "generation_config.json", "llm-gitops-artifact.json", "adapter_config.json")


def is_weight_file(path: Path) -> bool:
    return path.suffix in WEIGHT_SUFFIXES


def digest_files(model_dir: Path, *, exclude: Collection[str] = ()) -> list[Path]:
    """The files of ``model_dir`` that the digest covers, sorted by relative path.

    ``exclude`` names relative paths to leave out (an artifact's manifest, which records
    the digest of everything else and so cannot be part of it).
    """
    model_dir = Path(model_dir)
    keep = []
    for path in model_dir.rglob("*"):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(model_dir).parts):
            continue
        if path.relative_to(model_dir).as_posix() in exclude:
            continue
        if is_weight_file(path) or path.name in TOKENIZER_FILES or path.name in CONFIG_FILES:
            keep.append(path)
    return sorted(keep, key=lambda p: p.relative_to(model_dir).as_posix())


def model_digest(model_dir: Path, *, exclude: Collection[str] = ()) -> str:
    """``sha256:<hex>`` over (relative name, content hash) of every covered file.

    Order-independent: the per-file hashes are sorted by name before combining, so the
    digest depends only on what is in the directory, not on how it was listed or copied.
    """
    model_dir = Path(model_dir)
    outer = hashlib.sha256()
    for path in digest_files(model_dir, exclude=exclude):
        inner = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                inner.update(chunk)
        outer.update(f"{path.relative_to(model_dir).as_posix()}\0{inner.hexdigest()}\n".encode())
    return f"sha256:{outer.hexdigest()}"
