"""How often does ``llm-gitops gate`` block a change that made the model no worse, and
how often does it let a real regression through?

The example repo's recipe is retrained with other seeds: models of equal quality whose
scores differ only by chance. Each is gated against the baseline (seed 0, the example's
"good" model) the way CI does it: a seeded random sample of ``--limit`` items per task
(a different sample per run). The under-trained "regressed" model is gated several times
too, with different sampling seeds. For every run the same numbers are also judged by a
naive fixed-threshold gate: fail when candidate < baseline - max_drop, no statistics.

Printed: the false-fail rate on equal-quality candidates and the fail rate on the
regressed one, for the gate and the naive rule.

Only the accuracy thresholds are used (no perf, no absolute ``min``), so both gates
decide on the same thing: the drop versus the baseline.

    .venv/bin/python benchmarks/gate_flakiness.py                      # 5 seeds, converged
    .venv/bin/python benchmarks/gate_flakiness.py --steps 600          # mid-quality recipe
    .venv/bin/python benchmarks/gate_flakiness.py --seeds 1 2 3 4 5 6 --regressed-runs 5 --limit 200

A first run trains the seed models (~2 minutes each on 2 idle cores; cached afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.example_models import ensure_example_models, ensure_seed_model  # noqa: E402


def write_config(example_config: Path, dest: Path, *, limit: int, seed: int, max_drop: str | None) -> Path:
    """The example config, accuracy-only and relative bounds only, with this run's sample."""
    doc = yaml.safe_load(example_config.read_text())
    base = example_config.parent
    doc["models"] = {}
    doc["eval"]["tasks"] = [str((base / t).resolve()) for t in doc["eval"]["tasks"]]
    doc["eval"].update(limit=limit, sampling="random", seed=seed)
    thresholds = []
    for t in doc["thresholds"]:
        if t["metric"].startswith("perf/"):
            continue
        t = {k: v for k, v in t.items() if k not in ("min", "max")}
        if max_drop:
            t["max_drop"] = max_drop
        thresholds.append(t)
    doc["thresholds"] = thresholds
    doc["tracking"] = {"mlflow": {"enabled": False}}
    doc["report"] = {"to": "none", "output_dir": "reports"}
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / ".llm-gitops.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def gate(config: Path, candidate: Path, baseline: Path, out: Path) -> dict:
    """One gate run as CI runs it (a separate process); returns the verdicts."""
    cmd = [str(Path(sys.executable).parent / "llm-gitops"), "gate", "--config", str(config),
           "--candidate", str(candidate), "--baseline", str(baseline), "--report-to", "none",
           "--output-dir", str(out), "--no-perf"]
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1",
                          HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MLFLOW_DISABLE_TELEMETRY="true"))
    seconds = time.monotonic() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"gate exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    report = json.loads((out / "report.json").read_text())
    naive_fail = False
    checks = []
    for c in report["checks"]:
        naive = c["candidate"] is not None and c["baseline"] is not None and c["allowed_drop"] is not None and (
            c["candidate"] < c["baseline"] - c["allowed_drop"] - 1e-12
        )
        naive_fail |= naive
        checks.append({k: c.get(k) for k in ("metric", "candidate", "baseline", "delta", "p_value", "verdict")})
    return {"exit": proc.returncode, "verdict": report["verdict"], "gate_fail": proc.returncode == 1,
            "naive_fail": naive_fail, "checks": checks, "seconds": round(seconds, 1)}


def rate(runs: list[dict], key: str) -> str:
    n = sum(r[key] for r in runs)
    return f"{n}/{len(runs)} ({100 * n / max(1, len(runs)):.0f}%)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4, 5],
                    help="training seeds of the equal-quality candidates (none: regressed runs only)")
    ap.add_argument("--steps", type=int, default=None,
                    help="train steps of baseline and candidates (default: the recipe's; lower = mid-quality models)")
    ap.add_argument("--regressed-runs", type=int, default=5, help="gate runs of the regressed model (sampling seeds)")
    ap.add_argument("--limit", type=int, default=200, help="eval items per task per run (eval.limit)")
    ap.add_argument("--max-drop", default=None, help="override every threshold's max_drop (e.g. 2pt)")
    ap.add_argument("--json", type=Path, default=None, help="also write all runs here")
    args = ap.parse_args()

    models = ensure_example_models()
    baseline = ensure_seed_model(0, args.steps) if args.steps else models.good
    candidates = {seed: ensure_seed_model(seed, args.steps) for seed in args.seeds}

    equal, regressed = [], []
    with tempfile.TemporaryDirectory(prefix="gate-flakiness-") as tmp:
        work = Path(tmp)
        for i, (seed, cand) in enumerate(candidates.items()):
            cfg = write_config(models.config, work / f"cfg-eq{i}", limit=args.limit, seed=1000 + i, max_drop=args.max_drop)
            run = gate(cfg, cand, baseline, work / f"out-eq{i}")
            run.update(kind="equal", train_seed=seed, sample_seed=1000 + i)
            equal.append(run)
            print(f"equal-quality seed {seed}: gate {run['verdict']:<12} naive {'fail' if run['naive_fail'] else 'pass'}  "
                  + "  ".join(f"{c['metric']} {c['candidate']:.3f} vs {c['baseline']:.3f}" for c in run["checks"])
                  + f"  ({run['seconds']}s)", flush=True)
        for i in range(args.regressed_runs):
            cfg = write_config(models.config, work / f"cfg-rg{i}", limit=args.limit, seed=2000 + i, max_drop=args.max_drop)
            run = gate(cfg, models.regressed, baseline, work / f"out-rg{i}")
            run.update(kind="regressed", sample_seed=2000 + i)
            regressed.append(run)
            print(f"regressed, sample seed {2000 + i}: gate {run['verdict']:<12} "
                  f"naive {'fail' if run['naive_fail'] else 'pass'}  "
                  + "  ".join(f"{c['metric']} {c['candidate']:.3f} vs {c['baseline']:.3f}" for c in run["checks"])
                  + f"  ({run['seconds']}s)", flush=True)

    print()
    print(f"limit {args.limit} items/task, sampling random, baseline {'seed 0' if args.steps else 'good'}"
          f"{f' at {args.steps} steps' if args.steps else ''}")
    print(f"{'':32}{'llm-gitops gate':>18}{'naive fixed threshold':>24}")
    print(f"{'false-fail, equal quality':32}{rate(equal, 'gate_fail'):>18}{rate(equal, 'naive_fail'):>24}")
    print(f"{'fail (caught), regressed':32}{rate(regressed, 'gate_fail'):>18}{rate(regressed, 'naive_fail'):>24}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "equal": equal, "regressed": regressed}, indent=2) + "\n")


if __name__ == "__main__":
    main()
