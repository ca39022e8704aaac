"""One process of a machine computes a cache entry; another asking for it meanwhile waits
and then finds it (two CI jobs on one runner gating against the same baseline). Benchmarks
run one at a time on a machine, whatever their model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading

import pytest

from llm_gitops.cache import ResultCache
from llm_gitops.evaluation.runner import CACHE_NAMESPACE
from llm_gitops.machine_lock import alone_on_this_machine, lock_dir
from tests.evaluation.conftest import write_suite
from tests.support.tiny_model import tiny_model_copy

CONFIG = "version: 1\neval:\n  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]\n  limit: 8\n  batch_size: 8\n"


def test_a_second_holder_waits_for_the_first(tmp_path):
    cache = ResultCache(tmp_path / "cache", "eval")
    order: list[str] = []
    inside = threading.Event()
    release = threading.Event()

    def first():
        with cache.alone("k", on_wait=lambda: order.append("first waited")):
            order.append("first in")
            inside.set()
            release.wait(10)
            order.append("first out")

    holder = threading.Thread(target=first)
    holder.start()
    assert inside.wait(10)
    # flock locks belong to open files: a second open in this process contends like another process.
    threading.Timer(0.3, release.set).start()
    with cache.alone("k", on_wait=lambda: order.append("second waited")):
        order.append("second in")
    holder.join(10)
    assert order == ["first in", "second waited", "first out", "second in"]
    with cache.alone("other key", on_wait=lambda: order.append("never")):
        pass  # another key does not wait
    assert "never" not in order


def test_a_failed_computation_leaves_nothing_behind(tmp_path):
    cache = ResultCache(tmp_path / "cache", "eval")
    with pytest.raises(RuntimeError):
        with cache.alone("k", on_wait=lambda: None):
            raise RuntimeError("the eval failed")
    assert not (tmp_path / "cache").exists()  # the lock is not in the cache
    assert not (lock_dir() / f"{_lock_name(cache, 'k')}.lock").exists()  # nor its file, once released


def _lock_name(cache: ResultCache, key: str) -> str:
    from llm_gitops.cache import content_key

    return content_key([str(cache.dir.resolve()), key])


@pytest.mark.slow
def test_a_second_eval_of_the_same_model_waits_and_reads_the_first_one_s_results(tmp_path):
    """The real CLI: while another process holds the entry's lock (the first job, here the
    test itself), ``llm-gitops eval`` says it waits; once the entry exists and the lock is
    released it answers from the cache and evaluates nothing."""
    repo = write_suite(tmp_path / "repo", count=12)
    (repo / ".llm-gitops.yaml").write_text(CONFIG)
    model = tiny_model_copy(tmp_path / "model")
    env = {**os.environ, "LLM_GITOPS_STATE_DIR": str(tmp_path / "first")}
    cli = [sys.executable, "-m", "llm_gitops", "eval", "--model", str(model)]
    first = subprocess.run([*cli, "--output", str(tmp_path / "first.json")], cwd=repo, env=env, capture_output=True,
                           text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "eval: running" in first.stderr and "waiting" not in first.stderr
    key = json.loads((tmp_path / "first.json").read_text())["cache_key"]
    entry = ResultCache(tmp_path / "first" / "cache", CACHE_NAMESPACE).path_for(key)
    assert entry.is_file()

    shared = ResultCache(tmp_path / "second" / "cache", CACHE_NAMESPACE)
    with shared.alone(key, on_wait=lambda: pytest.fail("nothing else holds the lock")):
        second = subprocess.Popen([*cli, "--output", str(tmp_path / "second.json")], cwd=repo,
                                  env={**env, "LLM_GITOPS_STATE_DIR": str(tmp_path / "second")},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said = _said_until(second, "waiting for another llm-gitops run")
        assert said and "waiting for another llm-gitops run evaluating" in said[-1], "".join(said)
        # The first job finishes: its entry is written, then the lock released.
        shared.dir.mkdir(parents=True)
        shutil.copy(entry, shared.path_for(key))
    said += second.stderr.readlines()
    assert second.wait(timeout=300) == 0, "".join(said)
    assert "eval: cache hit" in "".join(said) and "eval: running" not in "".join(said), "".join(said)
    metrics = [json.loads((tmp_path / f"{run}.json").read_text())["metrics"] for run in ("first", "second")]
    assert metrics[0] == metrics[1]


def _said_until(proc: subprocess.Popen, text: str) -> list[str]:
    """stderr lines of ``proc`` up to the first holding ``text`` (all of them if none does)."""
    said = []
    for line in proc.stderr:
        said.append(line)
        if text in line:
            break
    return said


@pytest.mark.slow
def test_benchmarks_run_one_at_a_time_on_a_machine(tmp_path):
    """Two benchmarks at once would each measure the other's load: ``llm-gitops bench`` waits
    for one running on this machine (here the test holds its lock), whatever its model,
    then measures. A benchmark the cache answers does not wait."""
    model = tiny_model_copy(tmp_path / "model")
    (tmp_path / ".llm-gitops.yaml").write_text("version: 1\nperf:\n  prompts: ['1+1=']\n  max_new_tokens: 2\n"
                                               "  warmup: 1\n  repeats: 2\n  threads: 1\n")
    cli = [sys.executable, "-m", "llm_gitops", "bench", "--model", str(model), "--output", str(tmp_path / "perf.json")]
    env = {**os.environ, "LLM_GITOPS_STATE_DIR": str(tmp_path / "state")}
    with alone_on_this_machine("bench", on_wait=lambda: pytest.fail("nothing else holds the lock")):
        bench = subprocess.Popen(cli, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said = _said_until(bench, "bench: waiting for another llm-gitops benchmark on this machine")
        assert "waiting" in said[-1] and not any("bench: measuring" in line for line in said), "".join(said)
    said += bench.stderr.readlines()
    assert bench.wait(timeout=300) == 0, "".join(said)
    assert "bench: measuring" in "".join(said)
    measured = json.loads((tmp_path / "perf.json").read_text())["metrics"]
    assert measured
    with alone_on_this_machine("bench", on_wait=lambda: pytest.fail("nothing else holds the lock")):
        again = subprocess.run(cli, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "bench: cache hit" in again.stderr and "waiting" not in again.stderr, again.stderr
    assert json.loads((tmp_path / "perf.json").read_text())["metrics"] == measured
