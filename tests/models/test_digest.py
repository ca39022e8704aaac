"""A model's digest depends on its files' names and contents only."""

from __future__ import annotations

import shutil

from llm_gitops.models.digest import model_digest
from tests.support.tiny_model import tiny_model_copy


def test_same_files_same_digest_wherever_and_however_copied(tmp_path):
    original = tiny_model_copy(tmp_path / "a")
    copy = tmp_path / "elsewhere" / "b"
    shutil.copytree(original, copy)
    # Written in reverse order into a fresh directory: listing order must not matter.
    reordered = tmp_path / "c"
    reordered.mkdir()
    for path in sorted(original.iterdir(), reverse=True):
        (reordered / path.name).write_bytes(path.read_bytes())
    digest = model_digest(original)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert model_digest(copy) == digest
    assert model_digest(reordered) == digest


def test_files_that_do_not_change_the_model_do_not_change_the_digest(tmp_path):
    model = tiny_model_copy(tmp_path / "m")
    before = model_digest(model)
    (model / "README.md").write_text("notes")
    (model / "train.log").write_text("step 1")
    (model / ".cache").mkdir()
    (model / ".cache" / "x.safetensors").write_bytes(b"hidden")
    assert model_digest(model) == before


def test_different_weights_or_tokenizer_change_the_digest(tmp_path):
    model = tiny_model_copy(tmp_path / "m")
    other_seed = tiny_model_copy(tmp_path / "o", seed=1)
    before = model_digest(model)
    assert model_digest(other_seed) != before
    tokenizer = model / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"<unk>"', '"<UNK>"'))
    assert model_digest(model) != before
