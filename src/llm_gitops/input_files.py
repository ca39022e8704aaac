"""Opening files a user names (config, task YAML, task data) within bounds.

A path in a config can name anything: a directory, ``/dev/zero``, a FIFO, a symlink
loop, a 20 MB file. Every read here is of a regular file, bounded in size, and opened
without blocking, so a hostile or careless path gives a reason in words instead of a
hang, a memory blow-up or a traceback. Callers turn :class:`UnusableFile` into their
own one-line error (naming the field that gave the path).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

MIB = 1 << 20
# Config and task YAML files: a real one is a few KiB.
MAX_YAML_BYTES = 1 * MIB
# One local task data file (JSONL, CSV, ...): CI evals read small samples; a bigger file
# belongs on a dataset hub, not in a git checkout.
MAX_DATA_BYTES = 2048 * MIB
# Files under one local dataset directory.
MAX_DATA_FILES = 10_000

_CHUNK = 1 << 20


class UnusableFile(Exception):
    """A path that cannot be read as asked; ``reason`` completes "PATH ..." (e.g. "is a directory")."""

    def __init__(self, path: Path | str, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path} {reason}")


def size_text(n: int) -> str:
    return f"{n / MIB:.1f} MiB" if n >= MIB else f"{n} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open_failure(path: Path, exc: OSError) -> UnusableFile:
    if exc.errno == errno.ELOOP:
        return UnusableFile(path, "is a symlink loop (a link that leads back to itself)")
    if exc.errno == errno.ENOENT:
        if os.path.islink(path):
            return UnusableFile(path, f"is a dangling symlink (to {os.readlink(path)!r})")
        return UnusableFile(path, "not found")
    if exc.errno == errno.ENOTDIR:
        return UnusableFile(path, "not found (a parent in the path is a file, not a directory)")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UnusableFile(path, "cannot be read (permission denied)")
    return UnusableFile(path, f"cannot be opened ({exc.strerror or exc})")


_NUL = "is not a usable path (it contains a NUL character)"


def kind_of(path: Path) -> str:
    """What ``path`` is: "file", "directory", or raise UnusableFile (missing, loop, device, ...)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _open_failure(Path(path), exc) from None
    except ValueError:
        raise UnusableFile(path, _NUL) from None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    raise UnusableFile(path, f"is {_kind(mode)}, not a regular file")


def resolve(path: Path) -> Path:
    """The real path of an existing regular file or directory; else UnusableFile naming ``path``
    as given (a dangling link or a loop is said as such, not as its target "not found")."""
    kind_of(path)
    try:
        return Path(path).resolve()
    except RuntimeError:  # Python < 3.13 reports a loop this way
        raise UnusableFile(path, "is a symlink loop (a link that leads back to itself)") from None
    except OSError as exc:
        raise _open_failure(Path(path), exc) from None
    except ValueError:
        raise UnusableFile(path, _NUL) from None


class _Regular:
    """An open regular file (never blocks on open: a FIFO or device is refused, not read)."""

    def __init__(self, path: Path, limit: int, what: str):
        self.path = Path(path)
        try:
            # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
            self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            raise _open_failure(self.path, exc) from None
        except ValueError:
            raise UnusableFile(self.path, _NUL) from None
        st = os.fstat(self.fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(self.fd)
            raise UnusableFile(self.path, f"is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > limit:
            os.close(self.fd)
            raise UnusableFile(self.path, f"is {size_text(st.st_size)}, over the {size_text(limit)} limit for {what}")
        self.limit = limit
        self.what = what

    def chunks(self):
        """The content in chunks; refuses to go past the limit (a file that grows while read)."""
        read = 0
        try:
            while True:
                chunk = os.read(self.fd, _CHUNK)
                if not chunk:
                    return
                read += len(chunk)
                if read > self.limit:
                    raise UnusableFile(self.path, f"grew past the {size_text(self.limit)} limit for {self.what} while read")
                yield chunk
        finally:
            os.close(self.fd)


def read_text(path: Path, *, limit: int = MAX_YAML_BYTES, what: str = "a YAML file") -> str:
    """A regular file's text, at most ``limit`` bytes, strictly UTF-8 (a leading BOM is kept)."""
    data = b"".join(_Regular(path, limit, what).chunks())
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise UnusableFile(
            path, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); save it as UTF-8"
        ) from None


def sha256_file(path: Path, *, limit: int = MAX_DATA_BYTES, what: str = "task data") -> str:
    """``sha256:HEX`` of a regular file of at most ``limit`` bytes."""
    digest = hashlib.sha256()
    for chunk in _Regular(path, limit, what).chunks():
        digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def files_under(directory: Path, *, max_files: int = MAX_DATA_FILES) -> list[Path]:
    """Every regular file under ``directory`` (links followed, as a dataset loader would),
    sorted; a symlink loop, a device or FIFO, or more than ``max_files`` files is refused."""
    directory = Path(directory)
    found: list[Path] = []
    visited = 0
    # Each directory with the (device, inode) of the directories above it on its path: a
    # directory that is its own ancestor is a loop (a link reached twice from two sides is not).
    stack: list[tuple[Path, frozenset]] = [(directory, frozenset())]
    while stack:
        current, above = stack.pop()
        try:
            st = os.stat(current)
        except OSError as exc:
            raise _open_failure(current, exc) from None
        here = (st.st_dev, st.st_ino)
        if here in above:
            raise UnusableFile(current, "is a symlink loop (a link to a directory that contains it)")
        visited += 1
        if visited > max_files:
            raise UnusableFile(directory, f"holds more than {max_files} directories, the limit for a local dataset")
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            raise _open_failure(current, exc) from None
        for entry in entries:
            path = Path(entry.path)
            if kind_of(path) == "directory":
                stack.append((path, above | {here}))
            else:
                found.append(path)
                if len(found) > max_files:
                    raise UnusableFile(directory, f"holds more than {max_files} files, the limit for a local dataset")
    return sorted(found)


__all__ = ["MAX_DATA_BYTES", "MAX_DATA_FILES", "MAX_YAML_BYTES", "UnusableFile", "files_under", "kind_of",
           "read_text", "resolve", "sha256_file", "size_text"]
