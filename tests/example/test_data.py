"""The example repo's data: deterministic, committed eval sets current, no leakage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.example_models import EXAMPLE_REPO


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    subprocess.run([sys.executable, str(EXAMPLE_REPO / "data" / "prepare.py"), "--out", str(out)], check=True)
    return out


def test_prepare_is_deterministic(prepared, tmp_path):
    subprocess.run([sys.executable, str(EXAMPLE_REPO / "data" / "prepare.py"), "--out", str(tmp_path)], check=True)
    for name in ("train.jsonl", "eval/add_em.jsonl", "eval/add_mc.jsonl"):
        assert (tmp_path / name).read_bytes() == (prepared / name).read_bytes(), name


def test_committed_eval_sets_match_prepare(prepared):
    # The eval sets are committed (dvc.yaml: cache: false); a change to prepare.py or its
    # params must come with regenerated files, or the gate would score stale data.
    for name in ("add_em.jsonl", "add_mc.jsonl"):
        committed = EXAMPLE_REPO / "data" / "eval" / name
        assert committed.read_bytes() == (prepared / "eval" / name).read_bytes(), (
            f"{committed} is stale: run `python data/prepare.py` in the example repo"
        )


def test_eval_sets_are_held_out(prepared):
    train = {r["text"][: len("00+00=")] for r in _rows(prepared / "train.jsonl")}
    em = [r["question"] for r in _rows(prepared / "eval" / "add_em.jsonl")]
    mc = [r["question"] for r in _rows(prepared / "eval" / "add_mc.jsonl")]
    assert len(em) == len(mc) == 500 and len(train) == 9000
    assert not train & set(em) and not train & set(mc) and not set(em) & set(mc)
    assert len(train | set(em) | set(mc)) == 100 * 100  # every pair is used once


def test_items_are_right(prepared):
    for r in _rows(prepared / "train.jsonl"):
        a, b = int(r["text"][0:2]), int(r["text"][3:5])
        assert r["text"] == f"{a:02d}+{b:02d}={a + b:03d}\n"
    for r in _rows(prepared / "eval" / "add_em.jsonl"):
        assert int(r["answer"]) == int(r["question"][0:2]) + int(r["question"][3:5]) and len(r["answer"]) == 3
    labels = set()
    for r in _rows(prepared / "eval" / "add_mc.jsonl"):
        total = int(r["question"][0:2]) + int(r["question"][3:5])
        assert len(r["choices"]) == len(set(r["choices"])) == 4
        assert all(len(c) == 3 and c.isdigit() for c in r["choices"])
        assert r["choices"][r["label"]] == f"{total:03d}"
        # Distractors are near misses, not random numbers a weak model rules out easily.
        assert all(abs(int(c) - total) <= 100 for c in r["choices"])
        labels.add(r["label"])
    assert labels == {0, 1, 2, 3}  # the right answer is not always in one position


def test_prepare_rejects_bad_args(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE_REPO / "data" / "prepare.py"), "--out", str(tmp_path), "--choices", "1"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2 and "--choices" in proc.stderr
    assert not any(tmp_path.iterdir())
