"""Sequential looks end to end: the looks orchestration on fakes, and ``llm-gitops gate``
through the real entry point with an order-slice-aware fake eval runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection, GateSection, Threshold
from llm_gitops.evaluation.runner import document_order
from llm_gitops.gate.looks import evaluate_in_looks, join_slices
from llm_gitops.gate.policy import Measurements, decide
from llm_gitops.models.resolved import ResolvedModel
from tests.corpus.harness import expect_clean_error
from tests.gate.factories import eval_results, metric, paired_scores
from tests.gate.test_cli_gate import gate

REPO_TEMPLATE = Path(__file__).resolve().parents[2] / "examples" / "repo-template"
EM, MC = "add_em/exact_match", "add_mc/acc"
SPLIT = 2000
# True per-document scores (candidate, baseline) of each fake model vs the baseline "base".
TRUTH = {
    "same": paired_scores(SPLIT, 0.80, 0.80, seed=3),
    "worse": paired_scores(SPLIT, 0.80, 0.70, seed=3),
    "close": paired_scores(SPLIT, 0.80, 0.785, seed=3),
}


def model(name: str) -> ResolvedModel:
    return ResolvedModel(path=Path("/models") / name, digest="sha256:" + name.ljust(64, "0"), source=name, kind="local")


class FakeRunner:
    """Evaluates order slices of a 2000-document split from the truth table; records every document."""

    def __init__(self, settings: EvalSection, candidate: str):
        self.settings, self.candidate, self.evaluated, self.calls = settings, candidate, [], []

    def scores(self, name: str, task: str) -> list[float]:
        cand, base = TRUTH[self.candidate]
        return base if name == "base" else cand

    def __call__(self, m: ResolvedModel, order_slice: tuple[int, int], documents=None):
        start, stop = order_slice
        self.calls.append((m.source, order_slice))
        metrics = []
        for key in (EM, MC):
            task = key.split("/")[0]
            docs = sorted(document_order(task, SPLIT, self.settings.seed, self.settings.sampling)[start:stop])
            if documents is not None:
                if task not in documents:
                    continue
                assert documents[task] == docs, "a look's documents of a task are its order slice"
            self.evaluated += [(m.source, task, d) for d in docs]
            all_scores = self.scores(m.source, task)
            metrics.append(metric(key, [all_scores[d] for d in docs], docs))
        results = eval_results(*metrics, digest=m.digest, source=m.source)
        return results.__class__(**{**results.__dict__, "settings": {"order_slice": [start, stop],
                                                                       "split_sizes": {"add_em": SPLIT, "add_mc": SPLIT}}})


def run_looks(candidate: str, **eval_settings):
    settings = EvalSection(limit=100, **eval_settings)
    runner = FakeRunner(settings, candidate)
    thresholds = [Threshold(metric=EM, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt")]

    def decide_look(cand, base, design):
        return decide(thresholds, candidate=Measurements(eval=cand), baseline=Measurements(eval=base),
                      gate=GateSection(), design=design)

    cand, base, design = evaluate_in_looks(model(candidate), model("base"), settings, measure=runner, decide=decide_look)
    return decide_look(cand, base, design), runner


def per_task(outcome) -> dict[str, int]:
    """The documents each task was evaluated on: its count at the last look it took part in."""
    return {task: n for look in outcome.looks for task, n in look["samples"].items()}


class TestLooks:
    def test_a_clear_regression_stops_early_and_no_document_is_evaluated_twice(self):
        outcome, runner = run_looks("worse")
        assert outcome.verdict == "fail" and outcome.looks[-1]["next"] is None
        evaluated = per_task(outcome)
        assert max(evaluated.values()) < SPLIT / 2
        assert len(runner.evaluated) == len(set(runner.evaluated)) == 2 * sum(evaluated.values())  # 2 models

    def test_the_model_measured_last_goes_first_at_the_next_look(self):
        """With memory for one resident model only, it is still loaded when the next look starts."""
        _, runner = run_looks("close", max_limit=500)
        looks = [runner.calls[i:i + 2] for i in range(0, len(runner.calls), 2)]
        assert len(looks) >= 3
        for number, look in enumerate(looks):
            assert len({s for _, s in look}) == 1  # both models on the same documents
            assert [m for m, _ in look] == (["close", "base"] if number % 2 == 0 else ["base", "close"])

    def test_equal_quality_passes_once_the_bounds_resolve_it(self):
        outcome, _ = run_looks("same")
        assert outcome.verdict == "pass" and outcome.looks[-1]["samples"]["add_em"] < SPLIT

    def test_an_undecidable_drop_runs_to_max_limit_and_reports_what_would_settle_it(self):
        outcome, runner = run_looks("close", max_limit=500)
        assert outcome.verdict == "inconclusive"
        assert outcome.looks[-1]["samples"] == {"add_em": 500, "add_mc": 500} and outcome.looks[-1]["next"] is None
        assert {d for _, _, d in runner.evaluated} == set(document_order("add_em", SPLIT, 1234)[:500]) | set(
            document_order("add_mc", SPLIT, 1234)[:500])
        check = outcome.checks[0]
        assert check.n == 500 and check.samples_needed > 500 and check.mde is not None

    def test_a_rerun_replays_the_looks_without_deciding(self):
        settings = EvalSection(limit=100)
        store: dict = {}
        runner = FakeRunner(settings, "worse")
        thresholds = [Threshold(metric=EM, max_drop="2pt"), Threshold(metric=MC, max_drop="2pt")]
        decisions = []

        def decide_look(cand, base, design):
            decisions.append(1)
            return decide(thresholds, candidate=Measurements(eval=cand), baseline=Measurements(eval=base),
                          gate=GateSection(), design=design)

        def looks(decider):
            return evaluate_in_looks(model("worse"), model("base"), settings, measure=runner, decide=decider,
                                     recall=lambda keys: store.get(tuple(keys)),
                                     remember=lambda keys, stops: store.__setitem__(tuple(keys), stops))

        first = looks(decide_look)
        assert decisions and len(store) == 1
        again = looks(lambda *_: pytest.fail("a replayed run decides only once, at the end"))
        assert again[0].metrics[EM].doc_ids == first[0].metrics[EM].doc_ids
        assert again[2] == first[2]

    def test_joined_slices_equal_one_evaluation(self):
        settings = EvalSection(limit=100)
        runner = FakeRunner(settings, "worse")
        joined = join_slices([runner(model("x"), (0, 100)), runner(model("x"), (100, 250))])
        whole = runner(model("x"), (0, 250))
        for key in (EM, MC):
            a, b = joined.metrics[key], whole.metrics[key]
            assert sorted(zip(a.doc_ids, a.scores)) == sorted(zip(b.doc_ids, b.scores))
            assert a.value == pytest.approx(b.value) and a.stderr == pytest.approx(b.stderr) and a.n == 250
        assert joined.settings["order_slice"] == [0, 250]


# --------------------------------------------------------------------------- the CLI
CONFIG = """\
version: 1
models:
  candidate: ./{candidate}
  baseline: ./base
eval:
  tasks: [tasks/add_mc.yaml, tasks/add_em.yaml]
  limit: 100
{eval_extra}
thresholds:
  - metric: add_em/exact_match
    max_drop: 2pt
  - metric: add_mc/acc
    max_drop: 2pt
tracking:
  mlflow:
    enabled: false
report:
  to: none
"""


@pytest.fixture()
def repo(tmp_path, monkeypatch):
    shutil.copytree(REPO_TEMPLATE / "tasks", tmp_path / "tasks")
    shutil.copytree(REPO_TEMPLATE / "data" / "eval", tmp_path / "data" / "eval")
    monkeypatch.chdir(tmp_path)
    for var in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ACTIONS", "GITLAB_CI", "CI"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


class Calls(list):
    """(model, order slice) of each eval call; ``tasks``: the tasks each call evaluated (None: all)."""

    def __init__(self):
        super().__init__()
        self.tasks: list[set[str] | None] = []


@pytest.fixture()
def fake_cli(monkeypatch):
    slices = Calls()

    def resolve(config, spec, **_flags):
        return model(Path(spec if isinstance(spec, str) else spec.source).name)

    def run_eval(m, settings, *, base_dir, cache_root, progress=None, order_slice=None, resident=None, suite=None,
                 documents=None, expect_digest=None):
        assert resident is not None, "a sequential gate keeps its models loaded from look to look"
        assert suite is not None and suite.names == ["add_mc", "add_em"], "every look reuses the gate's eval.tasks"
        if documents is not None:  # the undecided tasks' share of the look: their order slice
            assert order_slice is None
            task, docs = next(iter(documents.items()))
            order = document_order(task, SPLIT, settings.seed, settings.sampling)
            at = sorted(order.index(d) for d in docs)
            order_slice = (at[0], at[-1] + 1)
        assert order_slice is not None, "a sequential gate evaluates order slices"
        slices.append((m.source, order_slice))
        slices.tasks.append(set(documents) if documents is not None else None)
        name = "worse" if m.source in ("worse", "base") else "same"
        return FakeRunner(settings, name)(m, order_slice, documents)

    monkeypatch.setattr("llm_gitops.commands.gate.command_model", resolve)
    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", run_eval)
    return slices


def test_gate_decides_a_regression_in_looks(repo, fake_cli, capsys):
    (repo / ".llm-gitops.yaml").write_text(CONFIG.format(candidate="worse", eval_extra=""))
    assert gate() == 1
    data = json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text())
    assert data["verdict"] == "fail" and data["settings"]["sequential"] is True
    last = data["looks"][-1]
    assert last["next"] is None and set(last["decided"].values()) == {"fail"}
    # Each look evaluated only its new documents, on both models.
    stops = [s for _, s in fake_cli]
    assert stops[:2] == [(0, 100), (0, 100)] and all(a[1] == b[0] for a, b in zip(stops[::2], stops[2::2]))
    assert stops[-1][1] == max(last["samples"].values()) < SPLIT
    md = (repo / ".llm-gitops" / "reports" / "report.md").read_text()
    assert f"Sequential eval: every relative check decided by look {last['look']}, on " in md
    assert "| look | samples | decided |" in md
    check = data["checks"][0]
    assert check["bound_side"] == "lower" and check["bound_value"] > 0.02 and check["look"] == last["look"]


def test_the_gate_cli_reports_a_checks_numbers_from_its_deciding_look(repo, fake_cli):
    """Candidate, baseline, delta, bounds and n of a check are all of the look that decided
    it, and a task decided early is evaluated no further."""
    (repo / ".llm-gitops.yaml").write_text(CONFIG.format(candidate="worse", eval_extra=""))
    assert gate() == 1
    data = json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text())
    samples = {look["look"]: look["samples"] for look in data["looks"]}
    for check in data["checks"]:
        assert check["n"] == samples[check["look"]][check["metric"].split("/")[0]]
        assert check["delta"] == pytest.approx(check["candidate"] - check["baseline"])
        assert check["ci_low"] <= check["delta"] <= check["ci_high"]
    mc = next(c for c in data["checks"] if c["metric"] == MC)
    assert mc["look"] < data["looks"][-1]["look"]
    # After add_mc's look, both models evaluated add_em alone.
    after = [tasks for (_, s), tasks in zip(fake_cli, fake_cli.tasks) if s[0] >= mc["n"]]
    assert after and all(tasks == {"add_em"} for tasks in after)
    md = (repo / ".llm-gitops" / "reports" / "report.md").read_text()
    em = next(c for c in data["checks"] if c["metric"] == EM)
    assert f"on {em['n']} (add_em), {mc['n']} (add_mc) documents." in md


def test_the_report_links_the_ci_run_and_its_artifacts():
    from llm_gitops.ci_context import CiContext
    from llm_gitops.commands.gate import report_links

    url = "https://github.com/o/r/actions/runs/7"
    github = CiContext("github-actions", "github", "o/r", 3, "abc", "main", "me", False, None, url)
    assert report_links(github) == {"CI run": url, "artifacts": url + "#artifacts"}
    gitlab = CiContext("gitlab-ci", "gitlab", "g/p", 3, "abc", "main", "me", False, None, "https://gl/g/p/-/pipelines/9")
    assert report_links(gitlab) == {"CI run": "https://gl/g/p/-/pipelines/9"}
    assert report_links(CiContext("local", None, None, None, None, None, None, False, None, None)) == {}


def test_max_limit_below_the_first_look_is_a_config_error(repo):
    (repo / ".llm-gitops.yaml").write_text(CONFIG.format(candidate="same", eval_extra="  max_limit: 50"))
    expect_clean_error(["gate"], cwd=repo, culprit=[".llm-gitops.yaml:8", "eval.max_limit", "first look (100"],
                       surface="config", case="max_limit below the first look")


def test_max_limit_without_sequential_looks_is_a_config_error(repo):
    (repo / ".llm-gitops.yaml").write_text(CONFIG.format(candidate="same", eval_extra="  sequential: false\n  max_limit: 500"))
    expect_clean_error(["validate-config"], cwd=repo, culprit=["eval.max_limit", "eval.sequential: true"],
                       surface="config", case="max_limit without sequential")


# --------------------------------------------------------------------------- a first model
def test_a_baseline_alias_not_registered_yet_skips_relative_checks(repo, monkeypatch, capsys):
    """A team's first PR: models.baseline names models:/NAME@production, which the first
    merge registers. The gate decides the absolute bounds and says why relative ones are skipped."""
    from llm_gitops.errors import NoSuchModelYet

    def resolve(config, spec, **_flags):
        text = spec if isinstance(spec, str) else spec.source
        if text.startswith("models:/"):
            raise NoSuchModelYet(f"{text}: no registered model 'adder' in MLflow at sqlite (the registry is empty)")
        return model(Path(text).name)

    def run_eval(m, settings, *, base_dir, cache_root, progress=None, order_slice=None, resident=None, suite=None,
                 expect_digest=None):
        return FakeRunner(settings, "same")(m, order_slice)

    monkeypatch.setattr("llm_gitops.commands.gate.command_model", resolve)
    monkeypatch.setattr("llm_gitops.evaluation.runner.run_eval", run_eval)
    (repo / ".llm-gitops.yaml").write_text(CONFIG.format(candidate="same", eval_extra="").replace(
        "baseline: ./base", "baseline: models:/adder@production"))
    assert gate() == 0
    data = json.loads((repo / ".llm-gitops" / "reports" / "report.json").read_text())
    assert data["verdict"] == "pass" and data["models"]["baseline"] is None
    assert data["summary"] == "pass - all 2 checks passed (no baseline yet: relative checks skipped)"
    assert any(n.startswith("the baseline does not exist yet: models:/adder@production: no registered model")
               for n in data["notes"])
    assert any("llm-gitops register" in n for n in data["notes"])


def test_an_unregistered_model_is_not_there_yet(tmp_path):
    from llm_gitops.errors import NoSuchModelYet
    from llm_gitops.models.sources import resolve_model
    from tests.support.mlflow_store import empty_store

    uri = empty_store(tmp_path / "mlflow.db")
    with pytest.raises(NoSuchModelYet, match="no registered model 'adder'"):
        resolve_model("models:/adder@production", base_dir=tmp_path, tracking_uri=uri)
