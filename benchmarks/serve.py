"""Throughput and tail latency of ``/v1/completions``: fp32 vs an int8-dynamic artifact.

Each model is served by ``llm-gitops serve`` in its own process on loopback (one at a
time, as deployed: the clients must not share the server's interpreter lock); 8 client
threads with keep-alive connections send "A+B=" prompts (greedy, max_tokens 4, stop
"\\n") until ``--requests`` are answered or ``--seconds`` pass. Printed per variant:
requests/s, p50/p95 latency, errors and wrong sums; the model is the example repo's
trained adder (built once into the test cache).

    .venv/bin/python benchmarks/serve.py [--clients 8] [--requests 400] [--seconds 30]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HOME", os.path.join(tempfile.gettempdir(), "llm-gitops-bench-hf-home"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(model_dir: Path, port: int, log: Path, extra: list[str] = ()) -> subprocess.Popen:
    """``llm-gitops serve`` in a child process (``extra``: more serve options), stopped by pid in ``_stop_server``."""
    import httpx

    with log.open("w") as out:  # a file, not a pipe: a full pipe would stall the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "llm_gitops", "serve", "--model", str(model_dir), "--host", "127.0.0.1",
             "--port", str(port), "--drain-seconds", "0", *extra],
            stdout=out, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}: {log.read_text()[-1500:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            _stop_server(proc)
            raise SystemExit("server did not become ready within 180 s")
        time.sleep(0.2)


def _stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(model_dir: Path, *, clients: int, requests: int, seconds: float, log: Path) -> dict:
    port = _free_port()
    server = _start_server(model_dir, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        return _load(base, clients=clients, requests=requests, seconds=seconds)
    finally:
        _stop_server(server)


def _load(base: str, *, clients: int, requests: int, seconds: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = [0]
    wrong = [0]
    lock = threading.Lock()
    issued = [0]
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            n = 0
            while time.monotonic() < deadline:
                with lock:
                    if issued[0] >= requests:
                        return
                    issued[0] += 1
                a, b = (i * 7 + n) % 100, (i * 13 + n * 3) % 100
                n += 1
                start = time.perf_counter()
                r = http.post("/v1/completions", json={"prompt": f"{a:02d}+{b:02d}=", "max_tokens": 4,
                                                         "temperature": 0, "stop": ["\n"]})
                took = time.perf_counter() - start
                with lock:
                    if r.status_code == 200:
                        latencies.append(took)
                        wrong[0] += r.json()["choices"][0]["text"].strip() != f"{a + b:03d}"
                    else:
                        errors[0] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors[0],
        "wrong": wrong[0],
        "rps": len(latencies) / wall,
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    from llm_gitops.models.sources import resolve_model
    from llm_gitops.quantize.artifact import build_artifact
    from llm_gitops.quantize.base import QuantizeParams
    from tests.support.example_models import ensure_example_models

    good = ensure_example_models().good
    with tempfile.TemporaryDirectory() as tmp:
        artifact = build_artifact(resolve_model(str(good), base_dir=Path.cwd()), Path(tmp) / "int8", "int8-dynamic",
                                  QuantizeParams())
        print(f"{'variant':<14}{'requests':>9}{'errors':>7}{'wrong':>6}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}")
        for name, path in (("fp32", good), ("int8-dynamic", artifact.path)):
            r = measure(path, clients=args.clients, requests=args.requests, seconds=args.seconds,
                        log=Path(tmp) / f"serve-{name}.log")
            print(f"{name:<14}{r['requests']:>9}{r['errors']:>7}{r['wrong']:>6}{r['rps']:>8.1f}{r['p50_ms']:>9.1f}"
                  f"{r['p95_ms']:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
