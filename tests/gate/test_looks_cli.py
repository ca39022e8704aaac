"""``llm-gitops gate``'s sequential looks and its caches, through the real CLI.

The eval runner (``evaluation.runner.run_eval``: cache keys, cache reads and writes, order
slices), the looks (``gate.looks``), the decisions and their caches are all real; only
lm-eval itself is replaced (``runner._evaluate``) by a harness that scores known
per-document answers, so every document each model was evaluated on is counted. A slow
test at the end runs the real example models.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from llm_gitops.evaluation.runner import document_order
from llm_gitops.models.resolved import ResolvedModel
from tests.corpus.harness import run_cli
from tests.evaluation.conftest import LL_YAML, write_suite

SPLIT = 400
CONFIG = """\
version: 1
eval:
  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]
  sequential: true
  device: cpu
  dtype: float32
{eval_extra}
thresholds:
  - {{metric: add_em/exact_match, max_drop: 2pt}}
  - {{metric: add_mc/acc, max_drop: 2pt}}
tracking: {{mlflow: {{enabled: false}}}}
report: {{to: none}}
"""
# add_ll: LL_YAML, lm-eval's per-sample "perplexity" being a log-likelihood.
METRICS = {"add_mc": ("acc",), "add_em": ("exact_match",), "add_ll": ("perplexity", "acc")}


def _uniform(*parts: object) -> float:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:8], 16) / 16**8


def score(model: str, task: str, doc: int) -> float:
    """A model's 0/1 score on a document: "base" is right on 80%; "same" (and "same2",
    another copy) answers as "base"; "worse" misses 15% of base's right answers;
    "close" misses 3% of them on add_em and 1.5% on add_mc."""
    right = _uniform("base", task, doc) < 0.8
    miss = {"worse": 0.15, "close": 0.03 if task == "add_em" else 0.015}.get(model, 0.0)
    return float(right and _uniform("miss", model, task, doc) >= miss)


class Harness:
    """Stands for lm-eval: scores each asked document with ``score``; records each one."""

    def __init__(self, splits: dict[str, int], score=score):
        self.splits, self.score = splits, score
        self.evaluated: list[tuple[str, str, int]] = []

    def __call__(self, model, settings, placement, suite, tmp, say, order_slice=None, served=None, documents=None,
                 resident=None):
        name = Path(model.path).name
        if order_slice is not None:
            start, stop = order_slice
            samples = {t: sorted(document_order(t, n, settings.seed, settings.sampling)[start:stop])
                       for t, n in self.splits.items()}
        elif documents is not None:
            samples = {t: sorted(ids) for t, ids in documents.items() if ids}
        else:
            samples = {t: list(range(min(n, settings.limit or n))) for t, n in self.splits.items()}
        samples = {t: ids for t, ids in samples.items() if ids}
        say(f"eval: running {', '.join(samples)}")
        res: dict = {"results": {}, "samples": {}, "n-samples": {}, "higher_is_better": {}}
        for task, ids in samples.items():
            self.evaluated += [(name, task, d) for d in ids]
            res["results"][task], res["higher_is_better"][task] = {}, {}
            res["samples"][task] = [{"doc_id": d, "filter": "none"} for d in ids]
            for metric in METRICS[task]:
                scores = [self.score(name, task, d) for d in ids]
                if metric == "perplexity":  # per sample: a log-likelihood, higher for a right answer
                    scores = [-0.05 if s else -2.0 for s in scores]
                mean = sum(scores) / len(scores)
                var = sum((s - mean) ** 2 for s in scores) / (len(scores) - 1) if len(scores) > 1 else 0.0
                value = math.exp(-mean) if metric == "perplexity" else mean
                stderr = (var / len(scores)) ** 0.5
                res["results"][task].update({f"{metric},none": value, f"{metric}_stderr,none": stderr})
                res["higher_is_better"][task][metric] = metric != "perplexity"
                for record, s in zip(res["samples"][task], scores):
                    record[metric] = s
            res["n-samples"][task] = {"original": self.splits[task], "effective": len(ids)}
        return res, list(samples)

    def per_model(self) -> dict[str, list[tuple[str, int]]]:
        out: dict[str, list[tuple[str, int]]] = {}
        for name, task, doc in self.evaluated:
            out.setdefault(name, []).append((task, doc))
        return out


def resolved(name: str) -> ResolvedModel:
    stem = name.rstrip("0123456789") if name.startswith("same") else name
    # "same2" is another directory with the same weights as "same": the same digest.
    return ResolvedModel(path=Path("/models") / name, digest="sha256:" + stem.ljust(64, "0"), source=name, kind="local")


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    root = write_suite(tmp_path / "repo", count=SPLIT)
    (root / ".llm-gitops.yaml").write_text(CONFIG.format(eval_extra=""))
    monkeypatch.setattr("llm_gitops.commands.gate.command_model",
                        lambda config, spec, **_: resolved(Path(spec if isinstance(spec, str) else spec.source).name))
    return root


@pytest.fixture()
def harness(monkeypatch):
    fake = Harness({"add_mc": SPLIT, "add_em": SPLIT})
    monkeypatch.setattr("llm_gitops.evaluation.runner._evaluate", fake)
    return fake


def gate(repo: Path, candidate: str, baseline: str | None = "base", *flags: str, state: Path | None = None,
         out: str = "out"):
    args = ["gate", "--candidate", candidate, *(["--baseline", baseline] if baseline else []), "--output-dir",
            str(repo / out), *flags]
    run = run_cli(args, cwd=repo, env={"LLM_GITOPS_STATE_DIR": str(state or repo / "state")}, timeout_s=120)
    assert "Traceback" not in run.err and "internal error" not in run.err, run.err
    report = json.loads((repo / out / "report.json").read_text()) if (repo / out / "report.json").exists() else None
    return run, report


def decision(report: dict) -> dict:
    """What a gate decided, without when, how long, or from which cache."""
    return {k: report[k] for k in ("verdict", "checks", "looks", "settings", "summary", "exit_code")}


def evaluated_twice(harness: Harness) -> list[tuple[str, str, int]]:
    seen, twice = set(), []
    for item in harness.evaluated:
        (twice.append if item in seen else seen.add)(item)
    return twice


def test_a_candidate_with_the_baselines_weights_is_evaluated_once_per_document(repo, harness):
    """Two directories with the same weights (one digest): with --no-cache too, each look
    evaluates them once, not once per side."""
    run, report = gate(repo, "same", "same2", "--no-cache")
    assert run.code == 0 and report["verdict"] == "pass"
    assert "candidate and baseline are the same model (same00000000)" in report["notes"]
    docs = {task: n for look in report["looks"] for task, n in look["samples"].items()}
    assert len(harness.evaluated) == sum(docs.values()), harness.per_model().keys()
    assert report["models"]["baseline"]["source"] == "same2"
    # The same decision as with the cache, where the baseline's looks are cache hits.
    _, cached = gate(repo, "same", "same2", out="cached")
    assert decision(cached) == decision(report) | {"settings": {**report["settings"], "cache": True}}


@pytest.mark.parametrize("first", ["close", "same"])
def test_the_baselines_looks_are_reused_by_a_gate_whose_undecided_tasks_differ(repo, harness, first):
    """Against one baseline, "close" decides add_em at look 4 and goes on with add_mc alone,
    "same" evaluates both tasks up to look 5. In either order, the second gate evaluates
    none of the baseline's documents again, and decides as it would on a cold cache."""
    second = {"close": "same", "same": "close"}[first]
    gate(repo, first)
    _, report = gate(repo, second)
    assert [d for d in evaluated_twice(harness) if d[0] == "base"] == []
    cold = Harness(harness.splits)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("llm_gitops.evaluation.runner._evaluate", cold)
        _, fresh = gate(repo, second, state=repo / "cold", out="cold")
    assert decision(report) == decision(fresh)


def test_a_task_is_evaluated_up_to_its_own_next_look_when_splits_differ(repo, harness):
    """add_mc has 250 documents (looks 100, 130, 169, 250), add_em 400 (..., 169, 220, 286,
    400): at look 4 add_em needs 220 documents, not add_mc's 250."""
    data = repo / "tasks" / "data" / "add_mc.jsonl"
    data.write_text("".join(data.read_text().splitlines(True)[:250]))
    harness.splits["add_mc"] = 250
    run, report = gate(repo, "close")
    assert report["settings"]["eval_sequential"]["add_mc"] == [100, 130, 169, 250]
    last = {task: n for look in report["looks"] for task, n in look["samples"].items()}
    for name in ("close", "base"):
        per_task = {}
        for task, _doc in harness.per_model()[name]:
            per_task[task] = per_task.get(task, 0) + 1
        assert per_task == last, name
    assert evaluated_twice(harness) == []


def trail_files(state: Path) -> list[Path]:
    return sorted((state / "cache" / "gate-looks").glob("*.json"))


@pytest.mark.parametrize("entry", [{"next": [[100, 130]]}, {"next": [{"add_em": "x"}]}, {"next": [{"nope": 130}]},
                                   {"next": [{"add_em": 5000}]}, {}, {"next": None}, {"next": [100, 130]}])
def test_a_trail_of_looks_in_another_shape_is_decided_afresh(repo, harness, entry):
    """The trail of looks a re-run replays is a cache entry: one it cannot read (another
    build's, a hand edit) is a miss, not an internal error or a wrong walk through the looks."""
    _, first = gate(repo, "close")
    for path in trail_files(repo / "state"):
        path.write_text(json.dumps(entry))
    for path in (repo / "state" / "cache" / "gate").glob("*.json"):
        path.unlink()
    run, again = gate(repo, "close", out="again")
    assert run.code == 1 and decision(again) == decision(first)
    assert evaluated_twice(harness) == []


def test_a_trail_is_not_replayed_over_measurements_it_was_not_made_from(repo, harness, monkeypatch):
    """A trail records where the looks stopped on the measurements of its run. When those
    are measured again and come out otherwise (evaluations pruned from the cache and
    re-run on a GPU that is not bit-exact), the looks follow the new measurements: the
    verdict is a fresh run's on them, not a stop where the old ones stopped."""
    _, first = gate(repo, "worse")
    assert len(first["looks"]) == 1
    for sub in ("eval", "gate"):
        for path in (repo / "state" / "cache" / sub).glob("*.json"):
            path.unlink()
    harness.score = lambda model, task, doc: score("same" if model == "worse" else model, task, doc)
    run, again = gate(repo, "worse", out="again")
    cold = Harness(harness.splits, harness.score)
    monkeypatch.setattr("llm_gitops.evaluation.runner._evaluate", cold)
    _, fresh = gate(repo, "worse", state=repo / "cold", out="cold")
    assert fresh["verdict"] == "pass" and len(fresh["looks"]) > 1
    assert decision(again) == decision(fresh)


def test_a_perplexity_is_joined_over_the_looks_as_a_perplexity(repo, harness):
    """lm-eval's perplexity is exp(-mean) of per-sample log-likelihoods: over several looks
    it stays that, and its max is judged on it (not on the mean log-likelihood, -0.44,
    which any max passes)."""
    (repo / "tasks" / "add_ll.yaml").write_text(LL_YAML)
    config = (CONFIG.replace("[tasks/add_mc.yaml, tasks/add_em.yaml]", "[tasks/add_ll.yaml]")
              .replace("add_em/exact_match, max_drop: 2pt", "add_ll/perplexity, max: 1.4")
              .replace("add_mc/acc", "add_ll/acc"))
    (repo / ".llm-gitops.yaml").write_text(config.format(eval_extra=""))
    harness.splits = {"add_ll": SPLIT}
    run, report = gate(repo, "same")
    assert len(report["looks"]) > 1  # add_ll/acc is decided at a later look
    ppl = next(c for c in report["checks"] if c["metric"] == "add_ll/perplexity")
    ll = [-0.05 if score("same", "add_ll", d) else -2.0 for name, _task, d in harness.evaluated if name == "same"]
    assert ppl["candidate"] == pytest.approx(math.exp(-sum(ll) / len(ll))) and ppl["candidate"] > 1.4
    assert ppl["verdict"] == "fail" and report["verdict"] == "fail" and run.code == 1


@pytest.mark.slow
def test_an_interrupted_gate_resumes_from_whole_cache_entries_and_decides_as_an_uninterrupted_one(example_models,
                                                                                                  tmp_path):
    """The real models and lm-eval: a gate of the good model against a copy of it (one
    digest: evaluated once) is interrupted (SIGINT, as a CI cancel) while its second look
    runs. It leaves no report and only whole cache entries; the re-run takes the looks the
    first run finished from the cache, and decides as an uninterrupted gate does."""
    root = write_suite(tmp_path / "repo", count=SPLIT)
    (root / ".llm-gitops.yaml").write_text(CONFIG.format(eval_extra=""))
    copy = tmp_path / "copy"
    shutil.copytree(example_models.good, copy)
    state = tmp_path / "state"
    env = {**os.environ, "LLM_GITOPS_STATE_DIR": str(state)}
    args = [sys.executable, "-m", "llm_gitops", "gate", "--candidate", str(example_models.good), "--baseline",
            str(copy), "--output-dir", str(root / "out")]
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = []
    for line in proc.stderr:
        said.append(line)
        if "eval: running" in line and "given documents" in line:  # look 2 is being evaluated
            proc.send_signal(signal.SIGINT)
            break
    said += proc.stderr.readlines()
    assert proc.wait(timeout=300) == 130, "".join(said)
    assert not (root / "out").exists()
    entries = sorted((state / "cache").rglob("*"))
    assert [p.name for p in entries if p.is_file() and not p.name.endswith(".json")] == []
    finished = [p for p in entries if p.is_file()]
    assert finished and all(isinstance(json.loads(p.read_text()), dict) for p in finished)

    again = run_cli(args[3:], cwd=root, env={"LLM_GITOPS_STATE_DIR": str(state)}, timeout_s=600)
    assert "eval: cache hit" in again.err.splitlines()[2], again.err  # look 1: what the first run finished
    whole = run_cli([*args[3:-1], str(root / "whole"), "--no-cache"], cwd=root, timeout_s=600)
    resumed, uninterrupted = (json.loads((root / d / "report.json").read_text()) for d in ("out", "whole"))
    assert again.code == whole.code == 0 and resumed["verdict"] == "pass" and len(resumed["looks"]) > 1
    assert decision(resumed) == decision(uninterrupted) | {"settings": {**uninterrupted["settings"], "cache": True}}


@pytest.mark.slow
def test_a_cancelled_gate_sigterm_unwinds_as_an_interrupt(example_models, tmp_path):
    """SIGTERM, as a CI system cancels a job, while the eval runs: exit 143 (128 + 15), no
    report, only whole cache entries, and no temporary task directory left behind."""
    root = write_suite(tmp_path / "repo", count=SPLIT)
    (root / ".llm-gitops.yaml").write_text(CONFIG.format(eval_extra=""))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "LLM_GITOPS_STATE_DIR": str(tmp_path / "state"), "TMPDIR": str(scratch)}
    proc = subprocess.Popen([sys.executable, "-m", "llm_gitops", "gate", "--candidate", str(example_models.regressed),
                             "--baseline", str(example_models.good), "--output-dir", str(root / "out"), "--no-perf"],
                            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    said = []
    for line in proc.stderr:
        said.append(line)
        if "eval: running" in line:
            proc.send_signal(signal.SIGTERM)
            break
    said += proc.stderr.readlines()
    assert proc.wait(timeout=300) == 143, "".join(said)
    assert "Traceback" not in "".join(said) and not (root / "out").exists()
    # torch keeps its own files there; of llm-gitops', only the per-user lock directory stays, empty.
    locks = f"llm-gitops-{os.getuid()}-locks"
    assert [p.name for p in scratch.iterdir() if p.name.startswith("llm-gitops-") and p.name != locks] == []
    assert not (scratch / locks).exists() or not list((scratch / locks).iterdir())
    entries = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert all(p.suffix == ".json" and isinstance(json.loads(p.read_text()), dict) for p in entries), entries
