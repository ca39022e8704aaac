"""The example repo's trained models, built once and cached outside the repo.

``ensure_example_models()`` runs the example repo's own ``data/prepare.py`` and
``train.py`` (as a team's CI would) and returns where the results are:

* ``good``: ``train.py`` at the default ``params.yaml`` (~100% held-out exact match);
* ``regressed``: the same recipe stopped early (a quarter of the steps), a realistic
  "this PR made the model worse" candidate: clearly worse, far from useless.

Builds land in ``${LLM_GITOPS_TEST_CACHE:-~/.cache/llm-gitops-tests}/example-models/<key>/``
(``data/``, ``good/``, ``regressed-steps<N>/``, ``seed<S>/``), where ``<key>`` hashes the
recipe (prepare.py, train.py, params.yaml, the task YAMLs): a changed recipe builds
afresh, an unchanged one is reused. Each piece is built the first time it is asked for.
A file lock makes parallel pytest workers wait for one build instead of racing; the
build happens in a temporary directory renamed into place, so a killed build never
leaves a half-made model that looks finished.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import test_cache_root

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_REPO = REPO_ROOT / "examples" / "repo-template"

# The regressed candidate: the default recipe with fewer steps (and its own, shorter
# schedule), which lands mid-way on the learning curve.
REGRESSED_STEPS = 250
# Bumped when the build's layout changes, so old caches are not reused.
LAYOUT_VERSION = 2
_DONE = "BUILD-OK.json"


@dataclass(frozen=True)
class ExampleModels:
    good: Path  # Hugging Face model dir, default params
    regressed: Path  # Hugging Face model dir, under-trained
    repo: Path  # examples/repo-template (the source, not a copy)
    config: Path  # its .llm-gitops.yaml
    data: Path  # the prepared data (train.jsonl, eval/add_em.jsonl, eval/add_mc.jsonl)


def recipe_key() -> str:
    """A digest of everything that decides what the build produces."""
    h = hashlib.sha256()
    files = [EXAMPLE_REPO / "data" / "prepare.py", EXAMPLE_REPO / "train.py", EXAMPLE_REPO / "params.yaml"]
    files += sorted((EXAMPLE_REPO / "tasks").glob("*.yaml"))
    for f in files:
        h.update(f.relative_to(EXAMPLE_REPO).as_posix().encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    h.update(f"layout {LAYOUT_VERSION}".encode())
    return h.hexdigest()[:16]


def _log(msg: str) -> None:
    # Straight to the terminal: a first build takes minutes and should say so.
    print(f"[example-models] {msg}", file=sys.__stderr__, flush=True)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="ignore",
    )
    env.setdefault("HF_HOME", str(Path(tempfile.gettempdir()) / "llm-gitops-tests-hf-home"))
    return env


def _run(args: list[str], log: Path, label: str) -> None:
    """Run one of the repo's scripts, echo its progress, keep its full log."""
    _log(f"{label}: {' '.join(args[1:])}")
    with log.open("a", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=EXAMPLE_REPO, env=_env(), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            if line.startswith(("step", "held-out", "prepare:", "train:", "saved")):
                _log(f"{label}: {line.rstrip()}")
        rc = proc.wait()
    if rc != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-30:])
        # The build's temp dir (and this log) is removed on failure: keep the tail here.
        raise RuntimeError(f"example model build failed ({label}, exit {rc}); last lines of its log:\n{tail}")


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # blocks while another process builds
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _build_once(final: Path, build: Callable[[Path], None]) -> None:
    """Make ``final`` via ``build(tmpdir)`` unless a finished one exists; atomic, locked."""
    if (final / _DONE).is_file():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    with _locked(final.with_name(final.name + ".lock")):
        if (final / _DONE).is_file():  # another process finished it while we waited
            return
        if final.exists():  # an unfinished leftover (no marker): start over
            shutil.rmtree(final)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
        try:
            start = time.monotonic()
            build(tmp)
            (tmp / _DONE).write_text(json.dumps({"seconds": round(time.monotonic() - start, 1)}) + "\n")
            os.replace(tmp, final)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _key_dir() -> Path:
    return test_cache_root() / "example-models" / recipe_key()


def _prepared_data() -> Path:
    final = _key_dir() / "data"

    def build(tmp: Path) -> None:
        _run(["data/prepare.py", "--out", str(tmp / "data")], tmp / "build.log", "prepare")

    _build_once(final, build)
    return final / "data"


def _trained(name: str, extra_args: list[str]) -> Path:
    """``train.py`` on the prepared data with ``extra_args``, cached as ``<key>/<name>/model``."""
    data = _prepared_data()
    final = _key_dir() / name

    def build(tmp: Path) -> None:
        _log(f"training {name} into {final} (first time only; ~2 minutes on 2 idle cores)")
        _run(["train.py", "--data", str(data), "--out", str(tmp / "model"), *extra_args], tmp / "build.log", name)

    _build_once(final, build)
    return final / "model"


def ensure_example_models() -> ExampleModels:
    """Build (first time, ~3 minutes on 2 idle cores) or reuse the good and regressed models."""
    return ExampleModels(
        good=_trained("good", []),
        regressed=_trained(f"regressed-steps{REGRESSED_STEPS}", ["--steps", str(REGRESSED_STEPS)]),
        repo=EXAMPLE_REPO,
        config=EXAMPLE_REPO / ".llm-gitops.yaml",
        data=_prepared_data(),
    )


def ensure_seed_model(seed: int, steps: int | None = None) -> Path:
    """Another model from the same recipe with another seed (equal quality at default steps)."""
    extra = ["--seed", str(seed)] + (["--steps", str(steps)] if steps else [])
    return _trained(f"seed{seed}" + (f"-steps{steps}" if steps else ""), extra)


if __name__ == "__main__":  # python -m tests.support.example_models: build now, print where
    m = ensure_example_models()
    print(json.dumps({k: str(v) for k, v in m.__dict__.items()}, indent=2))
