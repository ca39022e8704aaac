"""Bad-input corpus, surface "model": broken model directories through the real CLI.

Each case copies the example model, breaks one thing (a file removed, emptied,
truncated, replaced by garbage, by a directory, a symlink loop, a dangling link, a
pipe, a Git LFS pointer; a JSON file of the wrong type; a config field of the wrong
type or at odds with the weights; a corrupt tokenizer; a damaged safetensors header;
a bad shard index) and runs ``llm-gitops eval --model DIR``. Every case must end in
one ``error:`` line naming the broken file (or directory), exit 2, no traceback and
nothing written: the validation runs before anything loads or writes.

A few cases run through every other command that takes a model, so the same
validation is seen to guard them all.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.corpus.harness import expect_clean_error
from tests.evaluation.conftest import write_suite

SURFACE = "model"
LFS_POINTER = "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 4212160\n".format("0" * 64)
# The files of a saved model (train_metrics.json beside them is no model file).
JSON_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")
WEIGHTS = "model.safetensors"
MODEL_FILES = (*JSON_FILES, WEIGHTS)
REQUIRED = ("config.json", "tokenizer.json", WEIGHTS)

Mutation = Callable[[Path], None]


# --------------------------------------------------------------------------- mutations
def _remove(name: str) -> Mutation:
    return lambda d: (d / name).unlink()


def _write(name: str, data: bytes | str) -> Mutation:
    def apply(d: Path) -> None:
        (d / name).unlink()
        if isinstance(data, str):
            (d / name).write_text(data)
        else:
            (d / name).write_bytes(data)

    return apply


def _truncate(name: str) -> Mutation:
    def apply(d: Path) -> None:
        data = (d / name).read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])

    return apply


def _as_directory(name: str) -> Mutation:
    def apply(d: Path) -> None:
        (d / name).unlink()
        (d / name).mkdir()
        (d / name / "inside").write_text("x")

    return apply


def _symlink_loop(name: str) -> Mutation:
    def apply(d: Path) -> None:
        (d / name).unlink()
        (d / name).symlink_to(name)

    return apply


def _dangling(name: str) -> Mutation:
    def apply(d: Path) -> None:
        (d / name).unlink()
        (d / name).symlink_to("gone-" + name)

    return apply


def _fifo(name: str) -> Mutation:
    def apply(d: Path) -> None:
        (d / name).unlink()
        os.mkfifo(d / name)

    return apply


def _huge(name: str) -> Mutation:
    def apply(d: Path) -> None:
        with (d / name).open("r+b") as fh:  # sparse: costs no disk
            fh.truncate(65 * 1024 * 1024)

    return apply


def _edit_json(name: str, edit: Callable[[dict], object]) -> Mutation:
    def apply(d: Path) -> None:
        data = json.loads((d / name).read_text())
        result = edit(data)
        (d / name).write_text(json.dumps(data if result is None else result))

    return apply


def _set(name: str, key: str, value) -> Mutation:
    return _edit_json(name, lambda data: data.__setitem__(key, value))


def _drop(name: str, key: str) -> Mutation:
    return _edit_json(name, lambda data: data.pop(key))


def _safetensors_header(edit: Callable[[dict], object]) -> Mutation:
    """Rewrite the weights' JSON header, keeping the data section as it is."""

    def apply(d: Path) -> None:
        raw = (d / WEIGHTS).read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8 : 8 + n])
        result = edit(header)
        new = json.dumps(header if result is None else result).encode()
        (d / WEIGHTS).write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n :])

    return apply


def _raw_header(header: bytes, data: bytes = b"\0" * 16) -> Mutation:
    return _write(WEIGHTS, struct.pack("<Q", len(header)) + header + data)


def _tensor(name_end: str, edit: Callable[[dict], None]) -> Mutation:
    def change(header: dict) -> None:
        name = next(n for n in sorted(header) if n.endswith(name_end))
        edit(header[name])

    return _safetensors_header(change)


def _rename_tensor(old_part: str, new_part: str) -> Mutation:
    def change(header: dict) -> dict:
        return {k.replace(old_part, new_part): v for k, v in header.items()}

    return _safetensors_header(change)


def _shard(index: dict | list | str, *, rename_weights: bool = True) -> Mutation:
    def apply(d: Path) -> None:
        if rename_weights:
            (d / WEIGHTS).rename(d / "model-00001-of-00002.safetensors")
        text = index if isinstance(index, str) else json.dumps(index)
        (d / "model.safetensors.index.json").write_text(text)

    return apply


def _tokenizer_vocab(extra: int) -> Mutation:
    def edit(data: dict) -> None:
        vocab = data["model"]["vocab"]
        for i in range(extra):
            vocab[f"extra{i}"] = len(vocab)

    return _edit_json("tokenizer.json", edit)


def _only_tokenizer_file(name: str, content: bytes | str) -> Mutation:
    def apply(d: Path) -> None:
        (d / "tokenizer.json").unlink()
        if isinstance(content, str):
            (d / name).write_text(content)
        else:
            (d / name).write_bytes(content)

    return apply


# --------------------------------------------------------------------------- cases
# (case id, mutation of the model dir, the file the error must name: relative to the
# model dir, or "" for the directory itself)
CASES: list[tuple[str, Mutation, str]] = []


def case(case_id: str, mutate: Mutation, culprit: str) -> None:
    CASES.append((case_id, mutate, culprit))


for _name in REQUIRED:
    case(f"{_name}-removed", _remove(_name), "")
for _name in MODEL_FILES:
    case(f"{_name}-emptied", _write(_name, b""), _name)
    case(f"{_name}-truncated", _truncate(_name), _name)
    case(f"{_name}-garbage", _write(_name, b"\x8f\xff\x00garbage" * 64), _name)
    case(f"{_name}-directory", _as_directory(_name), _name)
    case(f"{_name}-symlink-loop", _symlink_loop(_name), _name)
    case(f"{_name}-dangling-symlink", _dangling(_name), _name)
    case(f"{_name}-lfs-pointer", _write(_name, LFS_POINTER), _name)
    case(f"{_name}-fifo", _fifo(_name), _name)
for _name in JSON_FILES:
    case(f"{_name}-huge", _huge(_name), _name)
    case(f"{_name}-latin1", _write(_name, '{"x": "caf\xe9"}'.encode("latin-1")), _name)
    case(f"{_name}-deep-nesting", _write(_name, "[" * 100_000 + "]" * 100_000), _name)
    for _label, _value in (("list", []), ("string", "x"), ("number", 5), ("null", None), ("bool", True)):
        case(f"{_name}-root-{_label}", _write(_name, json.dumps(_value)), _name)

# config.json, field by field: wrong types, and values at odds with the weights.
for _key, _bad in (
    ("model_type", 5), ("model_type", ""), ("model_type", None), ("model_type", "llamaa"), ("model_type", "no-such-family"),
    ("vocab_size", "18"), ("vocab_size", 0), ("vocab_size", -1), ("vocab_size", True), ("vocab_size", 1.5),
    ("vocab_size", 17), ("vocab_size", 36),
    ("hidden_size", "128"), ("hidden_size", 0), ("hidden_size", 64), ("hidden_size", 256),
    ("num_hidden_layers", "4"), ("num_hidden_layers", 0), ("num_hidden_layers", 3), ("num_hidden_layers", 5),
    ("num_attention_heads", 3), ("num_attention_heads", 8), ("num_attention_heads", [4]),
    ("num_key_value_heads", 2), ("num_key_value_heads", "4"),
    ("intermediate_size", 256), ("intermediate_size", 1024), ("intermediate_size", 512.0),
    ("head_dim", 16), ("head_dim", 0),
    ("max_position_embeddings", -64), ("architectures", "LlamaForCausalLM"), ("architectures", [1]),
    ("dtype", 32), ("torch_dtype", ["float32"]),
):  # fmt: skip
    case(f"config-{_key}={json.dumps(_bad)}", _set("config.json", _key, _bad), "config.json")
case("config-no-model_type", _drop("config.json", "model_type"), "config.json")

# tokenizer.json: parses as JSON but is not a tokenizer, or does not fit the model.
case("tokenizer-no-model", _drop("tokenizer.json", "model"), "tokenizer.json")
case("tokenizer-model-list", _set("tokenizer.json", "model", []), "tokenizer.json")
case("tokenizer-model-unknown-type", _edit_json("tokenizer.json", lambda d: d["model"].__setitem__("type", "Nonsense")),
     "tokenizer.json")
case("tokenizer-vocab-not-object", _edit_json("tokenizer.json", lambda d: d["model"].__setitem__("vocab", 5)),
     "tokenizer.json")
case("tokenizer-added-tokens-string", _set("tokenizer.json", "added_tokens", "x"), "tokenizer.json")
case("tokenizer-bad-pre-tokenizer", _set("tokenizer.json", "pre_tokenizer", {"type": "Nope"}), "tokenizer.json")
case("tokenizer-more-tokens-than-vocab", _tokenizer_vocab(5), "tokenizer.json")
case("tokenizer-only-empty-sentencepiece", _only_tokenizer_file("tokenizer.model", b""), "tokenizer.model")
case("tokenizer-only-vocab-json-list", _only_tokenizer_file("vocab.json", "[1, 2]"), "vocab.json")
case("tokenizer-only-lfs-sentencepiece", _only_tokenizer_file("tokenizer.model", LFS_POINTER), "tokenizer.model")
case("tokenizer-none-at-all", _only_tokenizer_file("README.md", "no tokenizer"), "")

# model.safetensors: a damaged header, offsets or shapes.
case("weights-header-length-huge", _write(WEIGHTS, struct.pack("<Q", 2**63) + b"{}" * 8), WEIGHTS)
case("weights-header-length-zero", _raw_header(b""), WEIGHTS)
case("weights-header-not-json", _raw_header(b"{{{{"), WEIGHTS)
case("weights-header-list", _raw_header(b"[1, 2]"), WEIGHTS)
case("weights-header-empty-object", _raw_header(b"{}"), "")
case("weights-header-deep", _raw_header(b'{"a":' * 5000 + b"1" + b"}" * 5000), WEIGHTS)
case("weights-tensor-no-offsets", _tensor("embed_tokens.weight", lambda t: t.pop("data_offsets")), WEIGHTS)
case("weights-tensor-offsets-past-end", _tensor("norm.weight", lambda t: t.__setitem__("data_offsets", [0, 10**12])),
     WEIGHTS)
case("weights-tensor-shape-string", _tensor("norm.weight", lambda t: t.__setitem__("shape", "128")), WEIGHTS)
case("weights-tensor-negative-dim", _tensor("embed_tokens.weight", lambda t: t.__setitem__("shape", [-18, -128])),
     WEIGHTS)
case("weights-tensor-bytes-vs-dtype", _tensor("embed_tokens.weight", lambda t: t.__setitem__("dtype", "F16")), WEIGHTS)
case("weights-embedding-reshaped", _tensor("embed_tokens.weight", lambda t: t.__setitem__("shape", [36, 64])),
     "config.json")
case("weights-extra-layer-index", _rename_tensor("layers.3.", "layers.7."), "config.json")
case("weights-q-proj-reshaped", _tensor("layers.0.self_attn.q_proj.weight", lambda t: t.__setitem__("shape", [64, 256])),
     "config.json")
case("weights-gate-proj-reshaped", _tensor("layers.1.mlp.gate_proj.weight", lambda t: t.__setitem__("shape", [1024, 64])),
     "config.json")
case("weights-bin-garbage-instead", lambda d: (_remove(WEIGHTS)(d), (d / "pytorch_model.bin").write_text("hello")),
     "pytorch_model.bin")
case("weights-bin-truncated-zip", lambda d: (_remove(WEIGHTS)(d), (d / "pytorch_model.bin").write_bytes(b"PK\x03\x04xx")),
     "pytorch_model.bin")

# Sharded weights and their index.
_MAP = {"model.embed_tokens.weight": "model-00001-of-00002.safetensors", "x": "model-00002-of-00002.safetensors"}
case("shards-missing-shard", _shard({"weight_map": _MAP}), "model.safetensors.index.json")
case("shards-index-not-json", _shard("{nope", rename_weights=False), "model.safetensors.index.json")
case("shards-index-list", _shard([1], rename_weights=False), "model.safetensors.index.json")
case("shards-weight-map-list", _shard({"weight_map": ["a"]}), "model.safetensors.index.json")
case("shards-name-escapes-dir", _shard({"weight_map": {"a": "../outside.safetensors"}}), "model.safetensors.index.json")
case("shards-absolute-name", _shard({"weight_map": {"a": "/etc/passwd"}}), "model.safetensors.index.json")
case("shards-index-lfs-pointer", _shard(LFS_POINTER, rename_weights=False), "model.safetensors.index.json")


def _replace_dir(make: Callable[[Path], None]) -> Mutation:
    def apply(d: Path) -> None:
        shutil.rmtree(d)
        make(d)

    return apply


# The directory itself.
case("dir-missing", _replace_dir(lambda d: None), "")
case("dir-is-a-file", _replace_dir(lambda d: d.write_text("not a dir")), "")
case("dir-empty", _replace_dir(lambda d: d.mkdir()), "")
case("dir-only-hidden-files", _replace_dir(lambda d: (d.mkdir(), (d / ".gitkeep").write_text(""))), "")
case("dir-symlink-loop", _replace_dir(lambda d: d.symlink_to(d.name)), "")
case("dir-dangling-symlink", _replace_dir(lambda d: d.symlink_to("gone")), "")
case("dir-only-readme", _replace_dir(lambda d: (d.mkdir(), (d / "README.md").write_text("hi"))), "")
case("dir-weights-only", lambda d: [(d / n).unlink() for n in JSON_FILES], "")

assert len({c[0] for c in CASES}) == len(CASES), "case ids must be unique"
assert len(CASES) >= 100, len(CASES)


# --------------------------------------------------------------------------- running
@pytest.fixture(scope="module")
def pristine(example_models, tmp_path_factory) -> Path:
    """One copy of the example model's files (no logs), copied again per case."""
    root = tmp_path_factory.mktemp("pristine") / "model"
    root.mkdir()
    for name in MODEL_FILES:
        shutil.copy2(example_models.good / name, root / name)
    return root


def _repo(root: Path) -> Path:
    """A config and a local task suite (tasks are checked before the model)."""
    repo = write_suite(root / "repo", count=5)
    (repo / ".llm-gitops.yaml").write_text(
        "version: 1\neval:\n  tasks: [tasks/add_em.yaml]\nthresholds:\n  - {metric: add_em/exact_match, min: 0.5}\n"
    )
    return repo


def _broken_copy(pristine: Path, tmp_path: Path, mutate: Mutation) -> Path:
    model = tmp_path / "model"
    shutil.copytree(pristine, model)
    mutate(model)
    return model


@pytest.mark.parametrize("case_id,mutate,culprit", CASES, ids=[c[0] for c in CASES])
def test_eval_refuses_a_broken_model_dir(case_id, mutate, culprit, pristine, tmp_path):
    repo = _repo(tmp_path)
    model = _broken_copy(pristine, tmp_path, mutate)
    named = str(model / culprit) if culprit else str(model)
    expect_clean_error(
        ["eval", "--config", str(repo / ".llm-gitops.yaml"), "--model", str(model)],
        cwd=repo, culprit=named, surface=SURFACE, case=case_id, watch=tmp_path,
    )
    assert not (repo / ".llm-gitops").exists(), f"{case_id}: the state dir was written"


# The issue's three examples, through every command that takes a model.
ISSUE_CASES = [c for c in CASES if c[0] in ("config.json-root-list", "config-model_type=\"no-such-family\"",
                                             "tokenizer-model-unknown-type")]
COMMANDS = {
    "gate": lambda cfg, model: ["gate", "--config", cfg, "--candidate", model, "--report-to", "none"],
    "bench": lambda cfg, model: ["bench", "--config", cfg, "--model", model],
    "quantize": lambda cfg, model: ["quantize", "--config", cfg, "--model", model, "--output", model + "-int8",
                                    "--no-budget"],
    "serve": lambda cfg, model: ["serve", "--config", cfg, "--model", model, "--port", "1"],
    "register": lambda cfg, model: ["register", "--config", cfg, "--model", model, "--name", "adder"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case_id,mutate,culprit", ISSUE_CASES, ids=[c[0] for c in ISSUE_CASES])
def test_every_command_refuses_a_broken_model_dir(command, case_id, mutate, culprit, pristine, tmp_path):
    repo = _repo(tmp_path)
    model = _broken_copy(pristine, tmp_path, mutate)
    expect_clean_error(
        COMMANDS[command](str(repo / ".llm-gitops.yaml"), str(model)),
        cwd=repo, culprit=str(model / culprit), surface=SURFACE, case=f"{command}:{case_id}", watch=tmp_path,
    )
