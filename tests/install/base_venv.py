"""A virtualenv holding only the base install (or the base plus chosen extras).

No package index is needed: the distributions the base install requires (and their
own requirements, transitively) are linked from the test environment into a fresh
``python -m venv --without-pip``, and llm-gitops itself is put on the path from the
checkout, as ``pip install -e .`` without extras would. Anything else (torch, lm-eval,
MLflow...) is simply absent, exactly as on a runner that installed ``llm-gitops`` or
``llm-gitops[forge]``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[2]


def requirement_closure(extras: tuple[str, ...] = ()) -> set[str]:
    """Distribution names llm-gitops needs with ``extras`` (markers evaluated here)."""
    wanted: set[str] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [("llm-gitops", extras)]
    while todo:
        name, with_extras = todo.pop()
        for text in metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is not None and not any(
                req.marker.evaluate({"extra": e}) for e in (*with_extras, "")
            ):
                continue
            dist = canonicalize_name(req.name)
            if dist == "llm-gitops":
                todo.append((dist, tuple(req.extras)))
                continue
            if dist not in wanted:
                wanted.add(dist)
                todo.append((req.name, tuple(req.extras)))
    return wanted


def make_venv(root: Path, extras: tuple[str, ...] = ()) -> Path:
    """Create the venv at ``root``; return its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                        text=True).strip())
    here = Path(sysconfig.get_paths()["purelib"])
    for name in requirement_closure(extras):
        dist = metadata.distribution(name)
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in tops:
            source = here / top
            if top in ("bin", "__pycache__") or not source.exists() or (site / top).exists():
                continue
            os.symlink(source, site / top)
    (site / "llm_gitops_checkout.pth").write_text(str(REPO_ROOT / "src") + "\n")
    return python
