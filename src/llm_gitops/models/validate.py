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

import errno
import functools
import importlib.util
import json
import math
import re
import stat
import struct
import zipfile
from pathlib import Path
from typing import Any

from llm_gitops.errors import ModelSourceError
from llm_gitops.models.digest import WEIGHT_SUFFIXES
from llm_gitops.models.loaded import ARTIFACT_MANIFEST

# Any one of these is a tokenizer's vocabulary; tokenizer_config.json alone is not.
TOKENIZER_VOCAB_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "vocab.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
)
# Side files that transformers parses as JSON objects when they are present.
JSON_SIDE_FILES = (
    "generation_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
)
# A PEFT adapter directory (save_pretrained of a PeftModel): config and weights.
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
ADAPTER_FIX = "re-save it with peft_model.save_pretrained(DIR)"
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
# JSON side files (configs, tokenizers) larger than this are not real ones: reading
# them whole would cost memory and time for nothing (real tokenizer.json: < 40 MB).
MAX_JSON_BYTES = 64 * 1024 * 1024
_LFS_POINTER = b"version https://git-lfs"

# config.json fields that must be positive integers when present: a string, a bool or
# a zero there fails deep in the model's constructor.
_POSITIVE_INT_FIELDS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "intermediate_size", "max_position_embeddings", "head_dim", "n_layer", "n_embd", "n_head", "n_positions",
    "d_model",
)  # fmt: skip
# Names of the input embedding across the common causal-LM families: [vocab, hidden].
_EMBEDDING_SUFFIXES = ("embed_tokens.weight", "wte.weight", "embed_in.weight", "word_embeddings.weight")
_LAYER_INDEX = re.compile(r"\.(?:layers|h|blocks|decoder\.layers)\.(\d+)\.")


def validate_model_dir(path: Path, *, fix: str | None = None) -> None:
    """Raise ``ModelSourceError`` unless ``path`` holds a loadable model.

    ``fix`` is the remedy for missing or broken files, phrased for where the directory
    came from (sources pass "dvc add ... && dvc push", "re-register", ...); without it
    each problem gets the remedy for a local directory.
    """
    path = Path(path)
    fix = fix.replace("DIR", str(path)) if fix else None
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except OSError as exc:  # a symlink loop, a name too long
        raise ModelSourceError(f"model directory {path} cannot be read ({_short(exc)})", hint=fix or "check the path") from None
    if not exists:
        if path.is_symlink():
            _require_regular(path, fix or "check the path", kind="model directory")
        raise ModelSourceError(
            f"model directory {path} does not exist",
            hint="check the path (relative paths resolve against the config file's directory)",
        )
    if not is_dir:
        raise ModelSourceError(
            f"{path} is a file, not a model directory", hint="point at the directory that holds config.json and the weights"
        )
    try:
        visible = [p for p in path.iterdir() if not p.name.startswith(".")]
    except OSError as exc:
        raise ModelSourceError(f"model directory {path} cannot be listed ({_short(exc)})", hint="check its permissions") from None
    if not visible:
        raise ModelSourceError(f"model directory {path} is empty", hint=fix or _save_fix(path))

    manifest_path = path / ARTIFACT_MANIFEST
    if _present(path / ADAPTER_CONFIG) and not _present(path / "config.json"):
        # A LoRA/PEFT adapter: its own files here; what it needs of its base model is
        # checked once the base is resolved (models.adapters).
        validate_adapter_layout(path, fix)
        return
    if _present(manifest_path):
        config = _validate_artifact(path, manifest_path, fix)
    else:
        config = _validate_hf_dir(path, visible, fix)
    _validate_tokenizer(path, config, fix)


def _save_fix(path: Path) -> str:
    return SAVE_FIX.replace("DIR", str(path))


def _present(path: Path) -> bool:
    """Whether a name exists at all (a broken or looping symlink counts: it must be reported)."""
    return path.is_symlink() or path.exists()


def _require_regular(path: Path, fix: str, *, kind: str = "") -> int:
    """The size of ``path``, or a ModelSourceError saying what else it is."""
    label = f"{kind} {path}" if kind else str(path)
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ModelSourceError(f"{label} is a symlink loop", hint=f"replace the link with the real file; {fix}") from None
        if path.is_symlink():
            raise ModelSourceError(
                f"{label} is a broken symlink (to {_readlink(path)})", hint=f"copy the real file there; {fix}"
            ) from None
        raise ModelSourceError(f"{label} cannot be read ({_short(exc)})", hint=fix) from None
    if stat.S_ISDIR(st.st_mode):
        raise ModelSourceError(f"{label} is a directory, not a file", hint=fix)
    if not stat.S_ISREG(st.st_mode):
        raise ModelSourceError(f"{label} is not a regular file (a pipe, socket or device)", hint=fix)
    return st.st_size


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "?"


def _validate_hf_dir(path: Path, visible: list[Path], fix: str | None) -> dict[str, Any]:
    fix = fix or _save_fix(path)
    weights = _weight_files(path, fix)
    if not weights:
        found = ", ".join(sorted(p.name for p in visible)[:6])
        raise ModelSourceError(
            f"{path} has no weight files (*.safetensors or pytorch_model*.bin; found: {found})",
            hint=fix,
        )
    config_path = path / "config.json"
    if not _present(config_path):
        raise ModelSourceError(f"{path} has no config.json", hint=fix)
    config = _validate_config(config_path, fix)
    tensors: dict[str, list[int]] = {}
    for weight in weights:
        tensors.update(check_weight_file(weight, fix=fix) or {})
    _check_shapes(config_path, config, tensors, weights, fix)
    return config


def _weight_files(path: Path, fix: str) -> list[Path]:
    """Weight files, with shards named by an index required to exist."""
    for index_name in SHARD_INDEXES:
        index = path / index_name
        if _present(index):
            data = read_json_object(index, fix)
            weight_map = data.get("weight_map")
            if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
                raise ModelSourceError(f"{index}: 'weight_map' is not an object of tensor name -> shard file", hint=fix)
            shards = sorted(set(weight_map.values()))
            for shard in shards:
                if not shard or Path(shard).is_absolute() or "/" in shard or "\\" in shard or shard in (".", ".."):
                    raise ModelSourceError(f"{index} names shard {shard!r} outside the model directory", hint=fix)
            missing = [s for s in shards if not _present(path / s)]
            if missing:
                raise ModelSourceError(
                    f"{index} names shard {missing[0]} that is missing"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                    hint="copy every shard, or re-run save_pretrained",
                )
            if shards:
                return [path / s for s in shards]
    return sorted(set(path.glob("*.safetensors")) | set(path.glob("pytorch_model*.bin")))


def _validate_artifact(path: Path, manifest_path: Path, fix: str | None) -> dict[str, Any]:
    fix = fix or ARTIFACT_FIX
    manifest = read_json_object(manifest_path, fix)
    listed = sorted(set(_manifest_files(manifest)))
    for name in listed:
        if not _present(path / name):
            raise ModelSourceError(
                f"{path}: {name}, named by {ARTIFACT_MANIFEST}, is missing",
                hint=fix if fix != ARTIFACT_FIX else f"copy the whole artifact directory, or {ARTIFACT_FIX}",
            )
    weights = [path / n for n in listed if Path(n).suffix in WEIGHT_SUFFIXES]
    if not weights:
        weights = sorted(p for p in path.iterdir() if p.suffix in WEIGHT_SUFFIXES)
    if not weights:
        raise ModelSourceError(
            f"{path} is an llm-gitops artifact without weight files", hint=fix
        )
    config: dict[str, Any] = {}
    if _present(path / "config.json"):
        config = _validate_config(path / "config.json", fix)
    # Quantized weights have other names and shapes than the config describes: only
    # their integrity is checked, not their shapes.
    for weight in weights:
        check_weight_file(weight, fix=fix)
    return config


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


def validate_adapter_layout(path: Path, fix: str | None = None) -> dict[str, Any]:
    """A PEFT adapter directory's own files; returns its adapter_config.json."""
    fix = fix or ADAPTER_FIX.replace("DIR", str(path))
    config_path = path / ADAPTER_CONFIG
    config = read_json_object(config_path, fix)
    peft_type = config.get("peft_type")
    if not isinstance(peft_type, str) or not peft_type:
        raise ModelSourceError(f"{config_path}: 'peft_type' is missing or not a string (e.g. \"LORA\")", hint=fix)
    targets = config.get("target_modules")
    if peft_type == "LORA" and not (
        (isinstance(targets, str) and targets)
        or (isinstance(targets, list) and targets and all(isinstance(t, str) and t for t in targets))
    ):
        raise ModelSourceError(
            f"{config_path}: 'target_modules' must be a module name list or a regex (got {_kind(targets)})", hint=fix
        )
    rank = config.get("r")
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0):
        raise ModelSourceError(f"{config_path}: 'r' must be a positive integer (got {rank!r:.40})", hint=fix)
    base = config.get("base_model_name_or_path")
    if base is not None and not isinstance(base, str):
        raise ModelSourceError(f"{config_path}: 'base_model_name_or_path' must be a string", hint=fix)
    weights = [path / name for name in ADAPTER_WEIGHTS if _present(path / name)]
    if not weights:
        raise ModelSourceError(f"{path} is a PEFT adapter without weights (none of {', '.join(ADAPTER_WEIGHTS)})", hint=fix)
    for weight in weights:
        check_weight_file(weight, fix=fix)
    for name in JSON_SIDE_FILES:
        if _present(path / name):
            read_json_object(path / name, fix)
    if _present(path / "tokenizer.json"):
        _check_tokenizer_json(path / "tokenizer.json", {}, fix)
    return config


# --------------------------------------------------------------------------- config.json
@functools.lru_cache(maxsize=1)
def known_model_types() -> frozenset[str] | None:
    """The ``model_type`` values the installed transformers knows; None when unknown.

    Read from the text of transformers' auto-config mapping rather than by importing
    it: that import pulls in torch (seconds), and a cached re-run must stay well under
    one. A layout this cannot read (a future transformers) disables the check.
    """
    spec = importlib.util.find_spec("transformers")
    if spec is None or spec.origin is None:
        return None
    auto = Path(spec.origin).parent / "models" / "auto"
    names: set[str] = set()
    for name in ("configuration_auto.py", "auto_mappings.py"):
        try:
            text = (auto / name).read_text(encoding="utf-8")
        except OSError:
            continue
        names.update(re.findall(r'"([\w\-]+)"\s*[:,]\s*"\w*Config"', text))
    return frozenset(names) if len(names) > 50 else None


def _validate_config(config_path: Path, fix: str) -> dict[str, Any]:
    """config.json: an object whose model_type transformers knows and whose sizes are sane."""
    config = read_json_object(config_path, fix)
    model_type = config.get("model_type")
    if "auto_map" not in config:  # custom code names its own types
        if not isinstance(model_type, str) or not model_type:
            raise ModelSourceError(
                f"{config_path}: 'model_type' is missing or not a string (got {_kind(model_type)})",
                hint=f"set it to the model family, e.g. \"llama\"; {fix}",
            )
        known = known_model_types()
        if known is not None and model_type not in known:
            import difflib

            close = difflib.get_close_matches(model_type, sorted(known), n=1)
            raise ModelSourceError(
                f"{config_path}: unknown model_type {model_type!r} for the installed transformers"
                + (f" (did you mean {close[0]!r}?)" if close else ""),
                hint="fix the model_type, or upgrade transformers if the family is newer than it",
            )
    for name in _POSITIVE_INT_FIELDS:
        if name in config and config[name] is not None:
            value = config[name]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ModelSourceError(
                    f"{config_path}: {name!r} must be a positive integer (got {value!r:.40})", hint=fix
                )
    architectures = config.get("architectures")
    if architectures is not None and (
        not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures)
    ):
        raise ModelSourceError(f"{config_path}: 'architectures' must be a list of class names", hint=fix)
    for name in ("torch_dtype", "dtype"):
        if config.get(name) is not None and not isinstance(config[name], str):
            raise ModelSourceError(f"{config_path}: {name!r} must be a dtype name such as \"float32\"", hint=fix)
    heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
    if heads and hidden and "head_dim" not in config and hidden % heads:
        raise ModelSourceError(
            f"{config_path}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}", hint=fix
        )
    return config


def _check_shapes(
    config_path: Path, config: dict[str, Any], tensors: dict[str, list[int]], weights: list[Path], fix: str
) -> None:
    """The weights' embedding and layer count match config.json (cheap: headers only)."""
    if not tensors:
        if any(w.suffix == ".safetensors" for w in weights) and all(w.suffix == ".safetensors" for w in weights):
            raise ModelSourceError(f"the weights of {config_path.parent} hold no tensors", hint=fix)
        return
    vocab = config.get("vocab_size")
    hidden = config.get("hidden_size") or config.get("n_embd") or config.get("d_model")
    for name, shape in tensors.items():
        if name.endswith(_EMBEDDING_SUFFIXES) and len(shape) == 2:
            expected = [vocab, hidden]
            for axis, (got, want) in enumerate(zip(shape, expected)):
                if want is not None and got != want:
                    field = "vocab_size" if axis == 0 else "hidden_size"
                    raise ModelSourceError(
                        f"{config_path}: {field} is {want} but the weights' {name} has shape {shape}",
                        hint=f"the config does not belong to these weights; {fix}",
                    )
            break
    _check_projections(config_path, config, tensors, fix)
    layers = config.get("num_hidden_layers") or config.get("n_layer")
    indices = {int(m.group(1)) for name in tensors for m in [_LAYER_INDEX.search(name)] if m}
    if layers and indices and max(indices) + 1 != layers:
        raise ModelSourceError(
            f"{config_path}: num_hidden_layers is {layers} but the weights hold {max(indices) + 1} layers",
            hint=f"the config does not belong to these weights; {fix}",
        )


def _check_projections(config_path: Path, config: dict[str, Any], tensors: dict[str, list[int]], fix: str) -> None:
    """Attention and MLP shapes of the Llama/Mistral/Qwen naming against the head counts.

    A head count or intermediate size that does not match the weights fails only when
    transformers builds the model; from the headers it is a dictionary lookup.
    """
    hidden, heads = config.get("hidden_size"), config.get("num_attention_heads")
    if not isinstance(hidden, int) or not isinstance(heads, int) or not heads:
        return
    head_dim = config.get("head_dim") or hidden // heads
    kv_heads = config.get("num_key_value_heads") or heads
    inner = config.get("intermediate_size")
    expected = {
        "self_attn.q_proj.weight": ([heads * head_dim, hidden], "num_attention_heads/head_dim"),
        "self_attn.k_proj.weight": ([kv_heads * head_dim, hidden], "num_key_value_heads/head_dim"),
        "self_attn.v_proj.weight": ([kv_heads * head_dim, hidden], "num_key_value_heads/head_dim"),
        "self_attn.o_proj.weight": ([hidden, heads * head_dim], "num_attention_heads/head_dim"),
    }
    if isinstance(inner, int):
        expected["mlp.gate_proj.weight"] = ([inner, hidden], "intermediate_size")
        expected["mlp.up_proj.weight"] = ([inner, hidden], "intermediate_size")
        expected["mlp.down_proj.weight"] = ([hidden, inner], "intermediate_size")
    for name, shape in tensors.items():
        suffix = name.split(".", name.count(".") - 2)[-1] if name.count(".") >= 2 else name
        if suffix in expected and shape != expected[suffix][0]:
            want, fields = expected[suffix]
            raise ModelSourceError(
                f"{config_path}: {fields} give {name} the shape {want}, but the weights have {shape}",
                hint=f"the config does not belong to these weights; {fix}",
            )


# --------------------------------------------------------------------------- tokenizer
def _validate_tokenizer(path: Path, config: dict[str, Any], fix: str | None) -> None:
    tokenizer_fix = fix or TOKENIZER_FIX.replace("DIR", str(path))
    present = [name for name in TOKENIZER_VOCAB_FILES if _present(path / name)]
    if not present:
        raise ModelSourceError(
            f"{path} has no tokenizer (none of {', '.join(TOKENIZER_VOCAB_FILES[:4])})",
            hint=tokenizer_fix,
        )
    for name in JSON_SIDE_FILES:
        if _present(path / name):
            read_json_object(path / name, tokenizer_fix)
    for name in present:
        if name.endswith(".json"):
            continue
        if _require_regular(path / name, tokenizer_fix) == 0:
            raise ModelSourceError(f"{path / name} is empty", hint=tokenizer_fix)
        _refuse_lfs_pointer(path / name)
    if "tokenizer.json" in present:
        _check_tokenizer_json(path / "tokenizer.json", config, tokenizer_fix)


def _check_tokenizer_json(file: Path, config: dict[str, Any], fix: str) -> None:
    data = read_json_object(file, fix)
    if not isinstance(data.get("model"), dict):
        raise ModelSourceError(f"{file} is not a tokenizer (it has no 'model' object)", hint=fix)
    try:
        from tokenizers import Tokenizer
    except ImportError:  # a base install: the JSON-level check above is what can be done
        return
    try:
        tokenizer = Tokenizer.from_str(json.dumps(data))
    except Exception as exc:  # noqa: BLE001 - the Rust side raises plain Exception
        raise ModelSourceError(f"{file} is not a valid tokenizer ({_short(exc)})", hint=fix) from None
    vocab = config.get("vocab_size")
    size = tokenizer.get_vocab_size(with_added_tokens=True)
    if isinstance(vocab, int) and size > vocab:
        raise ModelSourceError(
            f"{file} has {size} tokens but config.json's vocab_size is {vocab} (ids past it crash the model)",
            hint="resize the embeddings (model.resize_token_embeddings) and save again, or use the model's own tokenizer",
        )


# --------------------------------------------------------------------------- files
def _refuse_lfs_pointer(path: Path) -> None:
    with path.open("rb") as fh:
        if fh.read(len(_LFS_POINTER)) == _LFS_POINTER:
            raise ModelSourceError(f"{path} is a Git LFS pointer, not the file's content", hint="run 'git lfs pull'")


def read_json_object(path: Path, fix: str) -> dict[str, Any]:
    """A JSON object from ``path`` (a regular file of bounded size), or a ModelSourceError."""
    size = _require_regular(path, fix)
    if size == 0:
        raise ModelSourceError(f"{path} is empty", hint=fix)
    if size > MAX_JSON_BYTES:
        raise ModelSourceError(f"{path} is {size} bytes, larger than any real one ({MAX_JSON_BYTES} bytes)", hint=fix)
    _refuse_lfs_pointer(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except RecursionError:
        raise ModelSourceError(f"{path} is not valid JSON (nested too deeply)", hint=fix) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelSourceError(f"{path} is not valid JSON ({_short(exc)})", hint=fix) from None
    if not isinstance(data, dict):
        raise ModelSourceError(f"{path} holds {_kind(data)}, not a JSON object", hint=fix)
    return data


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def check_weight_file(path: Path, *, fix: str | None = None) -> dict[str, list[int]] | None:
    """Cheap integrity check of one weight file (a safetensors header, a torch archive).

    Returns a safetensors file's tensor shapes by name (None for other formats).
    """
    path = Path(path)
    fix = fix or _save_fix(path.parent)
    size = _require_regular(path, fix, kind="weight file")
    if size == 0:
        raise ModelSourceError(f"weight file {path} is empty", hint=fix)
    with path.open("rb") as fh:
        head = fh.read(8)
        if head + fh.read(len(_LFS_POINTER) - 8) == _LFS_POINTER:
            raise ModelSourceError(f"weight file {path} is a Git LFS pointer, not the weights", hint="run 'git lfs pull'")
    if path.suffix == ".safetensors":
        return _check_safetensors(path, size, fix)
    if path.suffix in (".bin", ".pt", ".pth"):
        # torch.save writes a zip archive (legacy files: a pickle, protocol byte 0x80).
        if not (zipfile.is_zipfile(path) or head[:1] == b"\x80"):
            raise ModelSourceError(f"weight file {path} is not a torch checkpoint (corrupt or truncated)", hint=fix)
    return None


def _check_safetensors(path: Path, size: int, fix: str) -> dict[str, list[int]]:
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
    except RecursionError:
        raise corrupt("the header is nested too deeply") from None
    except (UnicodeDecodeError, ValueError):
        raise corrupt("the header is not JSON (truncated or not safetensors)") from None
    if not isinstance(header, dict):
        raise corrupt("the header is not a JSON object")
    data_size = size - 8 - header_len
    shapes: dict[str, list[int]] = {}
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
        if any(d < 0 for d in shape):
            raise corrupt(f"tensor {name!r} has a negative dimension in {shape}")
        width = _DTYPE_BYTES.get(dtype)
        if width is not None and (end - begin) != math.prod(shape) * width:
            raise corrupt(f"tensor {name!r} has {end - begin} bytes for shape {shape} of {dtype}")
        shapes[name] = shape
    return shapes


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
