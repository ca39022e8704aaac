"""A content-addressed cache of JSON results (evals, benchmarks).

The key is a canonical JSON of everything that determines the result (model digest,
task config hashes, settings, tool versions); the value is written atomically, so a
crash never leaves a half-written entry that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ContextManager

from llm_gitops.machine_lock import alone_on_this_machine


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def content_key(data: Any) -> str:
    """sha256 of the canonical JSON of ``data``."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def _umask() -> int:
    """The process umask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes, e.g. a PNG) to ``path`` via a temp file + rename (never half-written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file 0600; a report or config must get the mode open() would give.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultCache:
    """``get``/``put`` JSON documents under ``root/<namespace>/<key>.json``."""

    def __init__(self, root: Path, namespace: str):
        self.dir = Path(root) / namespace

    def path_for(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path_for(key)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            # A corrupt entry is a miss, not a crash; it will be overwritten.
            return None
        # Every entry is a JSON object: anything else (another build's, a hand edit) is a miss too.
        return document if isinstance(document, dict) else None

    def put(self, key: str, document: dict) -> Path:
        path = self.path_for(key)
        write_atomic(path, json.dumps(document, indent=2, sort_keys=True, default=str))
        return path

    def alone(self, key: str, *, on_wait: Callable[[], None]) -> ContextManager[None]:
        """Be the one process of this machine computing ``key``'s entry: another that asks
        for it meanwhile (two CI jobs on one runner gating against the same baseline)
        calls ``on_wait``, waits, and then finds the entry instead of computing it again.

        Only work is saved: entries are written atomically, so without the lock two
        processes would write the same entry. The lock (``machine_lock``) lives in the
        temp directory, not in the cache, so a computation that fails leaves nothing behind.
        """
        return alone_on_this_machine(content_key([str(self.dir.resolve()), key]), on_wait=on_wait)
