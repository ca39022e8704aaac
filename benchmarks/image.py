"""Image build times and size: a cold build, then a rebuild after a model-only change.

Starts a private engine + registry (scripts/engine/start.sh), loads the cached base
image, builds the example repo's "good" model with --no-cache (cold: every layer, the
dependency install included), then the "regressed" model (only the model layer should
change). Goal: rebuild <= 0.3x the cold build. Dependencies come from the offline
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

from tests.build.conftest import _parse_env  # noqa: E402
from tests.conftest import test_cache_root  # noqa: E402

SCRIPTS = REPO_ROOT / "scripts" / "engine"


def main() -> None:
    from llm_gitops.build.context import image_requirements, prepare_wheelhouse
    from llm_gitops.build.image import build_image
    from llm_gitops.config import load_config
    from llm_gitops.models.sources import resolve_model
    from tests.support.example_models import ensure_example_models

    models = ensure_example_models()
    wheelhouse = prepare_wheelhouse(test_cache_root() / "wheelhouse", image_requirements())
    with tempfile.TemporaryDirectory(prefix="llm-gitops-bench-engine-") as state:
        started = subprocess.run([str(SCRIPTS / "start.sh"), state], capture_output=True, text=True, check=True)
        env = _parse_env(started.stdout)
        try:
            base = subprocess.run([str(SCRIPTS / "base-image.sh")], capture_output=True, text=True, check=True,
                                  env={**os.environ, **env}).stdout.split()[-1]
            project = Path(state) / "project"
            project.mkdir()
            (project / ".llm-gitops.yaml").write_text(
                f"version: 1\nimage:\n  repository: {env['LLM_GITOPS_REGISTRY']}/adder\n  base_image: {base}\n"
                f"  wheelhouse: {wheelhouse}\n  engine: {env['DOCKER_HOST']}\n"
            )
            config = load_config(project / ".llm-gitops.yaml")
            good = resolve_model(str(models.good), base_dir=project)
            regressed = resolve_model(str(models.regressed), base_dir=project)

            t0 = time.perf_counter()
            cold = build_image(config, good, tag="cold", nocache=True)
            cold_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            warm = build_image(config, regressed, tag="model-change")
            warm_s = time.perf_counter() - t0
        finally:
            subprocess.run([str(SCRIPTS / "stop.sh"), state, "--purge"], capture_output=True)

    print(f"cold build + push          {cold_s:7.1f} s  ({cold.steps} steps)")
    print(f"model-only rebuild + push  {warm_s:7.1f} s  ({warm.cached_steps}/{warm.steps} steps cached)")
    print(f"ratio                      {warm_s / cold_s:7.2f}   (goal <= 0.30)")
    print(f"image size                 {cold.size / 1e6:7.0f} MB (uncompressed)")


if __name__ == "__main__":
    main()
