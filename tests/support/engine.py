"""A private container engine + registry for the engine tests (build, deploy), started once per session.

Loaded as a pytest plugin by tests/conftest.py.

scripts/engine/start.sh runs `podman system service` and `docker-registry` on loopback
with all state in a temp dir; scripts/engine/base-image.sh loads (or builds and caches)
the Python base image; scripts/engine/stop.sh stops both by pid at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, test_cache_root

SCRIPTS = REPO_ROOT / "scripts" / "engine"


@dataclass(frozen=True)
class Engine:
    state: Path
    docker_host: str
    registry: str  # 127.0.0.1:PORT
    base_image: str
    env: dict[str, str]


def _parse_env(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if line.startswith("export ") and "=" in line:
            key, value = line[len("export "):].split("=", 1)
            out[key] = value
    return out


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> Engine:
    missing = [tool for tool in ("podman", "runc", "docker-registry") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed; run scripts/system/engine.sh")
    state = tmp_path_factory.mktemp("engine")
    started = subprocess.run([str(SCRIPTS / "start.sh"), str(state)], capture_output=True, text=True, timeout=180)
    if started.returncode != 0:
        pytest.fail(f"engine did not start: {started.stderr.strip()}")
    env = _parse_env(started.stdout)
    try:
        base = subprocess.run([str(SCRIPTS / "base-image.sh")], capture_output=True, text=True, timeout=900,
                              env={**os.environ, **env})
        if base.returncode != 0:
            pytest.fail(f"base image: {base.stderr.strip()[-500:]}")
        yield Engine(state=state, docker_host=env["DOCKER_HOST"], registry=env["LLM_GITOPS_REGISTRY"],
                     base_image=base.stdout.strip().splitlines()[-1], env=env)
    finally:
        subprocess.run([str(SCRIPTS / "stop.sh"), str(state), "--purge"], capture_output=True, timeout=120)


@dataclass(frozen=True)
class FrozenInputs:
    wheel: Path
    requirements: tuple[str, ...]


@contextmanager
def frozen_package_inputs(workdir: Path) -> Iterator[FrozenInputs]:
    """Build the llm-gitops wheel once (into ``workdir``) and give every ``build_image``
    inside the block that same wheel and the same image requirements.

    ``build_image`` makes both from the checkout on every call (a wheel per source
    digest, requirements from pyproject.toml), which is right for users: a changed
    source must reach the image. But the checkout may change under a several-minute
    build (an editor saving, a parallel job), and then two builds would differ in their
    wheel layer too, not only in the model. The wheel is made by the real
    ``package_wheel``; nothing else about the build is replaced.
    """
    from llm_gitops.build import context as ctx

    requirements = tuple(ctx.image_requirements())
    built = ctx.package_wheel(workdir / "wheel-cache")
    (workdir / "package").mkdir(parents=True, exist_ok=True)
    wheel = Path(shutil.copy2(built, workdir / "package" / built.name))
    patch = pytest.MonkeyPatch()
    patch.setattr(ctx, "package_wheel", lambda _cache: wheel)
    patch.setattr(ctx, "image_requirements", lambda: list(requirements))
    try:
        yield FrozenInputs(wheel=wheel, requirements=requirements)
    finally:
        patch.undo()


@pytest.fixture(scope="session")
def frozen_build_inputs(tmp_path_factory) -> Iterator[FrozenInputs]:
    """The session's one llm-gitops wheel and requirements (see ``frozen_package_inputs``)."""
    with frozen_package_inputs(tmp_path_factory.mktemp("frozen-inputs")) as inputs:
        yield inputs


@pytest.fixture(scope="session")
def wheelhouse(frozen_build_inputs) -> Path:
    """Wheels for the image (torch from this machine), downloaded once into the test cache
    and kept across sessions (re-downloaded only when the requirements change)."""
    from llm_gitops.build.context import prepare_wheelhouse

    return prepare_wheelhouse(test_cache_root() / "wheelhouse", list(frozen_build_inputs.requirements))
