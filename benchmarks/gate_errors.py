"""How often does the gate pass a real regression, and block a candidate that is no worse?

Synthetic lm-eval-style per-sample results with a known truth: each run draws a fresh
split of documents from an item population (difficulty d ~ N(0, 2.5) on the logit scale);
each model answers item i correctly with probability sigmoid(ability - d_i + e_i), with
a model-specific item effect e ~ N(0, 0.6), so two models agree on most items (the
agreement printed is the share of documents both answer alike, ~85-90% here). The
candidate's ability is set so that its *population* accuracy is the baseline's minus the
scenario's true drop: 0 (equal quality), 0.5x, 1x and 2x ``max_drop``.

Every run is judged on the same scores by
  * the gate's decision core (``gate.policy.decide``), in one look on the whole split
    ("bounds") and with sequential looks 100, 200, 400, ... ("sequential"), whose mean
    documents evaluated is printed;
  * the OLD rule, copied below as it was: observed drop <= max_drop passes, else fail
    when "drop > max_drop" is significant (shifted paired t and exact McNemar), else
    inconclusive;
  * a naive fixed threshold: fail when the observed drop > max_drop.
Goals (issue 9): a 2x max_drop drop passes <= 5% of runs at every size; equal quality is
blocked <= 5% where the split can resolve max_drop (marked "resolves": the minimum
detectable effect at alpha 0.05 and power 0.8 is <= max_drop); sequential evaluates
<= 50% of the split on average for equal quality and the 2x drop.

A few runs also go through the real CLI (``llm-gitops gate --candidate-results
--baseline-results`` on lm-eval output files) with ``--cli N``, to show the CLI decides
exactly as the core does.

    .venv/bin/python benchmarks/gate_errors.py                 # 200 runs per scenario, ~2-3 minutes
    .venv/bin/python benchmarks/gate_errors.py --runs 100 --sizes 500
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
from scipy import special

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))

from llm_gitops.config.schema import GateSection, Threshold  # noqa: E402
from llm_gitops.evaluation.results import EvalResults, MetricResult  # noqa: E402
from llm_gitops.gate import sequential, stats  # noqa: E402
from llm_gitops.gate.policy import Measurements, SequentialDesign, decide  # noqa: E402

TASK, METRIC = "synth", "acc"
KEY = f"{TASK}/{METRIC}"
DIFFICULTY_SD, ITEM_EFFECT_SD = 3.5, 0.4


# --------------------------------------------------------------------------- the truth
def population_accuracy(ability: float, rng_seed: int = 0, size: int = 400_000) -> float:
    rng = np.random.default_rng(rng_seed)
    d = rng.normal(0, DIFFICULTY_SD, size)
    e = rng.normal(0, ITEM_EFFECT_SD, size)
    return float(np.mean(special.expit(ability - d + e)))


def ability_for(accuracy: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if population_accuracy(mid) < accuracy else (lo, mid)
    return (lo + hi) / 2


def draw(n: int, a_base: float, a_cand: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One split of ``n`` documents answered by both models: (candidate, baseline) 0/1 scores."""
    d = rng.normal(0, DIFFICULTY_SD, n)
    base = rng.random(n) < special.expit(a_base - d + rng.normal(0, ITEM_EFFECT_SD, n))
    cand = rng.random(n) < special.expit(a_cand - d + rng.normal(0, ITEM_EFFECT_SD, n))
    return cand.astype(float), base.astype(float)


# --------------------------------------------------------------------------- the rules
def old_rule(cand: np.ndarray, base: np.ndarray, allowed: float, alpha: float) -> str:
    """The decision before issue 9 (gate.policy + gate.stats as they were), copied as the
    baseline being measured: observed drop within max_drop passes, a larger one fails only
    when significant (max of the shifted paired t and the one-sided exact McNemar p)."""
    d = base - cand
    deg = float(np.mean(d))
    if deg <= allowed:
        return "pass"
    sd = float(np.std(d, ddof=1))
    p_t = (0.0 if deg > allowed else 1.0) if sd == 0 else float(special.stdtr(d.size - 1, -(deg - allowed) / (sd / math.sqrt(d.size))))
    losses, wins = int(np.sum((base == 1) & (cand == 0))), int(np.sum((cand == 1) & (base == 0)))
    p_exact = 1.0 if losses == 0 else float(special.bdtrc(losses - 1, losses + wins, 0.5))
    return "fail" if max(p_t, p_exact) < alpha else "inconclusive"


def naive_rule(cand: np.ndarray, base: np.ndarray, allowed: float) -> str:
    return "fail" if float(np.mean(base) - np.mean(cand)) > allowed else "pass"


def metric_result(scores: np.ndarray) -> MetricResult:
    n = scores.size
    return MetricResult(TASK, METRIC, float(scores.mean()), float(scores.std(ddof=1) / math.sqrt(n)), n, True,
                        tuple(range(n)), tuple(float(s) for s in scores))


def eval_results(scores: np.ndarray, digest: str) -> EvalResults:
    return EvalResults(digest, "./synthetic", "0.4", "sha256:t", {}, {KEY: metric_result(scores)}, "", 0.0, "k")


def gate_decision(cand: np.ndarray, base: np.ndarray, threshold: Threshold, gate: GateSection,
                  design: SequentialDesign | None) -> tuple[str, int]:
    """(verdict, documents evaluated) from the gate's core."""
    outcome = decide([threshold], candidate=Measurements(eval=eval_results(cand, "sha256:c")),
                     baseline=Measurements(eval=eval_results(base, "sha256:b")), gate=gate, design=design)
    evaluated = outcome.looks[-1]["samples"][TASK] if outcome.looks else cand.size
    return outcome.verdict, evaluated


# --------------------------------------------------------------------------- through the CLI
CLI_CONFIG = """\
version: 1
eval:
  tasks: [tasks/add_em.yaml]
  max_gen_toks: 5
thresholds:
  - {metric: add_em/exact_match, max_drop: 2pt}
tracking: {mlflow: {enabled: false}}
report: {to: none}
"""


def with_scores(template: Path, dest: Path, scores: np.ndarray) -> Path:
    """A copy of lm-eval's output in ``template`` whose per-document exact_match is ``scores``
    (by doc id), with the aggregate and its stderr recomputed as lm-eval does."""
    shutil.copytree(template, dest)
    results_file = next(dest.rglob("results_*.json"))
    samples_file = next(dest.rglob("samples_add_em_*.jsonl"))
    lines = []
    for line in samples_file.read_text().splitlines():
        rec = json.loads(line)
        rec["exact_match"] = float(scores[rec["doc_id"]])
        lines.append(json.dumps(rec))
    samples_file.write_text("\n".join(lines) + "\n")
    data = json.loads(results_file.read_text())
    data["results"]["add_em"]["exact_match,none"] = float(scores.mean())
    data["results"]["add_em"]["exact_match_stderr,none"] = float(scores.std(ddof=1) / math.sqrt(scores.size))
    results_file.write_text(json.dumps(data))
    return results_file


def cli_part(runs: int, a_base: float, abilities: dict[float, float], threshold: Threshold, gate: GateSection,
             rng: np.random.Generator) -> None:
    """A few runs of ``llm-gitops gate --candidate-results --baseline-results`` per scenario at the
    example's split (500): lm-eval's own output of the example model, per-document scores replaced
    by the scenario's, decided by the CLI and by the core on the same scores."""
    from tests.evaluation.lm_eval_output import write_lm_eval_output
    from tests.support.example_models import ensure_example_models

    models = ensure_example_models()
    with tempfile.TemporaryDirectory(prefix="gate-errors-") as tmp:
        work = Path(tmp)
        repo = work / "repo"
        shutil.copytree(models.repo / "tasks", repo / "tasks")
        shutil.copytree(models.repo / "data" / "eval", repo / "data" / "eval")
        (repo / ".llm-gitops.yaml").write_text(CLI_CONFIG)
        print(f"\nthrough the CLI: lm-eval output of the example model on add_em (500 documents), {runs} runs per "
              "scenario, scores replaced by the scenario's", flush=True)
        template = write_lm_eval_output(models.good, repo, ["tasks/add_em.yaml"], work / "template", max_gen_toks=5)
        template = template.parent
        exe = str(Path(sys.executable).parent / "llm-gitops")
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                   MLFLOW_DISABLE_TELEMETRY="true")
        for mult, a_cand in abilities.items():
            agree, seconds, verdicts = 0, [], []
            for i in range(runs):
                cand, base = draw(500, a_base, a_cand, rng)
                c_dir = with_scores(template, work / f"c{mult}-{i}", cand).parent
                b_dir = with_scores(template, work / f"b{mult}-{i}", base).parent
                out = work / f"out{mult}-{i}"
                t0 = time.perf_counter()
                proc = subprocess.run([exe, "gate", "--no-cache", "--candidate-results", str(c_dir), "--baseline-results",
                                       str(b_dir), "--output-dir", str(out), "--no-perf"], cwd=repo, env=env,
                                      capture_output=True, text=True)
                seconds.append(time.perf_counter() - t0)
                if proc.returncode not in (0, 1):
                    raise SystemExit(f"gate exited {proc.returncode}: {proc.stderr[-2000:]}")
                verdict = json.loads((out / "report.json").read_text())["verdict"]
                core = gate_decision(cand, base, threshold, gate, None)[0]
                verdicts.append(verdict)
                agree += verdict == core
            counts = {v: verdicts.count(v) for v in ("pass", "fail", "inconclusive")}
            print(f"  true drop {mult:g}x: CLI pass/fail/inc {counts['pass']}/{counts['fail']}/{counts['inconclusive']}"
                  f" of {runs}; same verdict as the core {agree}/{runs}; {np.mean(seconds):.1f} s per gate", flush=True)


# --------------------------------------------------------------------------- real models
def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               MLFLOW_DISABLE_TELEMETRY="true", LLM_GITOPS_STATE_DIR=str(cwd / ".state"))
    return subprocess.run([str(Path(sys.executable).parent / "llm-gitops"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def real_part(seeds: list[int], steps: int, max_drop: float) -> None:
    """Mid-quality models from the example recipe (seed 0 the baseline, ``seeds`` the
    candidates, all trained ``steps`` steps), their true exact match measured on all 1,000
    pairs the recipe holds out of training, then gated as CI does (the example config:
    add_em and add_mc, a first look of 200, sequential; no perf), beside the naive rule."""
    from tests.support.example_models import ensure_example_models, ensure_seed_model

    example = ensure_example_models()
    print(f"\nreal models: the example recipe at {steps or 'its default'} steps, seed 0 the baseline; truth on the "
          "1,000 held-out pairs", flush=True)
    # steps 0: the recipe's own steps (converged); seed 0 is then the example's "good" model.
    models = {seed: (example.good if seed == 0 and not steps else ensure_seed_model(seed, steps or None))
              for seed in [0, *seeds]}
    with tempfile.TemporaryDirectory(prefix="gate-errors-real-") as tmp:
        repo = Path(tmp)
        shutil.copytree(example.repo / "tasks", repo / "tasks")
        shutil.copytree(example.repo / "data" / "eval", repo / "data" / "eval")
        heldout = [json.loads(line) for line in (repo / "data" / "eval" / "add_em.jsonl").read_text().splitlines()]
        for line in (repo / "data" / "eval" / "add_mc.jsonl").read_text().splitlines():
            item = json.loads(line)
            heldout.append({"question": item["question"], "answer": item["choices"][item["label"]]})
        (repo / "data" / "heldout.jsonl").write_text("".join(json.dumps(h) + "\n" for h in heldout))
        (repo / "tasks" / "heldout_em.yaml").write_text(
            (repo / "tasks" / "add_em.yaml").read_text().replace("task: add_em", "task: heldout_em")
            .replace("../data/eval/add_em.jsonl", "../data/heldout.jsonl"))
        (repo / "truth.yaml").write_text("version: 1\neval:\n  tasks: [tasks/heldout_em.yaml]\n  batch_size: 32\n"
                                         "tracking: {mlflow: {enabled: false}}\n")
        doc = yaml.safe_load(example.config.read_text())
        doc["tracking"] = {"mlflow": {"enabled": False}}
        (repo / ".llm-gitops.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        truth = {}
        for seed, model in models.items():
            out = repo / f"truth-{seed}.json"
            proc = _cli(["eval", "--config", str(repo / "truth.yaml"), "--model", str(model), "--output", str(out)], repo)
            if proc.returncode != 0:
                raise SystemExit(f"eval exited {proc.returncode}: {proc.stderr[-2000:]}")
            truth[seed] = json.loads(out.read_text())["metrics"]["heldout_em/exact_match"]["value"]
            print(f"  seed {seed}: true exact match {truth[seed]:.3f}", flush=True)
        for seed in seeds:
            out = repo / f"gate-{seed}"
            t0 = time.perf_counter()
            proc = _cli(["gate", "--candidate", str(models[seed]), "--baseline", str(models[0]), "--no-perf",
                         "--report-to", "none", "--output-dir", str(out)], repo)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"gate exited {proc.returncode}: {proc.stderr[-2000:]}")
            report = json.loads((out / "report.json").read_text())
            em = next(c for c in report["checks"] if c["metric"] == "add_em/exact_match")
            naive = "fail" if any(c["candidate"] is not None and c["baseline"] is not None and c["allowed_drop"] is not None
                                  and c["candidate"] < c["baseline"] - c["allowed_drop"] for c in report["checks"]) else "pass"
            docs = report["looks"][-1]["samples"] if report.get("looks") else {}
            how = (f"{em['bound_side']} bound {100 * em['bound_value']:.1f}pt" if em["bound_value"] is not None
                   else em["cause"] or "-")
            print(f"  seed {seed} vs seed 0: true drop {100 * (truth[0] - truth[seed]):+.1f}pt; gate {report['verdict']} "
                  f"(add_em observed drop {100 * -(em['delta'] or 0):+.1f}pt, decided by {how}; documents {docs}); "
                  f"naive {naive}; {time.perf_counter() - t0:.0f} s", flush=True)


# --------------------------------------------------------------------------- the sweep
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=200, help="runs per scenario (>= 100)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[500, 5000], help="split sizes")
    ap.add_argument("--accuracy", type=float, default=0.80, help="the baseline's true accuracy")
    ap.add_argument("--max-drop", type=float, default=0.02, help="max_drop in accuracy units (0.02 = 2pt)")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--real", type=int, nargs="*", default=None, metavar="SEED",
                    help="also gate mid-quality models of the example recipe trained with these seeds against seed 0")
    ap.add_argument("--real-steps", type=int, default=330,
                    help="training steps of the --real models (0: the recipe's own, converged)")
    ap.add_argument("--cli", type=int, default=0, metavar="N",
                    help="also N runs per scenario through the real CLI on lm-eval output files (split 500)")
    args = ap.parse_args()

    threshold = Threshold(metric=KEY, max_drop=f"{args.max_drop * 100:g}pt")
    gate = GateSection(alpha=args.alpha)
    a_base = ability_for(args.accuracy)
    multiples = (0.0, 0.5, 1.0, 2.0)
    print(f"baseline accuracy {args.accuracy:.2f}, max_drop {args.max_drop * 100:g}pt, alpha {args.alpha}, "
          f"{args.runs} runs per scenario; looks 100, x1.5, ... (spending alpha*t^{sequential.RHO:g})")
    header = (f"{'split':>6} {'true drop':>10} {'agree':>6} | {'bounds pass/fail/inc':>21} | "
              f"{'sequential pass/fail/inc':>24} {'docs':>6} | {'old rule p/f/i':>15} | {'naive p/f':>9}")
    print(header)
    print("-" * len(header))
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    for n in args.sizes:
        design = SequentialDesign(order={TASK: tuple(range(n))}, looks={TASK: sequential.plan_looks(n, first=100)})
        for mult in multiples:
            a_cand = ability_for(args.accuracy - mult * args.max_drop)
            tallies = {k: {"pass": 0, "fail": 0, "inconclusive": 0} for k in ("bounds", "seq", "old", "naive")}
            docs, agree, mdes = [], [], []
            for _ in range(args.runs):
                cand, base = draw(n, a_base, a_cand, rng)
                agree.append(float(np.mean(cand == base)))
                tallies["bounds"][gate_decision(cand, base, threshold, gate, None)[0]] += 1
                verdict, evaluated = gate_decision(cand, base, threshold, gate, design)
                tallies["seq"][verdict] += 1
                docs.append(evaluated)
                tallies["old"][old_rule(cand, base, args.max_drop, args.alpha)] += 1
                tallies["naive"][naive_rule(cand, base, args.max_drop)] += 1
                mdes.append(stats.resolution(stats.PairedBinary.from_scores(cand, base), args.max_drop, alpha=args.alpha).mde)

            def pct(rule):
                t = tallies[rule]
                return "/".join(f"{100 * t[v] / args.runs:3.0f}" for v in ("pass", "fail", "inconclusive"))

            resolves = " resolves" if float(np.mean(mdes)) <= args.max_drop else ""
            naive = tallies["naive"]
            print(f"{n:>6} {f'{mult:g}x {mult * args.max_drop * 100:g}pt':>10} {np.mean(agree):6.2f} | {pct('bounds'):>21} | "
                  f"{pct('seq'):>24} {np.mean(docs) / n:5.0%} | {pct('old'):>15} | "
                  f"{100 * naive['pass'] / args.runs:4.0f}/{100 * naive['fail'] / args.runs:<4.0f}"
                  f"{'  MDE %.1fpt' % (100 * np.mean(mdes)) if mult == 0 else ''}{resolves if mult == 0 else ''}",
                  flush=True)
    print(f"(rates in %; 'docs' = mean share of the split evaluated by the sequential gate; {time.perf_counter() - started:.0f}s)")
    if args.real:
        real_part(args.real, args.real_steps, args.max_drop)
    if args.cli:
        cli_part(args.cli, a_base, {m: ability_for(args.accuracy - m * args.max_drop) for m in multiples}, threshold,
                 gate, rng)


if __name__ == "__main__":
    main()
