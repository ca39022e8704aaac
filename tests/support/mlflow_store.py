"""Empty MLflow sqlite stores for tests, made the way the gate makes them, and a real
MLflow tracking server on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from llm_gitops.tracking.mlflow_tracking import seed_sqlite_store


def empty_store(db_path: Path) -> str:
    """Put an empty, migrated MLflow database at ``db_path``; return its tracking URI."""
    db_path = Path(db_path)
    db_path.unlink(missing_ok=True)
    seed_sqlite_store(db_path)
    return f"sqlite:///{db_path}"


@contextlib.contextmanager
def mlflow_server(root: Path, *, timeout_s: float = 180.0):
    """A real ``mlflow server`` on loopback (sqlite store and artifacts under ``root``);
    yields its URL and stops it by pid."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    db = root / "server.db"
    seed_sqlite_store(db)  # the server would migrate a new store itself, in seconds
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(root / "art")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: its workers too
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
