"""Optional dependencies: which extra of ``llm-gitops`` installs a missing module.

The base install (click, pyyaml, pydantic, requests) validates configs and posts
comments; evaluation, tracking, serving and builds live in extras (pyproject.toml). A
command that reaches a module its install lacks is a usage error naming the extra to
install, not a bug: :func:`missing_extra` turns the ``ImportError`` into that error,
in one place (the CLI's top level).
"""

from __future__ import annotations

import importlib.util

from llm_gitops.errors import MissingExtra

# Top-level import name -> the extras that install it; the first is the default. Kept
# in step with pyproject.toml by tests/test_extras.py.
MODULE_EXTRAS: dict[str, tuple[str, ...]] = {
    "torch": ("eval", "serve", "quantize"),
    "transformers": ("eval", "serve", "quantize"),
    "safetensors": ("eval", "serve", "quantize"),
    "tokenizers": ("eval", "serve", "quantize"),
    "huggingface_hub": ("eval", "serve", "quantize"),  # a dependency of transformers
    "accelerate": ("eval", "quantize"),
    "lm_eval": ("eval", "quantize"),
    "datasets": ("eval", "quantize"),  # lm-eval's, imported by the runner directly
    "tqdm": ("eval", "quantize"),
    "vllm": (),  # not an extra: GPU runners install it themselves (VLLM_INSTALL)
    "peft": ("eval", "quantize"),
    "numpy": ("eval", "serve", "quantize"),
    "scipy": ("eval", "quantize"),
    "psutil": ("eval", "quantize"),
    "matplotlib": ("eval", "quantize"),
    "torchao": ("quantize", "serve"),
    "fastapi": ("serve",),
    "uvicorn": ("serve",),
    "starlette": ("serve",),  # fastapi's
    "prometheus_client": ("serve",),
    "mlflow": ("tracking",),
    "dvc": ("dvc",),
    "github": ("forge",),
    "gitlab": ("forge",),
    "jenkinsapi": ("forge",),
    "docker": ("build",),
}
VLLM_INSTALL = (
    "eval.backend 'vllm' runs on CUDA GPU runners only: 'pip install vllm' there (it is not an llm-gitops "
    "extra; see docs/gpu.md), or use backend 'hf'"
)
# The extras each command is documented to need, so that a module several extras
# provide is named by the one that fits the command (torch for serve: [serve]).
COMMAND_EXTRAS: dict[str, tuple[str, ...]] = {
    "eval": ("eval",),
    "bench": ("eval",),
    "gate": ("eval", "tracking"),
    "quantize": ("quantize",),
    "serve": ("serve",),
    "register": ("tracking",),
    "build": ("build",),
    "jenkins": ("forge",),
}


def missing_extra(exc: BaseException, command: str | None = None) -> MissingExtra | None:
    """The usage error for an ImportError of an optional module that is not installed.

    Looks through the exception's causes (libraries re-raise import failures as their
    own ImportError). None when the module is not one of ours or is in fact installed
    (a broken install is not a missing extra).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ImportError) and current.name:
            top = current.name.split(".", 1)[0]
            extras = MODULE_EXTRAS.get(top)
            if extras is not None and not _installed(top):
                install = f"install the extra: pip install 'llm-gitops[{_pick(extras, command)}]'" if extras else VLLM_INSTALL
                return MissingExtra(top, install, command)
        current = current.__cause__ or current.__context__
    return None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _pick(extras: tuple[str, ...], command: str | None) -> str:
    for extra in COMMAND_EXTRAS.get(command or "", ()):
        if extra in extras:
            return extra
    return extras[0]
