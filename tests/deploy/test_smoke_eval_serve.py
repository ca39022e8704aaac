"""The smoke eval for real: the release records the example model's gated eval; a deploy's
pre-promotion analysis asks ``llm-gitops serve`` on loopback the same documents through
lm-eval's local-completions client and decides with the gate's rule. The preview serving
the gated model passes and takes traffic; one serving the regressed model fails: no
switch, the preview removed, the live colour untouched."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import pytest

from llm_gitops.config.environments import EnvironmentSpec, SmokeEval
from llm_gitops.config.schema import EvalSection, GateSection
from llm_gitops.deploy.analysis import run_analysis
from llm_gitops.deploy.bluegreen import DeployFailed, deploy
from llm_gitops.deploy.fake import FakeTarget
from llm_gitops.deploy.smoke_eval import plan_smoke_eval
from llm_gitops.deploy.target import ColourState
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.release.eval_record import record_eval
from llm_gitops.release.record import Release
from tests.deploy.backends import free_port
from tests.serve.conftest import serve_process

pytestmark = pytest.mark.slow

DOCS = 100


@dataclass
class ServedTarget(FakeTarget):
    """The in-memory target, whose colours are real servers on loopback."""

    urls: dict[str, str] = field(default_factory=dict)

    def colours(self) -> dict[str, ColourState]:
        return {c: ColourState(c, self.running.get(c), self.urls.get(c), c in self.running) for c in ("blue", "green")}


@pytest.fixture(scope="module")
def setup(example_models, tmp_path_factory):
    settings = EvalSection(tasks=["tasks/add_em.yaml", "tasks/add_mc.yaml"], limit=DOCS, seed=1234, batch_size=16,
                           max_gen_toks=5)
    good = example_models.good
    model = ResolvedModel(good, model_digest(good), str(good), "local")
    recorded = record_eval(model, settings, base_dir=example_models.repo, cache_root=tmp_path_factory.mktemp("cache"),
                           docs=DOCS)
    release = Release(image="127.0.0.1:5000/adder@sha256:" + "1" * 64, model_digest=model.digest,
                      model_source=str(good), quantization="none", source_commit=None, built_at="", gate=None,
                      eval=recorded)
    plan = plan_smoke_eval(release, SmokeEval(), settings, GateSection(), base_dir=example_models.repo, env="staging")
    logs = tmp_path_factory.mktemp("serve")
    with serve_process(good, logs / "good.log") as (_, good_url), \
            serve_process(example_models.regressed, logs / "regressed.log") as (_, regressed_url):
        yield release, plan, good_url, regressed_url


def spec() -> EnvironmentSpec:
    return EnvironmentSpec.model_validate({"target": "docker", "scale_down_delay": 0, "require_gate": False,
                                           "analysis": {"smoke_requests": 1, "smoke_eval": {}}})


def test_the_release_records_the_first_documents_of_each_task(setup):
    release, plan, *_ = setup
    assert set(release.eval.task_configs) == {"add_em", "add_mc"}
    assert release.eval.documents == DOCS and release.eval.settings["split_sizes"] == {"add_em": 500, "add_mc": 500}
    assert {t: len(d) for t, d in plan.documents.items()} == {"add_em": DOCS, "add_mc": DOCS}


def test_a_preview_serving_the_gated_model_passes_and_takes_traffic(setup):
    release, plan, good_url, _ = setup
    target = ServedTarget(running={"blue": "r-000000000000"}, live_colour="blue",
                          urls={"blue": f"http://127.0.0.1:{free_port()}", "green": good_url})
    record = deploy("staging", spec(), release, target, analyse=partial(run_analysis, smoke_eval=plan))
    assert record.action == "deployed" and target.live_colour == "green"
    evaluated = [m for m in record.analyses[0].measurements if m.check.startswith("smoke_eval:")]
    assert {m.check for m in evaluated} == {"smoke_eval:add_em/exact_match", "smoke_eval:add_mc/acc"}
    for m in evaluated:
        # The same model answers every document as recorded: identical scores, decided pass.
        assert m.verdict == "pass" and m.n == DOCS and m.value == m.recorded and m.bound <= m.limit, m
    assert record.to_json()["analyses"][0]["measurements"][1]["n"] == DOCS  # kept in the deploy record


def test_a_preview_serving_a_regressed_model_fails_and_never_takes_traffic(setup):
    release, plan, good_url, regressed_url = setup
    target = ServedTarget(running={"blue": "r-000000000000"}, live_colour="blue",
                          urls={"blue": good_url, "green": regressed_url})
    with pytest.raises(DeployFailed, match="pre-promotion analysis Failed: smoke eval fail") as failed:
        deploy("staging", spec(), release, target, analyse=partial(run_analysis, smoke_eval=plan))
    assert target.live_colour == "blue" and "green" not in target.running
    assert not any(c[0] == "switch" for c in target.calls)
    evaluated = [m for m in failed.value.record.analyses[0].measurements if m.check.startswith("smoke_eval:")]
    assert any(m.verdict == "fail" and m.value < m.recorded and m.bound > m.limit for m in evaluated), evaluated


def test_a_preview_that_does_not_answer_is_an_error_and_never_takes_traffic(setup):
    release, plan, *_ = setup
    dead = f"http://127.0.0.1:{free_port()}"
    result = run_analysis(dead, spec().analysis.model_copy(update={"smoke_requests": 0}), phase="pre-promotion",
                          smoke_eval=plan)
    assert result.status == "Error" and "eval.endpoint" in result.reason and "cannot reach" in result.reason
    assert result.measurements[-1].check == "smoke_eval" and result.measurements[-1].verdict == "error"
