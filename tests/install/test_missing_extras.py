"""A missing optional dependency is a usage error naming the extra, in a real base install.

The commands run in a virtualenv that holds only what ``pip install llm-gitops`` (or
``llm-gitops[forge]``) installs (tests/install/base_venv.py): no torch, lm-eval, MLflow
or FastAPI. Each must exit 2 with one error line that says which extra to install,
print no traceback and write nothing.
"""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from llm_gitops.errors import MissingExtra
from llm_gitops.extras import COMMAND_EXTRAS, MODULE_EXTRAS, missing_extra
from tests.corpus.harness import snapshot
from tests.evaluation.conftest import write_suite
from tests.install.base_venv import make_venv

# command line -> the extras an answer may name (gate needs two; either comes first)
COMMANDS = {
    "eval": (["eval", "--model", "../model"], {"eval"}),
    "bench": (["bench", "--model", "../model"], {"eval"}),
    "gate": (["gate", "--candidate", "../model", "--report-to", "none", "--no-perf"], {"eval", "tracking"}),
    "quantize": (["quantize", "--model", "../model", "--output", "../int8", "--no-budget"], {"quantize"}),
    "serve": (["serve", "--model", "../model", "--port", "8000"], {"serve"}),
    "register": (["register", "--model", "../model", "--name", "adder"], {"tracking"}),
}


@pytest.fixture(scope="module", params=[(), ("forge",)], ids=["base", "forge"])
def venv_python(request, tmp_path_factory) -> Path:
    return make_venv(tmp_path_factory.mktemp("venv") / "venv", request.param)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    from tests.support.tiny_model import tiny_model_copy

    root = tmp_path_factory.mktemp("extras")
    tiny_model_copy(root / "model")
    repo = write_suite(root / "repo", count=5)
    (repo / ".llm-gitops.yaml").write_text(
        "version: 1\neval:\n  tasks: [tasks/add_em.yaml]\nthresholds:\n  - {metric: add_em/exact_match, min: 0.5}\n"
    )
    return root


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_extra_is_a_usage_error_naming_it(command, venv_python, repo):
    args, extras = COMMANDS[command]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    before = snapshot(repo)
    proc = subprocess.run([str(venv_python), "-m", "llm_gitops", *args], cwd=repo / "repo", env=env,
                          capture_output=True, text=True, timeout=120)
    assert snapshot(repo) == before, "the command wrote something"
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "internal error" not in proc.stderr, proc.stderr
    named = {e for e in extras if f"pip install 'llm-gitops[{e}]'" in errors[0]}
    assert named, errors[0]


def test_the_table_matches_pyproject():
    """Each module's extras are the extras whose requirements install it (directly or
    as a dependency of one), so the named extra really brings the module."""
    provides: dict[str, set[str]] = {}  # distribution -> extras that install it
    for extra in {e for extras in MODULE_EXTRAS.values() for e in extras}:
        for dist in _extra_dists(extra):
            provides.setdefault(dist, set()).add(extra)
    dists = metadata.packages_distributions()
    for module, extras in MODULE_EXTRAS.items():
        if module == "vllm":
            assert extras == (), "vllm is installed by GPU runners, not by an extra"
            continue
        assert module in dists, f"{module} is not installed in the test environment"
        dist = canonicalize_name(dists[module][0])
        direct = provides.get(dist, set())
        # A dependency of a dependency (datasets via lm-eval, starlette via fastapi).
        via = {e for d, es in provides.items() for e in es if dist in _closure(d)}
        assert set(extras) <= direct | via, f"{module}: {extras} vs {sorted(direct | via)}"


def _extra_dists(extra: str) -> set[str]:
    """Distributions an extra of llm-gitops requires (an extra naming another expands)."""
    out: set[str] = set()
    for text in metadata.requires("llm-gitops") or []:
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": extra}):
            continue
        if canonicalize_name(req.name) == "llm-gitops":
            for inner in req.extras:
                out |= _extra_dists(inner)
        else:
            out.add(canonicalize_name(req.name))
    return out


def _closure(dist: str, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    try:
        reqs = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return seen
    for text in reqs:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name not in seen:
            seen.add(name)
            _closure(name, seen)
    return seen


def test_an_installed_module_is_not_a_missing_extra():
    """A broken install (torch present, a submodule failing) stays a bug report."""
    exc = ModuleNotFoundError("No module named 'torch._nope'", name="torch._nope")
    assert missing_extra(exc, "eval") is None


def test_the_extra_fits_the_command(monkeypatch):
    monkeypatch.setattr("llm_gitops.extras._installed", lambda module: module != "torch")
    exc = ModuleNotFoundError("No module named 'torch'", name="torch")
    for command, extra in (("serve", "serve"), ("quantize", "quantize"), ("eval", "eval"), (None, "eval")):
        error = missing_extra(exc, command)
        assert isinstance(error, MissingExtra) and f"llm-gitops[{extra}]" in str(error), (command, error)


def test_a_wrapped_import_error_is_found_through_its_cause():
    try:
        try:
            raise ModuleNotFoundError("No module named 'vllm'", name="vllm")
        except ImportError as inner:
            raise RuntimeError("backend failed") from inner
    except RuntimeError as outer:
        error = missing_extra(outer, "eval")
    assert error is not None and "GPU runners" in str(error) and "'vllm'" in str(error)
