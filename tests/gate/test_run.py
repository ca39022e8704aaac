"""``gate.run.run_gate``, the gate's core, called as deploy analysis and chat-ops call it:
a frozen request in, a decision out, no click and no environment."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from llm_gitops.config import load_config
from llm_gitops.errors import ConfigError
from llm_gitops.gate.run import REUSED_NOTE, GateRequest, pairing_order, plan_gate, run_gate
from llm_gitops.models.resolved import ResolvedModel
from tests.gate.factories import eval_results, metric, paired_scores

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "repo-template"
CONFIG = """\
version: 1
eval:
  tasks: [tasks/add_em.yaml]
  limit: 100
  sequential: false  # one look; the looks have their own tests
thresholds:
  - metric: add_em/exact_match
    max_drop: 2pt
"""


def model(name: str) -> ResolvedModel:
    return ResolvedModel(path=Path("/models") / name, digest="sha256:" + name.ljust(64, "0"), source=name, kind="local")


@pytest.fixture()
def config(tmp_path):
    shutil.copytree(REPO_TEMPLATE / "tasks", tmp_path / "tasks")
    shutil.copytree(REPO_TEMPLATE / "data" / "eval", tmp_path / "data" / "eval")
    (tmp_path / ".llm-gitops.yaml").write_text(CONFIG)
    return load_config(tmp_path / ".llm-gitops.yaml")


@pytest.fixture()
def measured(monkeypatch):
    """A fake eval: 'bad' is 20 points worse than 'good'; records (source, limit)."""
    calls = []

    def run_eval(model, settings, *, base_dir, cache_root, progress=None, documents=None, suite=None, expect_digest=None):
        calls.append((model.source, settings.limit) if documents is None else (model.source, documents))
        ids = documents["add_em"] if documents is not None else range(settings.limit)
        scores, _ = paired_scores(len(ids), 0.80, 0.60 if model.source == "bad" else 0.80, seed=0)
        return eval_results(metric("add_em/exact_match", scores, ids), digest=model.digest, source=model.source)

    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", run_eval)
    return calls


def test_a_regression_fails_and_the_outcome_is_the_rendered_one(config, measured):
    lines = []
    run = run_gate(GateRequest(config=config, candidate=model("bad"), baseline=model("good"), limit=50),
                   progress=lines.append)
    assert run.verdict == "fail" and run.exit_code == 1 and run.outcome.verdict == "fail"
    assert run.outcome.checks[0].n == 50 and measured == [("bad", 50), ("good", 50)]
    assert run.rendered.png is None and run.decision_key is None and not run.reused  # no cache, no chart asked
    assert "gate: deciding" in lines


def test_the_total_counts_from_when_the_caller_began(config, measured):
    # The CLI reads results files and resolves models before run_gate: the report's total includes that.
    import time

    run = run_gate(GateRequest(config=config, candidate=model("good"), baseline=model("good"),
                               started=time.perf_counter() - 60))
    assert run.outcome.timings["total_s"] >= 60 > run.outcome.timings["candidate_eval_s"]


def test_results_given_for_both_sides_are_decided_in_one_look_on_all_their_documents(config, measured):
    # Sequential looks are for models the gate evaluates; lm-eval results are evaluated already.
    sequential = config.model_copy(update={"eval": config.eval.model_copy(update={"sequential": True})})
    cand, base = paired_scores(500, 0.80, 0.80, seed=1)
    run = run_gate(GateRequest(
        config=sequential, candidate=model("cand-results"), baseline=model("base-results"),
        candidate_eval=eval_results(metric("add_em/exact_match", cand), digest=model("cand-results").digest),
        baseline_eval=eval_results(metric("add_em/exact_match", base), digest=model("base-results").digest)))
    assert measured == []  # nothing evaluated
    assert run.outcome.checks[0].n == 500 and not run.outcome.looks
    assert any(n.startswith("sequential looks not used: a side is lm-eval results") for n in run.outcome.notes)


def test_a_model_gated_against_results_is_evaluated_on_their_documents(config, measured):
    # lm-eval's --limit 60 scored documents 0-59; eval.limit is 100: all 60, every one paired.
    _, base = paired_scores(60, 0.80, 0.80, seed=1)
    run = run_gate(GateRequest(config=config, candidate=model("good"), baseline=model("base-results"),
                               baseline_eval=eval_results(metric("add_em/exact_match", base),
                                                          digest=model("base-results").digest)))
    assert measured == [("good", {"add_em": list(range(60))})]
    assert run.outcome.checks[0].n == 60
    assert "the candidate model was evaluated on the documents the baseline's lm-eval results scored" \
        in run.outcome.notes
    assert not any("documents both sides evaluated" in n for n in run.outcome.notes)


def test_a_few_shot_eval_against_results_says_its_examples_may_differ(config, measured):
    few_shot = config.model_copy(update={"eval": config.eval.model_copy(update={"num_fewshot": 3})})
    _, base = paired_scores(60, 0.80, 0.80, seed=1)
    run = run_gate(GateRequest(config=few_shot, candidate=model("good"), baseline=model("base-results"),
                               baseline_eval=eval_results(metric("add_em/exact_match", base),
                                                          digest=model("base-results").digest)))
    assert any(n.startswith("few-shot examples are drawn in evaluation order") for n in run.outcome.notes)


def test_results_made_with_another_backend_are_noted(config, measured):
    _, base = paired_scores(60, 0.80, 0.80, seed=1)
    given = eval_results(metric("add_em/exact_match", base), digest=model("base-results").digest)
    for backend, noted in (("vllm", True), ("hf", False), (None, False)):
        results = replace(given, settings={**given.settings, "backend": backend})
        run = run_gate(GateRequest(config=config, candidate=model("good"), baseline=model("base-results"),
                                   baseline_eval=results))
        assert any("results were made with lm-eval's 'vllm' model, the candidate is evaluated with 'hf'" in n
                   for n in run.outcome.notes) is noted, backend


def test_pairing_order_goes_through_the_given_documents_as_looks_go_through_a_split(config):
    given = eval_results(metric("add_em/exact_match", [1.0, 0.0] * 150, range(100, 400)),
                         metric("add_mc/acc", [1.0] * 50, range(50)))
    order = pairing_order(given, config.eval)  # eval.sampling: random
    assert sorted(order["add_em"]) == list(range(100, 400)) and sorted(order["add_mc"]) == list(range(50))
    assert list(order["add_em"][:100]) != list(range(100, 200))  # shuffled by the seed, not the first 100
    assert pairing_order(given, config.eval) == order
    first = config.eval.model_copy(update={"sampling": "first"})
    assert pairing_order(given, first)["add_em"] == tuple(range(100, 400))
    # Documents that cannot be subset: a metric without per-sample scores, or not their mean.
    assert pairing_order(eval_results(metric("add_em/exact_match", [1.0] * 10), metric("add_mc/acc", [], ())),
                         config.eval) is None
    bleu = replace(metric("add_em/exact_match", [1.0, 0.0] * 10), value=0.9)
    assert pairing_order(eval_results(bleu), config.eval) is None


def test_a_model_gated_against_results_goes_through_their_documents_in_sequential_looks(config, monkeypatch):
    """The baseline's lm-eval results scored 500 documents (ids 1000-1499); the candidate
    is evaluated look by look on those documents only, each of them once."""
    base_scores, _ = paired_scores(500, 0.80, 0.80, seed=3)
    ids = list(range(1000, 1500))
    base_by_id = dict(zip(ids, base_scores))
    calls = []

    def run_eval(model, settings, *, base_dir, cache_root, progress=None, order_slice=None, documents=None,
                 resident=None, suite=None, expect_digest=None):
        assert order_slice is None and resident is not None
        calls.append(documents["add_em"])
        # The candidate disagrees with the baseline on one document in eight: undecided at first.
        scores = [base_by_id[d] if d % 8 else 1.0 - base_by_id[d] for d in documents["add_em"]]
        return eval_results(metric("add_em/exact_match", scores, documents["add_em"]), digest=model.digest,
                            source=model.source)

    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", run_eval)
    sequential = config.model_copy(update={"eval": config.eval.model_copy(update={"sequential": True})})
    run = run_gate(GateRequest(config=sequential, candidate=model("cand"), baseline=model("base-results"),
                               baseline_eval=eval_results(metric("add_em/exact_match", base_scores, ids),
                                                          digest=model("base-results").digest)))
    evaluated = [d for look in calls for d in look]
    assert len(calls) >= 2 and len(calls[0]) == 100  # look 1: eval.limit documents, then more
    assert len(evaluated) == len(set(evaluated)) and set(evaluated) <= set(ids)  # each once, all of them given
    assert run.outcome.checks[0].n == len(evaluated) == run.outcome.looks[-1]["samples"]["add_em"]
    assert "the candidate model was evaluated on the documents the baseline's lm-eval results scored, in " \
        "sequential looks" in run.outcome.notes
    assert not any(n.startswith("sequential looks not used") for n in run.outcome.notes)
    assert not any(n.startswith("few-shot examples") for n in run.outcome.notes)  # eval.num_fewshot 0


def test_the_decision_cache_reuses_a_decision_and_draws_the_chart_only_when_asked(config, measured, tmp_path,
                                                                                 monkeypatch):
    request = GateRequest(config=config, candidate=model("bad"), baseline=model("good"), cache_root=tmp_path / "c")
    first = run_gate(request)
    assert first.verdict == "fail" and first.decision_key and not first.reused
    assert REUSED_NOTE not in first.outcome.notes
    # The re-run's evals come from the eval cache, later.
    fake = __import__("llm_gitops.evaluation.runner", fromlist=["run_eval"]).run_eval
    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", lambda *a, **k: replace(fake(*a, **k), cached=True))
    monkeypatch.setattr("llm_gitops.gate.run.utc_timestamp", lambda: "2027-01-01T00:00:00Z")
    again = run_gate(request)
    assert again.reused and again.outcome.checks == first.outcome.checks and again.verdict == first.verdict
    # The decision is the earlier run's; when, how long and what was cached are this run's, and it says so.
    assert again.outcome.created_at == "2027-01-01T00:00:00Z" != first.outcome.created_at
    assert again.outcome.candidate.eval_cached is True and first.outcome.candidate.eval_cached is False
    assert again.outcome.timings["total_s"] != first.outcome.timings["total_s"]
    assert again.outcome.notes == (*first.outcome.notes, REUSED_NOTE)
    assert '"created_at": "2027-01-01T00:00:00Z"' in again.rendered.json and REUSED_NOTE in again.rendered.markdown
    charted = run_gate(GateRequest(**{**request.__dict__, "chart": True}))
    assert charted.reused and charted.rendered.png[:4] == b"\x89PNG"


def test_a_crash_in_the_looks_names_the_model_that_crashed(config, monkeypatch):
    # The looks measure both models in one step: the error names the one that failed, not both.
    def crash_on_bad(model, settings, *, order_slice, **kwargs):
        if model.source == "bad":
            raise IndexError("index out of range in self")
        ids = range(*order_slice)
        scores, _ = paired_scores(len(ids), 0.80, 0.80, seed=0)
        results = eval_results(metric("add_em/exact_match", scores, ids), digest=model.digest, source=model.source)
        return replace(results, settings={**results.settings, "split_sizes": {"add_em": 500}})

    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", crash_on_bad)
    sequential = config.model_copy(update={"eval": config.eval.model_copy(update={"sequential": True})})
    run = run_gate(GateRequest(config=sequential, candidate=model("good"), baseline=model("bad")))
    assert run.verdict == "error"
    assert run.outcome.error == "the baseline's evaluation failed: IndexError: index out of range in self"


def test_a_crashing_measurement_is_the_verdict_error_with_its_traceback(config, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("out of memory\nmore")

    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", crash)
    run = run_gate(GateRequest(config=config, candidate=model("good")))
    assert run.verdict == "error" and run.outcome.error == "the candidate's evaluation failed: RuntimeError: out of memory"
    assert "Traceback" in run.failure_detail


def test_the_plan_checks_the_config_before_any_model(config, measured):
    with pytest.raises(ConfigError, match="thresholds: none configured"):
        plan_gate(config.model_copy(update={"thresholds": []}))
    assert measured == []


def test_a_bug_of_llm_gitops_is_not_a_verdict_about_the_models(config, monkeypatch):
    from llm_gitops.gate.outcome import format_p

    def buggy(*args, **kwargs):
        return format_p("0.5")  # a TypeError raised inside llm_gitops itself

    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", buggy)
    with pytest.raises(TypeError):
        run_gate(GateRequest(config=config, candidate=model("good")))


def test_a_missing_optional_dependency_is_left_to_the_cli_to_name(config, monkeypatch):
    def missing(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'lm_eval'", name="lm_eval")

    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", missing)
    with pytest.raises(ModuleNotFoundError):
        run_gate(GateRequest(config=config, candidate=model("good")))
