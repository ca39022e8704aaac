"""The smoke eval's decision and its plan (pure core logic: recorded vs served per-document scores)."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from llm_gitops.config.environments import EnvironmentSpec, SmokeEval
from llm_gitops.config.schema import EvalSection, GateSection
from llm_gitops.deploy.smoke_eval import decide_smoke_eval, plan_smoke_eval
from llm_gitops.errors import ConfigError
from llm_gitops.evaluation.results import EvalResults, MetricResult
from llm_gitops.evaluation.tasks import resolve_tasks
from llm_gitops.release.record import RecordedEval, Release
from tests.evaluation.conftest import write_suite

GATE = GateSection()


def results(scores: dict[str, list[float]], doc_ids: list[int] | None = None) -> EvalResults:
    metrics = {}
    for key, values in scores.items():
        task, metric = key.split("/")
        ids = tuple(doc_ids or range(len(values)))
        metrics[key] = MetricResult(task, metric, sum(values) / len(values), None, len(values), True, ids,
                                    tuple(values))
    return EvalResults("sha256:m", "m", "0.4.13", "", {}, metrics, "", 0.0)


def scores(n: int, accuracy: float, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [1.0 if rng.random() < accuracy else 0.0 for _ in range(n)]


def test_the_same_answers_pass_with_a_hundred_documents():
    recorded = results({"add_em/exact_match": scores(100, 0.9, 1), "add_mc/acc": scores(100, 0.95, 2)})
    verdict = decide_smoke_eval(recorded, recorded, SmokeEval(), GATE)
    assert verdict.status == "Successful", verdict.reason
    assert {c.metric for c in verdict.checks} == {"add_em/exact_match", "add_mc/acc"}
    for check in verdict.checks:
        assert check.verdict == "pass" and check.n == 100 and check.recorded == check.served
        assert check.allowed_drop == pytest.approx(0.05) and 0 < check.bound <= 0.05


def test_a_worse_model_fails():
    good = scores(100, 0.95, 3)
    broken = [s if i % 3 else 0.0 for i, s in enumerate(good)]  # a third of the answers lost
    verdict = decide_smoke_eval(results({"add_em/exact_match": good}), results({"add_em/exact_match": broken}),
                                SmokeEval(), GATE)
    assert verdict.status == "Failed" and "smoke eval fail" in verdict.reason
    (check,) = verdict.checks
    assert check.verdict == "fail" and check.served < check.recorded and check.bound > check.allowed_drop


def test_undecided_is_inconclusive_and_promotes_only_when_configured():
    good = [1.0] * 20
    some_lost = [0.0, 0.0] + good[2:]  # a 10pt drop on 20 documents: neither shown within 5pt nor beyond
    recorded, served = results({"add_em/exact_match": good}), results({"add_em/exact_match": some_lost})
    assert decide_smoke_eval(recorded, served, SmokeEval(), GATE).status == "Inconclusive"
    assert decide_smoke_eval(recorded, served, SmokeEval(on_inconclusive="pass"), GATE).status == "Successful"


def test_a_metric_the_server_did_not_answer_is_an_error():
    recorded = results({"add_em/exact_match": [1.0] * 10})
    served = replace(recorded, metrics={})
    assert decide_smoke_eval(recorded, served, SmokeEval(), GATE).status == "Error"


# --------------------------------------------------------------------------- plan
def recorded_release(root, *, limit=30) -> Release:
    suite = resolve_tasks(EvalSection(tasks=["tasks/add_em.yaml", "tasks/add_mc.yaml"]), base_dir=root)
    metrics = {
        "add_em/exact_match": MetricResult("add_em", "exact_match", 0.9, 0.05, limit, True, tuple(range(limit)),
                                           tuple([1.0] * limit)).to_json(),
        "add_mc/acc": MetricResult("add_mc", "acc", 1.0, 0.0, limit, True, tuple(range(limit)),
                                   tuple([1.0] * limit)).to_json(),
    }
    recorded = RecordedEval(model_digest="sha256:m", harness_version="0.4.13",
                            settings={"seed": 1234, "sampling": "random", "num_fewshot": 0, "max_gen_toks": 5,
                                      "split_sizes": {"add_em": 30, "add_mc": 30}},
                            task_configs={t.name: t.config_hash for t in suite.tasks}, metrics=metrics)
    (root / "model").mkdir(exist_ok=True)
    return Release(image="r/a@sha256:" + "1" * 64, model_digest="sha256:m", model_source="./model",
                   quantization="none", source_commit=None, built_at="", gate=None, eval=recorded)


def plan(root, release, **smoke):
    settings = EvalSection(tasks=["tasks/add_em.yaml", "tasks/add_mc.yaml"])
    return plan_smoke_eval(release, SmokeEval(**smoke), settings, GATE, base_dir=root, env="staging")


def test_the_plan_asks_the_first_recorded_documents_in_the_seeded_order(tmp_path):
    write_suite(tmp_path)
    made = plan(tmp_path, recorded_release(tmp_path), limit=10, tasks=["add_em"])
    assert set(made.documents) == {"add_em"} and len(made.documents["add_em"]) == 10
    assert made.documents["add_em"] != list(range(10))  # the seeded order, not the lowest ids
    assert set(made.recorded.metrics) == {"add_em/exact_match"}
    assert made.recorded.metrics["add_em/exact_match"].n == 10
    assert made.settings.backend == "local-completions" and made.settings.max_gen_toks == 5
    assert made.tokenizer == (tmp_path / "model").resolve()


def test_a_release_without_a_recorded_eval_is_refused(tmp_path):
    write_suite(tmp_path)
    bare = replace(recorded_release(tmp_path), eval=None)
    with pytest.raises(ConfigError, match=r"smoke_eval: release r-\w+ records no eval"):
        plan(tmp_path, bare)


def test_a_task_not_recorded_or_changed_since_is_refused(tmp_path):
    write_suite(tmp_path)
    release = recorded_release(tmp_path)
    with pytest.raises(ConfigError, match="recorded no eval of add_xx"):
        plan(tmp_path, release, tasks=["add_xx"])
    (tmp_path / "tasks" / "data" / "add_em.jsonl").write_text('{"question": "1+1=", "answer": "002"}\n')
    with pytest.raises(ConfigError, match="task 'add_em' changed"):
        plan(tmp_path, release)


def test_smoke_eval_config_is_checked_like_thresholds():
    spec = EnvironmentSpec.model_validate({"target": "docker", "analysis": {"smoke_eval": {"max_drop": "3pt"}}})
    assert spec.analysis.smoke_eval.max_drop.allowed(0.9) == pytest.approx(0.03)
    for bad in ({"max_drop": "lots"}, {"limit": 1}, {"on_inconclusive": "maybe"}, {"task": ["x"]}):
        with pytest.raises(ValueError):
            EnvironmentSpec.model_validate({"target": "docker", "analysis": {"smoke_eval": bad}})


@pytest.mark.parametrize("name", ["no-prompt-logprobs", "models-not-json", "completion-503"])
def test_a_preview_without_logprobs_or_answering_garbage_is_an_error(tmp_path, name):
    from llm_gitops.deploy.smoke_eval import run_smoke_eval
    from tests.evaluation.test_endpoint_backend import BAD_SERVERS, fake_server

    write_suite(tmp_path)
    made = plan(tmp_path, recorded_release(tmp_path))
    (made.tokenizer / "tokenizer.json").write_text("{}")  # hashed only: the server fails before lm-eval starts
    routes, expected = BAD_SERVERS[name]
    with fake_server(routes) as url:
        verdict = run_smoke_eval(made, url)
    assert verdict.status == "Error" and expected in verdict.reason and not verdict.checks


def test_a_changed_task_stops_a_deploy_before_anything_starts_but_not_one_with_nothing_to_do(tmp_path):
    # As 'llm-gitops deploy' wires it: the plan is made in the flow's begin hook.
    from llm_gitops.deploy.bluegreen import deploy
    from llm_gitops.deploy.fake import FakeTarget

    write_suite(tmp_path)
    release = recorded_release(tmp_path)
    (tmp_path / "tasks" / "data" / "add_em.jsonl").write_text('{"question": "1+1=", "answer": "002"}\n')
    spec = EnvironmentSpec.model_validate({"target": "docker", "require_gate": False, "analysis": {"smoke_eval": {}}})
    target = FakeTarget(running={"blue": "r-000000000000"}, live_colour="blue")
    with pytest.raises(ConfigError, match="task 'add_em' changed"):
        deploy("staging", spec, release, target, begin=lambda: plan(tmp_path, release))
    assert target.calls == [] and target.live_colour == "blue"
    live = FakeTarget(running={"blue": release.id}, live_colour="blue")
    assert deploy("staging", spec, release, live, begin=lambda: plan(tmp_path, release)).action == "none"


def test_with_few_shot_prompts_every_recorded_document_is_asked(tmp_path):
    write_suite(tmp_path)
    release = recorded_release(tmp_path)
    few_shot = replace(release, eval=replace(release.eval, settings={**release.eval.settings, "num_fewshot": 2}))
    made = plan(tmp_path, few_shot, limit=10)
    assert {t: len(d) for t, d in made.documents.items()} == {"add_em": 30, "add_mc": 30}
    assert made.settings.num_fewshot == 2
