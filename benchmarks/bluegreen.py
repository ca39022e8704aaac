"""Blue/green switching under keep-alive load: llm-gitops' haproxy switch beside an nginx reload.

Two real ``llm-gitops serve`` processes (blue and green, the example model) on loopback.
In one run, 8 client threads with keep-alive connections send completions through a
front while the live colour is switched back and forth:

* front 1: haproxy, rendered and switched by llm-gitops (``deploy/haproxy.py``: one
  runtime-API weight change, no reload);
* front 2: nginx with the upstream in an include file, switched by rewriting it and
  ``nginx -s reload`` (the common hand-made blue/green).

Printed: failed requests per front (goal for llm-gitops: 0), requests answered, and the
rollback time: from the switch call until a request through the front is answered by the
other colour, and then every request of a burst of 20 (all traffic on it; goal <= 1 s).
The time a deploy takes from start to traffic (pull, start, ready, analysis, switch) and a
deploy with nothing to do are measured by the engine tests' deploy records
(tests/deploy/test_docker_e2e.py) and printed there with ``-s``; see the closing notes.

    .venv/bin/python benchmarks/bluegreen.py [--clients 8] [--switches 4] [--seconds 12]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.serve import _free_port, _start_server, _stop_server  # noqa: E402

_BODY = json.dumps({"prompt": "12+34=", "max_tokens": 1, "temperature": 0})


def _colour_of(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/readyz")
    return json.loads(conn.getresponse().read())["color"]


class Load:
    """``clients`` keep-alive threads posting completions to a front until stopped (bounded)."""

    def __init__(self, port: int, clients: int, limit_s: float):
        self.port, self.failures, self.answered = port, [], 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.limit_s = limit_s
        self.threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def _client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        deadline = time.monotonic() + self.limit_s
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                conn.request("POST", "/v1/completions", body=_BODY, headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                with self.lock:
                    if resp.status == 200:
                        self.answered += 1
                    else:
                        self.failures.append(resp.status)
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(type(exc).__name__)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.close()

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


def nginx_front(prefix: Path, listen: int, upstream: int) -> tuple[subprocess.Popen | None, callable]:
    """Start nginx (pid file under ``prefix``); returns a switch(port) that rewrites + reloads."""
    for sub in ("logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    include = prefix / "upstream.conf"
    include.write_text(f"server 127.0.0.1:{upstream};\n")
    conf = prefix / "nginx.conf"
    conf.write_text(f"""\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp; proxy_temp_path {prefix}/tmp;
  fastcgi_temp_path {prefix}/tmp; uwsgi_temp_path {prefix}/tmp; scgi_temp_path {prefix}/tmp;
  upstream app {{ include {include}; keepalive 16; }}
  server {{
    listen 127.0.0.1:{listen};
    location / {{ proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
    subprocess.run(["nginx", "-p", str(prefix), "-c", str(conf)], check=True, capture_output=True)

    def switch(port: int) -> None:
        include.write_text(f"server 127.0.0.1:{port};\n")
        subprocess.run(["nginx", "-p", str(prefix), "-c", str(conf), "-t", "-q"], check=True, capture_output=True)
        subprocess.run(["nginx", "-p", str(prefix), "-c", str(conf), "-s", "reload"], check=True, capture_output=True)

    return conf, switch


def stop_nginx(prefix: Path, conf: Path) -> None:
    subprocess.run(["nginx", "-p", str(prefix), "-c", str(conf), "-s", "quit"], capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--switches", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=12.0, help="load time per front")
    args = ap.parse_args()
    for tool in ("haproxy", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: run scripts/system/traffic.sh")

    from llm_gitops.deploy.haproxy import FrontSettings, start_front, stop_front
    from tests.support.example_models import ensure_example_models

    model = ensure_example_models().good
    with tempfile.TemporaryDirectory(prefix="llm-gitops-bench-bluegreen-") as tmp:
        tmp_path = Path(tmp)
        ports = {"blue": _free_port(), "green": _free_port()}
        servers = {}
        try:
            for colour, port in ports.items():
                servers[colour] = _start_server(model, port, tmp_path / f"{colour}.log", extra=["--color", colour])
            settings = FrontSettings(listen_host="127.0.0.1", listen_port=_free_port(), run_dir=tmp_path / "front",
                                     check_interval_ms=200)
            front = start_front(settings)
            for colour, port in ports.items():
                front.attach(colour, "127.0.0.1", port)
                front.wait_up(colour, timeout_s=30)
            front.switch_to("blue")
            pause = args.seconds / (args.switches + 1)

            # --- haproxy, switched by llm-gitops
            with Load(settings.listen_port, args.clients, args.seconds * 3) as load:
                for i in range(args.switches):
                    time.sleep(pause)
                    front.switch_to("green" if i % 2 == 0 else "blue")
                time.sleep(pause)
            haproxy_failed, haproxy_ok = len(load.failures), load.answered

            # --- rollback time: switch, then the first and 20 consecutive answers from the other colour
            live = front.live()
            target = "green" if live == "blue" else "blue"
            t0 = time.perf_counter()
            front.switch_to(target)
            switch_ms = (time.perf_counter() - t0) * 1000
            while _colour_of(settings.listen_port) != target:
                pass
            first_ms = (time.perf_counter() - t0) * 1000
            burst = {_colour_of(settings.listen_port) for _ in range(20)}
            all_ms = (time.perf_counter() - t0) * 1000
            stop_front(settings)

            # --- nginx, switched by reload
            nginx_port = _free_port()
            conf, switch = nginx_front(tmp_path / "nginx", nginx_port, ports["blue"])
            try:
                time.sleep(0.5)
                with Load(nginx_port, args.clients, args.seconds * 3) as load:
                    for i in range(args.switches):
                        time.sleep(pause)
                        switch(ports["green" if i % 2 == 0 else "blue"])
                    time.sleep(pause)
                nginx_failed, nginx_ok = len(load.failures), load.answered
            finally:
                stop_nginx(tmp_path / "nginx", conf)
        finally:
            for proc in servers.values():
                _stop_server(proc)

    print(f"bluegreen: {args.clients} keep-alive clients, {args.switches} switches per front, "
          f"{args.seconds:g} s of load each")
    print(f"  llm-gitops (haproxy runtime API): {haproxy_failed} failed of {haproxy_failed + haproxy_ok} "
          f"requests (goal 0)")
    print(f"  nginx reload:                     {nginx_failed} failed of {nginx_failed + nginx_ok} requests")
    print(f"  rollback: switch call {switch_ms:.1f} ms; first answer from {target} {first_ms:.1f} ms; "
          f"20 more all from {sorted(burst)} by {all_ms:.1f} ms (goal <= 1000 ms)")


if __name__ == "__main__":
    main()
