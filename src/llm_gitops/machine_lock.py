"""Named locks held by one process of this machine at a time (a kernel ``flock``).

What they guard is work, not correctness: a second process that asks while the first
holds the name says so (``on_wait``) and waits. A killed holder releases its lock. The
lock files live in a per-user directory of the temp directory and are removed on release,
so nothing is left where results are kept.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def alone_on_this_machine(name: str, *, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold lock ``name`` (letters, digits, '-') for the ``with`` body."""
    fh = _lock_file(name)
    if fh is None:  # no private lock directory to be had: go on without the lock
        yield
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            # Unlinked before it is released (and only if the name is still this file): a
            # waiter then holds a lock nobody new can join, while a process arriving later
            # locks a new file.
            with contextlib.suppress(OSError):
                if os.stat(fh.name).st_ino == os.fstat(fh.fileno()).st_ino:
                    os.unlink(fh.name)


def lock_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"llm-gitops-{os.getuid()}-locks"


def _lock_file(name: str) -> IO[str] | None:
    """``lock_dir()/<name>.lock`` opened for locking; None where that directory cannot be
    made private to this user (another user's, a link)."""
    locks = lock_dir()
    try:
        locks.mkdir(mode=0o700, exist_ok=True)
        if os.path.islink(locks) or not locks.is_dir() or os.lstat(locks).st_uid != os.getuid():
            return None
        return open(locks / f"{name}.lock", "a")
    except OSError:
        return None
