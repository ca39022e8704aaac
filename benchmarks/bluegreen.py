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
With ``--engine``, also a real deploy on a private Podman engine + local registry (as the
engine tests start them): two releases of the example model (good, then regressed) built
by ``build_image`` and deployed by ``llm-gitops deploy``; printed: the time from deploy
start to traffic on the new colour split into pull, start, ready, analysis and switch
(from the deploy records), a deploy with nothing to do (goal <= 1 s; the CLI process's
wall time and the reconcile itself), and ``llm-gitops rollback``'s wall time.

    .venv/bin/python benchmarks/bluegreen.py [--clients 8] [--switches 4] [--seconds 12] [--engine]
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
    ap.add_argument("--engine", action="store_true", help="also time real deploys on a private Podman engine")
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
    if args.engine:
        engine_deploys()


def _cli(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "llm_gitops", *args], cwd=root, capture_output=True, text=True,
                          timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"llm-gitops {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc, time.perf_counter() - t0


def engine_deploys() -> None:
    import os

    from llm_gitops.build.context import prepare_wheelhouse
    from llm_gitops.build.image import build_image
    from llm_gitops.commands.deploy import environment_target
    from llm_gitops.config import load_config
    from llm_gitops.deploy.haproxy import stop_front
    from llm_gitops.models.sources import resolve_model
    from tests.conftest import test_cache_root
    from tests.support.engine import _parse_env, frozen_package_inputs
    from tests.support.example_models import ensure_example_models

    scripts = REPO_ROOT / "scripts" / "engine"
    models = ensure_example_models()
    with tempfile.TemporaryDirectory(prefix="llm-gitops-bench-deploy-") as tmp:
        tmp_path = Path(tmp)
        state = tmp_path / "engine"
        with frozen_package_inputs(tmp_path / "inputs") as inputs:
            wheelhouse = prepare_wheelhouse(test_cache_root() / "wheelhouse", list(inputs.requirements))
            started = subprocess.run([str(scripts / "start.sh"), str(state)], capture_output=True, text=True, check=True)
            env = _parse_env(started.stdout)
            target = None
            try:
                base = subprocess.run([str(scripts / "base-image.sh")], capture_output=True, text=True, check=True,
                                      env={**os.environ, **env}).stdout.split()[-1]
                root = tmp_path / "project"
                (root / "deploy").mkdir(parents=True)
                (root / "deploy" / "staging.yaml").write_text("version: 1\nrelease: null\n")
                (root / ".llm-gitops.yaml").write_text(
                    f"version: 1\nimage:\n  repository: {env['LLM_GITOPS_REGISTRY']}/adder\n  base_image: {base}\n"
                    f"  wheelhouse: {wheelhouse}\n  engine: {env['DOCKER_HOST']}\n"
                    f"environments:\n  staging:\n    target: docker\n    docker: {{listen: '127.0.0.1:{_free_port()}'}}\n"
                    "    require_gate: false\n    scale_down_delay: 0\n"
                    "    analysis: {smoke_requests: 3, metrics: [{metric: error_rate, max: 0.01}], interval: 1s, "
                    "iterations: 1}\n")
                config = load_config(root / ".llm-gitops.yaml")
                _, target = environment_target(config, "staging")
                records = []
                for name, model in (("good", models.good), ("regressed", models.regressed)):
                    built = build_image(config, resolve_model(str(model), base_dir=root), tag=name)
                    # A deploy host pulls what a build host pushed: drop the local copy.
                    target.client.images.remove(f"{built.image}:{built.tag}", force=True)
                    _cli(root, "release", "--env", "staging")
                    proc, wall = _cli(root, "deploy", "--env", "staging", "--no-scale-down", "--forge", "none")
                    records.append((name, json.loads(proc.stdout), wall))
                    if name == "good":
                        noop, noop_wall = _cli(root, "deploy", "--env", "staging", "--forge", "none")
                        noop_record = json.loads(noop.stdout)
                _, rollback_wall = _cli(root, "rollback", "--env", "staging", "--forge", "none")
            finally:
                if target is not None:
                    for container in target._containers().values():
                        container.remove(force=True)
                    stop_front(target.front_settings)
                subprocess.run([str(scripts / "stop.sh"), str(state), "--purge"], capture_output=True, timeout=120)
    print("deploys on a Podman engine (example model image, 1 analysis round of 1 s + 3 smoke completions):")
    for name, record, wall in records:
        t = record["timings"]
        split = ", ".join(f"{k[:-2]} {t[k]:.2f}" for k in ("pull_s", "start_s", "ready_s", "analysis_s", "switch_s")
                          if k in t)
        print(f"  {name} -> {record['live']}: start to traffic {t['to_traffic_s']:.2f} s ({split} s); "
              f"CLI wall {wall:.2f} s")
    print(f"  nothing to do: CLI wall {noop_wall:.2f} s, reconcile {noop_record['timings']['total_s']:.3f} s "
          f"(goal <= 1 s)")
    print(f"  rollback (CLI wall, start-up included): {rollback_wall:.2f} s")


if __name__ == "__main__":
    main()
