"""Directories made whole or not at all: filled in a hidden sibling, then renamed into place.

Caches of downloaded or assembled models (a Hub snapshot, an adapter's view) must never
be seen half-written, by a later run after a crash or by a concurrent one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def fill_atomically(target: Path, fill: Callable[[Path], None]) -> Path:
    """Make directory ``target`` by ``fill(tmp)``; returns ``target``.

    ``tmp`` is a fresh hidden directory beside ``target``, renamed to it once ``fill``
    returns; if ``fill`` raises, nothing is left. When another process made ``target``
    meanwhile, its copy is kept and this one dropped.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        fill(tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent writer that won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
