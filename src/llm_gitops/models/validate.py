"""Is a directory a usable model? Checked before anything loads it.

Loading a broken directory fails deep inside transformers or torch with a message
that names neither the directory nor the fix, and often only after minutes of eval
set-up. These checks are cheap (no torch, safetensors headers only) and each failure
is one ``ModelSourceError`` naming the path, what is wrong and how to fix it.

Two layouts are accepted:

* a Hugging Face directory as ``save_pretrained`` writes it: ``config.json``, weights
  (``*.safetensors`` or ``pytorch_model*.bin``, possibly sharded with an index) and a
  tokenizer;
* an llm-gitops artifact (``llm-gitops-artifact.json`` beside the files): quantized or
  pruned weights may be a torch ``state_dict`` (``.pt``), so the files the manifest
  names are checked instead of the Hugging Face weight names.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from pathlib import Path

from llm_gitops.errors import ModelSourceError
from llm_gitops.models.digest import WEIGHT_SUFFIXES
from llm_gitops.models.loader import ARTIFACT_MANIFEST

# Any one of these is a tokenizer's vocabulary; tokenizer_config.json alone is not.
TOKENIZER_VOCAB_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)
SHARD_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
# Manifest keys whose values name files of the artifact (a string, a list, or a dict's values).
MANIFEST_FILE_KEYS = ("files", "weights", "weights_file", "state_dict", "file")

# Remedies when the caller has no better one (a local directory).
SAVE_FIX = "re-run model.save_pretrained(DIR) and tokenizer.save_pretrained(DIR)"
TOKENIZER_FIX = "save it beside the weights with tokenizer.save_pretrained(DIR)"
ARTIFACT_FIX = "re-create the artifact with 'llm-gitops quantize'"

# Bytes per element of each safetensors dtype, to check that offsets match shapes.
_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
# A header larger than this is not a real header (a random or truncated file).
_MAX_HEADER = 100 * 1024 * 1024
_LFS_POINTER = b"version https://git-lfs"


def validate_model_dir(path: Path, *, fix: str | None = None) -> None:
    """Raise ``ModelSourceError`` unless ``path`` holds a loadable model.

    ``fix`` is the remedy for missing or broken files, phrased for where the directory
    came from (sources pass "dvc add ... && dvc push", "re-register", ...); without it
    each problem gets the remedy for a local directory.
    """
    path = Path(path)
    fix = fix.replace("DIR", str(path)) if fix else None
    if not path.exists():
        raise ModelSourceError(
            f"model directory {path} does not exist",
            hint="check the path (relative paths resolve against the config file's directory)",
        )
    if not path.is_dir():
        raise ModelSourceError(
            f"{path} is a file, not a model directory", hint="point at the directory that holds config.json and the weights"
        )
    visible = [p for p in path.iterdir() if not p.name.startswith(".")]
    if not visible:
        raise ModelSourceError(f"model directory {path} is empty", hint=fix or _save_fix(path))

    manifest_path = path / ARTIFACT_MANIFEST
    if manifest_path.is_file():
        _validate_artifact(path, manifest_path, fix)
    else:
        _validate_hf_dir(path, visible, fix)
    _require_tokenizer(path, fix)


def _save_fix(path: Path) -> str:
    return SAVE_FIX.replace("DIR", str(path))


def _validate_hf_dir(path: Path, visible: list[Path], fix: str | None) -> None:
    fix = fix or _save_fix(path)
    weights = _weight_files(path)
    if not weights:
        found = ", ".join(sorted(p.name for p in visible)[:6])
        raise ModelSourceError(
            f"{path} has no weight files (*.safetensors or pytorch_model*.bin; found: {found})",
            hint=fix,
        )
    config = path / "config.json"
    if not config.is_file():
        raise ModelSourceError(f"{path} has no config.json", hint=fix)
    _read_json(config, fix)
    for weight in weights:
        check_weight_file(weight, fix=fix)


def _weight_files(path: Path) -> list[Path]:
    """Weight files, with shards named by an index required to exist."""
    for index_name in SHARD_INDEXES:
        index = path / index_name
        if index.is_file():
            data = _read_json(index, _save_fix(path))
            shards = sorted(set((data.get("weight_map") or {}).values())) if isinstance(data, dict) else []
            missing = [s for s in shards if not (path / s).is_file()]
            if missing:
                raise ModelSourceError(
                    f"{index} names shard {missing[0]} that is missing"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                    hint="copy every shard, or re-run save_pretrained",
                )
            if shards:
                return [path / s for s in shards]
    return sorted(set(path.glob("*.safetensors")) | set(path.glob("pytorch_model*.bin")))


def _validate_artifact(path: Path, manifest_path: Path, fix: str | None) -> None:
    fix = fix or ARTIFACT_FIX
    manifest = _read_json(manifest_path, fix)
    if not isinstance(manifest, dict):
        raise ModelSourceError(f"{manifest_path} is not a JSON object", hint=fix)
    listed = sorted(set(_manifest_files(manifest)))
    for name in listed:
        if not (path / name).is_file():
            raise ModelSourceError(
                f"{path}: {name}, named by {ARTIFACT_MANIFEST}, is missing",
                hint=fix if fix != ARTIFACT_FIX else f"copy the whole artifact directory, or {ARTIFACT_FIX}",
            )
    weights = [path / n for n in listed if Path(n).suffix in WEIGHT_SUFFIXES]
    if not weights:
        weights = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not weights:
        raise ModelSourceError(
            f"{path} is an llm-gitops artifact without weight files", hint=fix
        )
    if (path / "config.json").is_file():
        _read_json(path / "config.json", fix)
    for weight in weights:
        check_weight_file(weight, fix=fix)


def _manifest_files(manifest: dict) -> list[str]:
    """Relative file names under the manifest's file-naming keys, at any depth."""
    out: list[str] = []

    def names(value) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, str)]
        if isinstance(value, dict):
            return [v for v in value.values() if isinstance(v, str)]
        return []

    def walk(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in MANIFEST_FILE_KEYS:
                    # Only relative names with a suffix are files of this directory; an
                    # absolute path records where the artifact was made from.
                    out.extend(n for n in names(value) if n and not Path(n).is_absolute() and Path(n).suffix)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(manifest)
    return out


def _require_tokenizer(path: Path, fix: str | None) -> None:
    if not any((path / name).is_file() for name in TOKENIZER_VOCAB_FILES):
        raise ModelSourceError(
            f"{path} has no tokenizer (none of {', '.join(TOKENIZER_VOCAB_FILES[:4])})",
            hint=fix or TOKENIZER_FIX.replace("DIR", str(path)),
        )


def _read_json(path: Path, fix: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelSourceError(f"{path} is not valid JSON ({_short(exc)})", hint=fix) from None


def check_weight_file(path: Path, *, fix: str | None = None) -> None:
    """Cheap integrity check of one weight file (a safetensors header, a torch archive)."""
    path = Path(path)
    fix = fix or _save_fix(path.parent)
    size = path.stat().st_size
    if size == 0:
        raise ModelSourceError(f"weight file {path} is empty", hint=fix)
    with path.open("rb") as fh:
        head = fh.read(8)
        if head + fh.read(len(_LFS_POINTER) - 8) == _LFS_POINTER:
            raise ModelSourceError(f"weight file {path} is a Git LFS pointer, not the weights", hint="run 'git lfs pull'")
    if path.suffix == ".safetensors":
        _check_safetensors(path, size, fix)
    elif path.suffix in (".bin", ".pt", ".pth"):
        # torch.save writes a zip archive (legacy files: a pickle, protocol byte 0x80).
        if not (zipfile.is_zipfile(path) or head[:1] == b"\x80"):
            raise ModelSourceError(f"weight file {path} is not a torch checkpoint (corrupt or truncated)", hint=fix)


def _check_safetensors(path: Path, size: int, fix: str) -> None:
    """The safetensors layout: u64 little-endian N, N bytes of JSON, then the data."""

    def corrupt(why: str) -> ModelSourceError:
        return ModelSourceError(f"weight file {path} is corrupt: {why}", hint=fix)

    if size < 8:
        raise corrupt(f"{size} bytes, shorter than the 8-byte header length")
    with path.open("rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        if header_len > min(size - 8, _MAX_HEADER):
            raise corrupt(f"header length {header_len} exceeds the file size {size} (truncated or not safetensors)")
        raw = fh.read(header_len)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise corrupt("the header is not JSON (truncated or not safetensors)") from None
    if not isinstance(header, dict):
        raise corrupt("the header is not a JSON object")
    data_size = size - 8 - header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in info["data_offsets"])
            shape = [int(d) for d in info["shape"]]
            dtype = str(info["dtype"])
        except (KeyError, TypeError, ValueError):
            raise corrupt(f"tensor {name!r} has no valid dtype/shape/data_offsets") from None
        if not 0 <= begin <= end <= data_size:
            raise corrupt(f"tensor {name!r} ends at byte {end} of a {data_size}-byte data section (truncated)")
        width = _DTYPE_BYTES.get(dtype)
        if width is not None and (end - begin) != math.prod(shape) * width:
            raise corrupt(f"tensor {name!r} has {end - begin} bytes for shape {shape} of {dtype}")


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
