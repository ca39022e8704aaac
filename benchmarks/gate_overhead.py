"""What does ``llm-gitops gate`` cost on top of running lm-eval yourself?

In one run, on the same model, tasks and sample count:

1. plain   - a fresh Python running ``lm_eval.simple_evaluate(model="hf",
             model_args="pretrained=DIR,dtype=float32", ...)`` on the example tasks
             (their data paths made absolute, since lm-eval alone can't resolve them);
2. cold    - ``llm-gitops gate --candidate DIR --baseline DIR`` on an empty state dir
             (``eval.sequential: false``, so it evaluates the same documents)
             (candidate and baseline are the same model, so the baseline's eval is the
             candidate's, from the cache: one real eval, like plain);
3. cached  - the same gate command again (every eval answered from the cache).

Goals: cold/plain <= 1.10, cached <= 1 s, cached/cold <= 5 %.

The gate imports torch, transformers and lm-eval with the garbage collector paused and
freezes them (``gc_pause``), which plain lm-eval does not: a fourth run, plain with the
same treatment, shows what the gate costs beyond that saving (printed beside the goal).

Like for like: both are timed as whole processes (interpreter start, imports,
everything), and both end the same way: the plain script, once it has its result,
leaves through the same ``cli.leave`` the ``llm-gitops`` executable uses (threads
joined, atexit handlers run, output flushed, no interpreter teardown of torch and
friends), so neither side is charged or spared the teardown.
The gate runs with ``--no-perf`` by default, since plain lm-eval measures no speed;
``--with-perf`` adds the benchmark to the gate's side. MLflow logging and the report
(markdown, JSON) stay on: they are part of what a gate costs; the chart is opt-in
(``report.chart``) and stays off, as by default. With tracking on, a last process times
tracking's part of the cold gate: importing mlflow, opening the store, logging the run.

    .venv/bin/python benchmarks/gate_overhead.py                 # the trained example model
    .venv/bin/python benchmarks/gate_overhead.py --model DIR --repeats 3
    .venv/bin/python benchmarks/gate_overhead.py --no-tracking   # or --mlflow-server: a tracking server on loopback
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "repo-template"

PLAIN = """
import json, sys
args = json.loads(sys.argv[1])
if args.get("gc_pause"):  # the collector treatment the gate gives the same libraries
    from llm_gitops.evaluation.runner import EVAL_LIBRARIES
    from llm_gitops.gc_pause import import_libraries
    import_libraries(*EVAL_LIBRARIES)
import lm_eval
from lm_eval.tasks import TaskManager
res = lm_eval.simple_evaluate(
    model="hf", model_args="pretrained=" + args["model"] + ",dtype=float32",
    tasks=args["tasks"], task_manager=TaskManager(include_path=args["include"], include_defaults=False),
    limit=args["limit"], batch_size=args["batch_size"], device="cpu", log_samples=True,
    gen_kwargs=args["gen_kwargs"],
)
print(json.dumps({t: {k: v for k, v in r.items() if k != "alias"} for t, r in res["results"].items()}, default=float))
# End as the llm-gitops executable ends (cli.run -> cli.leave), so both pay the same exit.
from llm_gitops.cli import leave
leave(0)
"""

# Where tracking's share of a cold gate goes: in a process that has already imported what
# the gate has when it logs (torch, transformers, lm-eval, scipy), the product's own calls
# timed one by one on a fresh state dir: importing mlflow, opening the store (the default
# sqlite one: seeded from the per-user empty store, SQLAlchemy and alembic imported; a
# server: probed), logging the run.
TRACKING = """
import json, sys, time
from pathlib import Path
args = json.loads(sys.argv[1])
from llm_gitops.evaluation.runner import EVAL_LIBRARIES
from llm_gitops.gc_pause import import_libraries
import_libraries(*EVAL_LIBRARIES)  # as the gate's first eval does
import scipy.stats
from llm_gitops.config import load_config
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.tracking import mlflow_tracking as tracking
config = load_config(args["config"])
report = json.loads(Path(args["report"]).read_text())
candidate = ResolvedModel(path=Path(args["model"]), digest=report["models"]["candidate"]["digest"],
                          source=args["model"], kind="local")
t0 = time.perf_counter()
tracking.quiet_mlflow()
t1 = time.perf_counter()
tracking.open_client(tracking.resolve_tracking_uri(config))
t2 = time.perf_counter()
tracking.log_gate_run(config, report=report, artifacts=[Path(args["report"])], candidate=candidate, git_sha=None)
t3 = time.perf_counter()
print(json.dumps({"import mlflow": t1 - t0, "open the store": t2 - t1, "log the run": t3 - t2}))
from llm_gitops.cli import leave
leave(0)
"""


def env(state: Path, hf_home: Path) -> dict[str, str]:
    out = dict(os.environ)
    out.update(
        HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", MLFLOW_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1", TOKENIZERS_PARALLELISM="false", HF_HOME=str(hf_home), LLM_GITOPS_STATE_DIR=str(state),
    )
    # Not a CI job: the gate must not look for a forge to post to.
    for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        out.pop(name, None)
    # Bytecode as an installed package has it (pip compiles it, as it did lm-eval's): in an
    # editable checkout under PYTHONDONTWRITEBYTECODE, only the gate's side would compile
    # its modules from source in every process (0.08 s of a cached gate here).
    out.pop("PYTHONDONTWRITEBYTECODE", None)
    return out


def timed(cmd: list[str], environ: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[float, float]:
    """(wall s, CPU s) of ``cmd``. CPU time (user + sys) is steadier on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=environ, capture_output=True, text=True, cwd=REPO)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        sys.exit(f"{' '.join(cmd[:5])}... exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="model dir (default: the trained example model, built if absent)")
    parser.add_argument("--config", type=Path, default=EXAMPLE / ".llm-gitops.yaml")
    parser.add_argument("--limit", type=int, default=None, help="samples per task (default: the config's eval.limit)")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of plain/cold/cached; medians are reported")
    parser.add_argument("--with-perf", action="store_true", help="let the gate run the benchmark too")
    parser.add_argument("--no-tracking", action="store_true",
                        help="gate on a copy of the config's repo with tracking.mlflow.enabled: false")
    parser.add_argument("--mlflow-server", action="store_true",
                        help="track to a real MLflow server on loopback (a team's tracking server) instead of the "
                             "default sqlite store in the state dir")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    if args.model is None:
        from tests.support.example_models import ensure_example_models

        args.model = ensure_example_models().good
    work = Path(tempfile.mkdtemp(prefix="llm-gitops-bench-"))
    try:
        if args.mlflow_server and not args.no_tracking:
            from tests.support.mlflow_store import mlflow_server

            with mlflow_server(work / "mlflow-server") as url:
                measure(args, work, tracking_uri=url)
        else:
            measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path, tracking_uri: str | None = None) -> None:
    from llm_gitops.config import load_config
    from llm_gitops.evaluation.tasks import resolve_tasks

    import yaml

    model = args.model.resolve()
    # The gate runs on a copy of the config's repo that evaluates exactly the documents
    # plain lm-eval does: one look of --limit (eval.sequential off; sequential looks
    # would evaluate more documents than plain does, which is another comparison).
    repo = work / "repo"
    shutil.copytree(args.config.resolve().parent, repo, ignore=shutil.ignore_patterns(".llm-gitops", "model", ".dvc"))
    data = yaml.safe_load(args.config.read_text())
    data.setdefault("eval", {})["sequential"] = False
    if args.no_tracking:
        data.setdefault("tracking", {}).setdefault("mlflow", {})["enabled"] = False
    elif tracking_uri:
        data.setdefault("tracking", {}).setdefault("mlflow", {})["tracking_uri"] = tracking_uri
    args.config = repo / args.config.name
    args.config.write_text(yaml.safe_dump(data, sort_keys=False))
    config = load_config(args.config)
    limit = args.limit or config.eval.limit
    suite = resolve_tasks(config.eval, base_dir=config.base_dir)

    include = suite.write_include_dir(work / "tasks")
    hf_home = work / "hf"
    plain_args = json.dumps({
        "model": str(model), "tasks": suite.names, "include": str(include), "limit": limit,
        "batch_size": config.eval.batch_size,
        "gen_kwargs": {"max_gen_toks": config.eval.max_gen_toks} if config.eval.max_gen_toks else None,
    })
    plain_gc_args = json.dumps({**json.loads(plain_args), "gc_pause": True})
    # One untimed plain run: the datasets' Arrow cache is built once for both sides.
    timed([sys.executable, "-c", PLAIN, plain_args], env(work / "warm-state", hf_home))

    gate = [sys.executable, "-m", "llm_gitops", "gate", "--config", str(args.config), "--candidate", str(model),
            "--baseline", str(model), "--report-to", "none", "--limit", str(limit)]
    if not args.with_perf:
        gate.append("--no-perf")
    evalcmd = [sys.executable, "-m", "llm_gitops", "eval", "--config", str(args.config), "--model", str(model),
               "--limit", str(limit), "--output", str(work / "eval.json")]
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in ("plain", "plain_gc", "cold", "cached", "eval_cold",
                                                                    "eval_cached")}
    for i in range(args.repeats):
        runs["plain"].append(timed([sys.executable, "-c", PLAIN, plain_args], env(work / "warm-state", hf_home)))
        runs["plain_gc"].append(timed([sys.executable, "-c", PLAIN, plain_gc_args], env(work / "warm-state", hf_home)))
        state, report_dir = work / f"state-{i}", work / f"report-{i}"
        cmd = [*gate, "--output-dir", str(report_dir)]
        # Exit 1 is a verdict (e.g. a perf threshold not checked under --no-perf), not a failure.
        runs["cold"].append(timed(cmd, env(state, hf_home), ok=(0, 1)))
        timings = json.loads((report_dir / "report.json").read_text()).get("timings", {})
        runs["cached"].append(timed(cmd, env(state, hf_home), ok=(0, 1)))
        # The eval layer alone: `llm-gitops eval` on its own empty state dir, then again.
        runs["eval_cold"].append(timed(evalcmd, env(work / f"eval-state-{i}", hf_home)))
        runs["eval_cached"].append(timed(evalcmd, env(work / f"eval-state-{i}", hf_home)))
        print(f"round {i + 1} (wall/CPU s): " + "  ".join(f"{k} {v[-1][0]:.2f}/{v[-1][1]:.2f}" for k, v in runs.items())
              + f"  (gate's own eval steps {sum(v for k, v in timings.items() if k.endswith('eval_s')):.2f} wall)",
              flush=True)

    wall = {k: statistics.median(w for w, _ in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in runs.items()}
    print(f"\nmodel {model}, tasks {', '.join(suite.names)}, {limit} samples per task, "
          f"gate {'with' if args.with_perf else 'without'} perf, "
          f"MLflow tracking {'off' if args.no_tracking else 'to ' + (tracking_uri or 'the sqlite store')}, "
          f"{args.repeats} round(s), medians:")
    print(f"  {'':<26}{'wall s':>9}{'CPU s':>9}")
    for key, name in (("plain", "plain lm-eval (process)"), ("plain_gc", "plain, gate's gc_pause"),
                      ("cold", "gate, cold cache"), ("cached", "gate, cached"),
                      ("eval_cold", "llm-gitops eval, cold"), ("eval_cached", "llm-gitops eval, cached")):
        print(f"  {name:<26}{wall[key]:>9.2f}{cpu[key]:>9.2f}")
    for label, m in (("wall", wall), ("CPU", cpu)):
        print(f"  {label:<5} gate cold/plain {m['cold'] / m['plain']:.3f} (goal <= 1.10), gate cached {m['cached']:.2f} s "
              f"(goal <= 1), gate cached/cold {100 * m['cached'] / m['cold']:.1f}% (goal <= 5%); "
              f"eval cold/plain {m['eval_cold'] / m['plain']:.3f}, eval cached {m['eval_cached']:.2f} s "
              f"({100 * m['eval_cached'] / m['eval_cold']:.1f}% of cold)")
    # The gate imports its libraries with the collector paused (gc_pause); plain lm-eval
    # given the same treatment shows what the gate costs beyond that saving.
    print(f"  gate cold / plain lm-eval with the gate's gc_pause: wall {wall['cold'] / wall['plain_gc']:.3f}, "
          f"CPU {cpu['cold'] / cpu['plain_gc']:.3f}")
    met = wall["cold"] / wall["plain"] <= 1.10 and wall["cached"] <= 1.0 and wall["cached"] / wall["cold"] <= 0.05
    print("gate goals (wall): " + ("all met" if met else "some missed"))
    if not args.no_tracking:
        proc = subprocess.run([sys.executable, "-c", TRACKING, json.dumps({
            "config": str(args.config), "report": str(work / "report-0" / "report.json"), "model": str(model)})],
            env=env(work / "tracking-state", hf_home), capture_output=True, text=True, cwd=REPO)
        if proc.returncode != 0:
            sys.exit(f"the tracking breakdown exited {proc.returncode}:\n{proc.stderr[-3000:]}")
        parts = json.loads(proc.stdout.strip().splitlines()[-1])
        print("MLflow tracking's part of a cold gate (wall s, after the gate's own imports): "
              + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + f"; total {sum(parts.values()):.2f}")


if __name__ == "__main__":
    main()
