"""How often does the gate pass a real regression, and block a candidate that is no worse?

Synthetic lm-eval-style per-sample results with a known truth: each run draws a fresh
split of documents from an item population (difficulty d ~ N(0, 3.5) on the logit scale);
each model answers item i correctly with probability sigmoid(ability - d_i + e_i), with
a model-specific item effect e ~ N(0, 0.4), so two models agree on most items (the
agreement printed is the share of documents both answer alike, ~85% here). The
candidate's ability is set so that its *population* accuracy is the baseline's minus the
scenario's true drop: 0 (equal quality), 0.5x, 1x and 2x ``max_drop``.

Every run is judged on the same scores by
  * the real CLI, the main measurement: ``llm-gitops gate --candidate-results
    --baseline-results`` on lm-eval's own output files (``lm_eval --log_samples`` of the
    task, per-document exact_match replaced by the run's scores, the aggregate and its
    stderr recomputed as lm-eval does). Results files are decided in one look on all
    their documents (they are evaluated already: stopping early would save nothing);
    each CLI verdict is checked against the gate's core on the same scores;
  * sequential looks, from the core: ``gate.policy.decide`` with the looks the CLI plans
    when it evaluates models itself (first look 100, then x1.3, ...), the same decision
    each look of ``llm-gitops gate --candidate --baseline`` makes; "docs" is the mean
    share of the split it evaluated. (``--real`` measures looks through the CLI, on
    models.)
  * the OLD rule, copied below as it was: observed drop <= max_drop passes, else fail
    when "drop > max_drop" is significant (shifted paired t and exact McNemar), else
    inconclusive;
  * a naive fixed threshold: fail when the observed drop > max_drop.
Goals (issue 9): a 2x max_drop drop passes <= 5% of runs at every size; equal quality is
blocked <= 5% where the split can resolve max_drop (marked "resolves": the minimum
detectable effect at alpha 0.05 and power 0.8 is <= max_drop); sequential evaluates
<= 50% of the split on average for equal quality and the 2x drop.

    .venv/bin/python benchmarks/gate_errors.py                # 100 runs per scenario at 500 and 5,000 through the CLI, ~10 minutes
    .venv/bin/python benchmarks/gate_errors.py --no-cli --runs 1000   # the core alone, ~10 s per 100 runs
    .venv/bin/python benchmarks/gate_errors.py --no-cli --runs 0 --real 1 2 3 --real-steps 330
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
from dataclasses import dataclass
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

EXAMPLE = REPO / "examples" / "repo-template"
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
  - {metric: add_em/exact_match, max_drop: MAX_DROP}
gate: {alpha: ALPHA}
tracking: {mlflow: {enabled: false}}
report: {to: none}
"""


@dataclass(frozen=True)
class LmEvalOutput:
    """One lm-eval run's output files (``--output_path`` with ``--log_samples``), to copy
    with other per-document scores."""

    root: Path
    results_file: Path  # relative to root
    samples_file: Path
    results: dict
    records: tuple[dict, ...]

    @classmethod
    def load(cls, root: Path) -> "LmEvalOutput":
        results_file = next(root.rglob("results_*.json"))
        samples_file = next(root.rglob("samples_add_em_*.jsonl"))
        records = tuple(json.loads(line) for line in samples_file.read_text().splitlines())
        return cls(root, results_file.relative_to(root), samples_file.relative_to(root),
                   json.loads(results_file.read_text()), records)

    def write(self, dest: Path, scores: np.ndarray) -> Path:
        """A copy in ``dest`` whose per-document exact_match is ``scores`` (by doc id), the
        aggregate and its stderr recomputed as lm-eval does."""
        (dest / self.samples_file).parent.mkdir(parents=True)
        (dest / self.samples_file).write_text(
            "".join(json.dumps({**rec, "exact_match": float(scores[rec["doc_id"]])}) + "\n" for rec in self.records))
        data = json.loads(json.dumps(self.results))
        data["results"]["add_em"]["exact_match,none"] = float(scores.mean())
        data["results"]["add_em"]["exact_match_stderr,none"] = float(scores.std(ddof=1) / math.sqrt(scores.size))
        (dest / self.results_file).write_text(json.dumps(data))
        return dest


class CliGate:
    """``llm-gitops gate --candidate-results --baseline-results`` on a task of n documents:
    the example's add_em task (its own 500 documents, or n distinct additions in its
    format), lm-eval's output of it, per-document scores replaced by a run's."""

    def __init__(self, work: Path, max_drop: float, alpha: float):
        self.work = work
        self.config = CLI_CONFIG.replace("MAX_DROP", f"{max_drop * 100:g}pt").replace("ALPHA", f"{alpha:g}")
        self.exe = str(Path(sys.executable).parent / "llm-gitops")
        self.env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                        MLFLOW_DISABLE_TELEMETRY="true")
        self.outputs: dict[int, LmEvalOutput] = {}
        self.seconds: list[float] = []

    def prepare(self, n: int) -> None:
        from tests.evaluation.lm_eval_output import write_lm_eval_output

        repo = self.work / f"repo{n}"
        (repo / "data" / "eval").mkdir(parents=True)
        shutil.copytree(EXAMPLE / "tasks", repo / "tasks")
        example_docs = (EXAMPLE / "data" / "eval" / "add_em.jsonl").read_text()
        if n == len(example_docs.splitlines()):
            docs = example_docs
        else:  # n distinct additions of up to two digits each, in the example's format
            pairs = np.random.default_rng(n).choice(100 * 100, size=n, replace=False)
            docs = "".join(json.dumps({"answer": f"{p // 100 + p % 100:03d}", "question": f"{p // 100}+{p % 100}="})
                           + "\n" for p in pairs)
        (repo / "data" / "eval" / "add_em.jsonl").write_text(docs)
        (repo / ".llm-gitops.yaml").write_text(self.config)
        # lm-eval's dummy model answers every document (wrongly): its files are the harness's
        # own, and every per-document score is replaced anyway.
        write_lm_eval_output(Path("dummy"), repo, ["tasks/add_em.yaml"], self.work / f"lm-eval-{n}", model="dummy",
                             model_args="none", max_gen_toks=5)
        self.outputs[n] = LmEvalOutput.load(self.work / f"lm-eval-{n}")

    def gate(self, cand: np.ndarray, base: np.ndarray) -> dict:
        """The CLI's report.json check for this run's scores."""
        n, run = cand.size, self.work / "run"
        shutil.rmtree(run, ignore_errors=True)
        c_dir = self.outputs[n].write(run / "cand", cand)
        b_dir = self.outputs[n].write(run / "base", base)
        t0 = time.perf_counter()
        proc = subprocess.run([self.exe, "gate", "--no-cache", "--candidate-results", str(c_dir), "--baseline-results",
                               str(b_dir), "--output-dir", str(run / "out"), "--no-perf"], cwd=self.work / f"repo{n}",
                              env=self.env, capture_output=True, text=True)
        self.seconds.append(time.perf_counter() - t0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"gate exited {proc.returncode}: {proc.stderr[-2000:]}")
        report = json.loads((run / "out" / "report.json").read_text())
        check = next(c for c in report["checks"] if c["metric"] == "add_em/exact_match")
        if report["verdict"] != check["verdict"] or check["n"] != n:
            raise SystemExit(f"the CLI decided on {check['n']} of {n} documents: {report['verdict']}")
        return check


# --------------------------------------------------------------------------- real models
def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               MLFLOW_DISABLE_TELEMETRY="true", LLM_GITOPS_STATE_DIR=str(cwd / ".state"))
    return subprocess.run([str(Path(sys.executable).parent / "llm-gitops"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def naive_real(report: dict, thresholds: list[dict]) -> str:
    """The naive rule on a real gate's measurements: fail when a point estimate is past an
    absolute bound (as the gate's own absolute checks do) or drops more than max_drop."""
    bounds = {t["metric"]: t for t in thresholds}
    for c in report["checks"]:
        t, value = bounds.get(c["metric"], {}), c["candidate"]
        if value is None:
            continue
        low, high = (t.get(k) if isinstance(t.get(k), (int, float)) else None for k in ("min", "max"))
        if (low is not None and value < low) or (high is not None and value > high):
            return "fail"
        if c["baseline"] is not None and c["allowed_drop"] is not None and (
                (c["baseline"] - value if c["higher_is_better"] else value - c["baseline"]) > c["allowed_drop"]):
            return "fail"
    return "pass"


def real_part(seeds: list[int], steps: int) -> None:
    """Mid-quality models from the example recipe (seed 0 and ``seeds``, all trained
    ``steps`` steps), their true exact match measured on all 1,000 pairs the recipe holds
    out of training, then every pair gated both ways as CI does (the example config:
    add_em and add_mc, each with min 0.8, max_drop 2pt and hard_max_drop 10pt; sequential
    looks from 200 of the 500 documents per task; no perf), beside the naive rule. Evals are cached by content, so each model is evaluated once
    per look whatever it is paired with."""
    from tests.support.example_models import ensure_example_models, ensure_seed_model

    example = ensure_example_models()
    print(f"\nreal models, through the CLI with sequential looks: the example recipe at {steps or 'its default'} "
          "steps; truth on the 1,000 held-out pairs", flush=True)
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
        shares = []
        for cand in models:
            for base in models:
                if cand == base:
                    continue
                out = repo / f"gate-{cand}-{base}"
                t0 = time.perf_counter()
                proc = _cli(["gate", "--candidate", str(models[cand]), "--baseline", str(models[base]), "--no-perf",
                             "--report-to", "none", "--output-dir", str(out)], repo)
                if proc.returncode not in (0, 1):
                    raise SystemExit(f"gate exited {proc.returncode}: {proc.stderr[-2000:]}")
                report = json.loads((out / "report.json").read_text())
                em = next(c for c in report["checks"] if c["metric"] == "add_em/exact_match")
                docs = report["looks"][-1]["samples"] if report.get("looks") else {}
                shares.append(sum(docs.values()) / (500 * len(docs)) if docs else 1.0)
                others = "".join(f"; {c['metric']} {c['verdict']}: {c['reason']}" for c in report["checks"]
                                 if c["verdict"] != "pass" and c is not em)
                print(f"  seed {cand} vs seed {base}: true drop {100 * (truth[base] - truth[cand]):+.1f}pt; gate "
                      f"{report['verdict']} ({em['metric']} {em['verdict']}: {em['reason']}{others}; documents per "
                      f"task {docs}); naive {naive_real(report, doc['thresholds'])}; {time.perf_counter() - t0:.0f} s",
                      flush=True)
        print(f"  sequential looks evaluated {100 * np.mean(shares):.0f}% of the 500-document splits on average",
              flush=True)


# --------------------------------------------------------------------------- the sweep
VERDICTS = ("pass", "fail", "inconclusive")


def sweep(args: argparse.Namespace, threshold: Threshold, gate: GateSection, cli: CliGate | None) -> None:
    """Every scenario at every size: the CLI (or the core in one look), sequential looks,
    the old rule and the naive threshold on the same runs."""
    a_base = ability_for(args.accuracy)
    one_look = "CLI" if cli else "core, one look"
    print(f"baseline accuracy {args.accuracy:.2f}, max_drop {args.max_drop * 100:g}pt, alpha {args.alpha}, "
          f"{args.runs} runs per scenario; sequential: looks 100, x{sequential.GROWTH:g}, ... "
          f"(spending alpha*t^{sequential.RHO:g}), from the core")
    header = (f"{'split':>6} {'true drop':>10} {'agree':>6} | {one_look + ' p/f/i':>20} {'=core':>6} {'docs':>5} | "
              f"{'sequential p/f/i':>16} {'docs':>5} | {'old rule p/f/i':>14} | {'naive p/f':>9} | MDE")
    print(header)
    print("-" * len(header), flush=True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    for n in args.sizes:
        if cli is not None:
            cli.prepare(n)
        design = SequentialDesign(order={TASK: tuple(range(n))}, looks={TASK: sequential.plan_looks(n, first=100)})
        for mult in (0.0, 0.5, 1.0, 2.0):
            a_cand = ability_for(args.accuracy - mult * args.max_drop)
            tallies = {k: dict.fromkeys(VERDICTS, 0) for k in ("one", "seq", "old", "naive")}
            docs, one_docs, agree, mdes, same = [], [], [], [], 0
            for run in range(args.runs):
                cand, base = draw(n, a_base, a_cand, rng)
                agree.append(float(np.mean(cand == base)))
                core = gate_decision(cand, base, threshold, gate, None)[0]
                if cli is not None:
                    check = cli.gate(cand, base)
                    verdict, evaluated = check["verdict"], check["n"]
                    if verdict != core:
                        print(f"  run {run}: the CLI says {verdict}, the core {core}", flush=True)
                else:
                    verdict, evaluated = core, n
                same += verdict == core
                tallies["one"][verdict] += 1
                one_docs.append(evaluated)
                verdict, evaluated = gate_decision(cand, base, threshold, gate, design)
                tallies["seq"][verdict] += 1
                docs.append(evaluated)
                tallies["old"][old_rule(cand, base, args.max_drop, args.alpha)] += 1
                tallies["naive"][naive_rule(cand, base, args.max_drop)] += 1
                mdes.append(stats.resolution(stats.PairedBinary.from_scores(cand, base), args.max_drop, confidence=1 - args.alpha).mde)

            def pct(rule: str, verdicts: tuple[str, ...] = VERDICTS) -> str:
                return "/".join(f"{100 * tallies[rule][v] / args.runs:3.0f}" for v in verdicts)

            mde = float(np.mean(mdes))
            print(f"{n:>6} {f'{mult:g}x {mult * args.max_drop * 100:g}pt':>10} {np.mean(agree):6.2f} | "
                  f"{pct('one'):>20} {f'{same}/{args.runs}' if cli is not None else '-':>7}{np.mean(one_docs) / n:5.0%} | "
                  f"{pct('seq'):>16} "
                  f"{np.mean(docs) / n:5.0%} | {pct('old'):>14} | {pct('naive', VERDICTS[:2]):>9} | {100 * mde:.1f}pt"
                  f"{' resolves' if mde <= args.max_drop else ''}", flush=True)
    took = time.perf_counter() - started
    per_gate = f"; {np.mean(cli.seconds):.1f} s per CLI gate" if cli is not None and cli.seconds else ""
    print(f"(rates in %; '=core': runs where the CLI's verdict is the core's; 'docs': mean share of the split "
          f"decided on; MDE: minimum detectable effect; {took:.0f} s{per_gate})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100, help="runs per scenario (>= 100 for the goals; 0: no sweep)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[500, 5000], help="split sizes")
    ap.add_argument("--accuracy", type=float, default=0.80, help="the baseline's true accuracy")
    ap.add_argument("--max-drop", type=float, default=0.02, help="max_drop in accuracy units (0.02 = 2pt)")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-cli", action="store_true",
                    help="decide the one-look verdicts with the core instead of the CLI (fast: for many runs)")
    ap.add_argument("--real", type=int, nargs="*", default=None, metavar="SEED",
                    help="also gate mid-quality models of the example recipe trained with these seeds and seed 0, "
                         "each pair both ways")
    ap.add_argument("--real-steps", type=int, default=330,
                    help="training steps of the --real models (0: the recipe's own, converged)")
    args = ap.parse_args()

    threshold = Threshold(metric=KEY, max_drop=f"{args.max_drop * 100:g}pt")
    gate = GateSection(alpha=args.alpha)
    # Offline, set before lm-eval imports huggingface_hub: the dummy model's tokenizer lookup
    # would otherwise retry a download for a minute.
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if args.runs:
        with tempfile.TemporaryDirectory(prefix="gate-errors-") as tmp:
            sweep(args, threshold, gate, None if args.no_cli else CliGate(Path(tmp), args.max_drop, args.alpha))
    if args.real:
        real_part(args.real, args.real_steps)


if __name__ == "__main__":
    main()
