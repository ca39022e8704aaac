"""The kubernetes target's own costs, against the Kubernetes API stand-in (kmock) on loopback.

Each step is the real CLI in a fresh process (as a CI job runs it), with the official
client talking to tests/standins/kube.py; readiness is immediate there (no kubelet), so
what is measured is llm-gitops' side: process start, config, schema checks, API calls.
Prints per step the wall time (median of ``--runs``) and the API requests it made:

- ``deploy (new release)``: blue -> green with the switch and the old colour removed
  (``scale_down_delay: 0``), and its ``to_traffic_s`` from the deploy record;
- ``deploy (nothing to do)``: goal <= 1 s, and no write but the Lease;
- ``rollback``: the selector back to the warm colour, goal <= 1 s.

    .venv/bin/python -m benchmarks.kubernetes_deploy [--runs 3] [--strategy deployments|argo-rollouts]

Most of a step is process start and imports: the official client's package alone imports in
about 0.6 s (all its API and model modules load with it). Not measured: a real cluster (image pull, pod start, the model's load), which dominates a
real deploy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from llm_gitops.deploy.desired import releases_dir  # noqa: E402
from llm_gitops.release.record import GateEvidence, Release, write_release  # noqa: E402
from tests.standins.kube import kube_cluster, write_kubeconfig  # noqa: E402


def release(n: int) -> Release:
    gate = GateEvidence(report_digest="sha256:" + "0" * 64, verdict="pass", summary="")
    return Release(image=f"registry.local/adder@sha256:{n:064x}", model_digest=f"sha256:{n}", model_source="./m",
                   quantization="none", source_commit=None, built_at="2026-12-02T00:00:00Z", gate=gate)


def cli(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "llm_gitops", *args], cwd=root, capture_output=True, text=True,
                          timeout=300)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--strategy", choices=["deployments", "argo-rollouts"], default="deployments")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}
    requests: dict[str, list[int]] = {}

    def note(step: str, seconds: float, calls: int) -> None:
        figures.setdefault(step, []).append(seconds)
        requests.setdefault(step, []).append(calls)

    with kube_cluster() as (cluster, url), tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_kubeconfig(root / "kubeconfig", url)
        config = {"version": 1, "image": {"repository": "registry.local/adder", "port": 8000},
                  "environments": {"prod": {
                      "target": "kubernetes", "scale_down_delay": 0, "readiness_timeout": 30,
                      "auto_promote": True, "analysis": {"smoke_requests": 0},
                      "kubernetes": {"namespace": "bench", "name": "adder", "kubeconfig": "kubeconfig",
                                     "strategy": args.strategy}}}}
        (root / ".llm-gitops.yaml").write_text(json.dumps(config))
        (root / "deploy").mkdir()
        deploy = ("deploy", "--env", "prod", "--forge", "none")
        for n in range(1, args.runs + 2):
            write_release(release(n), releases_dir(root))
            (root / "deploy" / "prod.yaml").write_text(f"version: 1\nrelease: {release(n).id}\n")
            flow_requests = len(cluster.calls)
            wall, proc = cli(root, *deploy, *(("--no-scale-down",) if n > 1 else ()))
            record = json.loads(proc.stdout)
            if n > 1:
                note("deploy (new release)", wall, len(cluster.calls) - flow_requests)
                figures.setdefault("  to_traffic_s (in the record)", []).append(record["timings"]["to_traffic_s"])
            before = len(cluster.calls)
            seen = len(cluster.writes)
            wall, _ = cli(root, *deploy)
            note("deploy (nothing to do)", wall, len(cluster.calls) - before)
            writes = [w for w in cluster.writes[seen:] if "/leases" not in w[1]]
            if writes:
                raise SystemExit(f"a deploy with nothing to do wrote {writes}")
            if n > 1:
                before = len(cluster.calls)
                wall, _ = cli(root, "rollback", "--env", "prod", "--forge", "none")
                note("rollback", wall, len(cluster.calls) - before)
                cli(root, *deploy)  # forward again, for the next round

    print(f"kubernetes target ({args.strategy}) against kmock on loopback, {args.runs} run(s), CLI in a fresh process")
    print(f"{'step':34} {'median s':>9} {'min s':>7} {'API requests':>13}")
    for step, values in figures.items():
        calls = requests.get(step)
        shown = f"{statistics.median(calls):>13.0f}" if calls else f"{'':>13}"
        print(f"{step:34} {statistics.median(values):>9.3f} {min(values):>7.3f} {shown}")


if __name__ == "__main__":
    main()
