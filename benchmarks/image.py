"""Image build times and size: a cold build, then a rebuild after a model-only change.

Starts a private engine + registry (scripts/engine/start.sh), loads the cached base
image, builds and pushes the example repo's "good" model (cold: a fresh engine has no
build cache, so every layer is built, the dependency install included), then the
"regressed" model (only the model layer should change). Goal: rebuild <= 0.3x the cold build. Dependencies come from the offline
wheelhouse in the test cache, so the network does not time the build.

    .venv/bin/python benchmarks/image.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.support.engine import _parse_env, frozen_package_inputs  # noqa: E402
from tests.conftest import test_cache_root  # noqa: E402

SCRIPTS = REPO_ROOT / "scripts" / "engine"


def _timed_build(config, model, tag: str):
    """``build_image`` with push; returns (result, total seconds, push seconds)."""
    from llm_gitops.build.image import build_image

    push_started = []

    def progress(line: str) -> None:
        if line.startswith("pushing ") and not push_started:
            push_started.append(time.perf_counter())

    t0 = time.perf_counter()
    result = build_image(config, model, tag=tag, progress=progress)
    end = time.perf_counter()
    return result, end - t0, end - push_started[0]


def main() -> None:
    from llm_gitops.build.context import prepare_wheelhouse
    from llm_gitops.config import load_config
    from llm_gitops.models.sources import resolve_model
    from tests.support.example_models import ensure_example_models

    models = ensure_example_models()
    with tempfile.TemporaryDirectory(prefix="llm-gitops-bench-image-") as tmp:
        state = Path(tmp) / "engine"  # stop.sh --purge deletes it
        # One wheel for both builds: an edit to the checkout mid-benchmark must not
        # show up as a changed wheel layer in the "model-only" rebuild.
        with frozen_package_inputs(Path(tmp) / "inputs") as inputs:
            wheelhouse = prepare_wheelhouse(test_cache_root() / "wheelhouse", list(inputs.requirements))
            started = subprocess.run([str(SCRIPTS / "start.sh"), str(state)], capture_output=True, text=True,
                                     check=True)
            env = _parse_env(started.stdout)
            try:
                base = subprocess.run([str(SCRIPTS / "base-image.sh")], capture_output=True, text=True, check=True,
                                      env={**os.environ, **env}).stdout.split()[-1]
                project = Path(tmp) / "project"
                project.mkdir()
                (project / ".llm-gitops.yaml").write_text(
                    f"version: 1\nimage:\n  repository: {env['LLM_GITOPS_REGISTRY']}/adder\n  base_image: {base}\n"
                    f"  wheelhouse: {wheelhouse}\n  engine: {env['DOCKER_HOST']}\n"
                )
                config = load_config(project / ".llm-gitops.yaml")
                good = resolve_model(str(models.good), base_dir=project)
                regressed = resolve_model(str(models.regressed), base_dir=project)

                # The engine is fresh (its storage is new), so the first build is cold as on
                # a new CI runner: only the base image is there. Not --no-cache: a no-cache
                # build leaves layers the next build does not fully reuse.
                cold, cold_s, cold_push_s = _timed_build(config, good, "cold")
                warm, warm_s, warm_push_s = _timed_build(config, regressed, "model-change")
            finally:
                t0 = time.perf_counter()
                subprocess.run([str(SCRIPTS / "stop.sh"), str(state), "--purge"], capture_output=True)
                stop_s = time.perf_counter() - t0

    print(f"cold build + push          {cold_s:7.1f} s  (push {cold_push_s:.1f} s; "
          f"{cold.cached_steps}/{cold.steps} steps cached)")
    print(f"model-only rebuild + push  {warm_s:7.1f} s  (push {warm_push_s:.1f} s; "
          f"{warm.cached_steps}/{warm.steps} steps cached)")
    print(f"ratio                      {warm_s / cold_s:7.2f}   (goal <= 0.30)")
    print(f"image size                 {cold.size / 1e6:7.0f} MB (uncompressed)")
    print(f"engine stop + purge        {stop_s:7.1f} s")


if __name__ == "__main__":
    main()
