"""The example-model cache builds once, atomically, even with parallel test processes."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from tests.support import example_models as em


def _slow_build(counter: Path):
    def build(tmp: Path) -> None:
        with counter.open("a") as f:
            f.write("built\n")
        time.sleep(0.5)  # long enough for the other process to be waiting on the lock
        (tmp / "model").mkdir()
        (tmp / "model" / "weights").write_text("w")

    return build


def _worker(final: str, counter: str) -> None:
    em._build_once(Path(final), _slow_build(Path(counter)))


def test_builds_once_and_reuses(tmp_path):
    final, counter = tmp_path / "good", tmp_path / "count"
    em._build_once(final, _slow_build(counter))
    em._build_once(final, _slow_build(counter))
    assert counter.read_text().count("built") == 1
    assert (final / "model" / "weights").read_text() == "w"


def test_parallel_processes_build_once(tmp_path):
    final, counter = tmp_path / "good", tmp_path / "count"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(str(final), str(counter))) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert counter.read_text().count("built") == 1
    assert (final / "model" / "weights").is_file()


def test_failed_build_leaves_nothing_that_looks_finished(tmp_path):
    final = tmp_path / "good"

    def broken(tmp: Path) -> None:
        (tmp / "model").mkdir()
        raise RuntimeError("training crashed")

    with pytest.raises(RuntimeError, match="training crashed"):
        em._build_once(final, broken)
    assert not final.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["good.lock"]  # no temp dir left behind
    # A later call builds it properly.
    em._build_once(final, _slow_build(tmp_path / "count"))
    assert (final / em._DONE).is_file()


def test_recipe_key_follows_the_recipe(tmp_path, monkeypatch):
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(em.EXAMPLE_REPO, repo, ignore=shutil.ignore_patterns("model", "train.jsonl", ".llm-gitops"))
    monkeypatch.setattr(em, "EXAMPLE_REPO", repo)
    before = em.recipe_key()
    (repo / "README.md").write_text("docs only\n")
    assert em.recipe_key() == before  # docs don't retrain
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("lr: 0.003", "lr: 0.002"))
    assert em.recipe_key() != before
