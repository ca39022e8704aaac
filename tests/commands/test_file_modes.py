"""Files llm-gitops writes get the mode open() would give them: 0644 under umask 022."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

from llm_gitops.cache import write_atomic


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_writes_the_config_world_readable_under_umask_022(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "llm-gitops")
    proc = subprocess.run(["bash", "-c", 'umask 022 && exec "$0" init', exe], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert _mode(tmp_path / ".llm-gitops.yaml") == 0o644


def _written_under(mask: int, path) -> int:
    old = os.umask(mask)
    try:
        write_atomic(path, "{}")
    finally:
        os.umask(old)
    return _mode(path)


def test_write_atomic_follows_the_umask(tmp_path):
    assert _written_under(0o077, tmp_path / "private.json") == 0o600
    assert _written_under(0o022, tmp_path / "report.md") == 0o644
