"""Loglikelihood tasks against the served model: lm-eval's ``local-completions`` client sends
``echo: true, logprobs: 1, max_tokens: 1`` and reads the prompt's token log-probabilities.
On the example's multiple-choice task the served model must score every document as the
same model loaded in-process does, with text prompts and with lm-eval's default token-id
prompts alike."""

from __future__ import annotations

import math

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.evaluation.tasks import builtin_task_manager, resolve_tasks
from tests.serve.conftest import serve_process

pytestmark = pytest.mark.slow

TASK = "add_mc"
LIMIT = 20


def _samples(model: str, model_args: str, manager) -> dict[int, dict]:
    import lm_eval

    res = lm_eval.simple_evaluate(model=model, model_args=model_args, tasks=[TASK], task_manager=manager, limit=LIMIT,
                                  batch_size=1, log_samples=True, random_seed=1234, numpy_random_seed=1234,
                                  torch_random_seed=1234, fewshot_random_seed=1234)
    return {s["doc_id"]: s for s in res["samples"][TASK]}


@pytest.fixture(scope="module")
def task_manager(example_models, tmp_path_factory):
    suite = resolve_tasks(EvalSection(tasks=[f"tasks/{TASK}.yaml"]), base_dir=example_models.repo)
    return builtin_task_manager(suite.write_include_dir(tmp_path_factory.mktemp("tasks")), include_defaults=False)


@pytest.fixture(scope="module")
def local(example_models, task_manager):
    return _samples("hf", f"pretrained={example_models.good},device=cpu,dtype=float32", task_manager)


# Text prompts (the server tokenizes) and token ids (lm-eval's default: its own tokenization).
@pytest.mark.parametrize("tokenized", [False, True])
def test_served_loglikelihoods_match_the_in_process_model(example_models, task_manager, local, tmp_path, tokenized):
    model = example_models.good
    with serve_process(model, tmp_path / "serve.log") as (_, base):
        served = _samples(
            "local-completions",
            f"model=good,base_url={base}/v1/completions,tokenizer={model},num_concurrent=1,max_retries=1,"
            f"tokenized_requests={tokenized}",
            task_manager,
        )
    assert "Traceback" not in (tmp_path / "serve.log").read_text()

    assert sorted(served) == sorted(local) and len(local) == LIMIT
    for doc_id, want in local.items():
        got = served[doc_id]
        assert got["acc"] == want["acc"], doc_id
        want_scores = [resp[0][0] for resp in want["resps"]]
        got_scores = [resp[0][0] for resp in got["resps"]]
        assert len(got_scores) == len(want_scores) >= 2
        for g, w in zip(got_scores, want_scores):
            assert math.isclose(float(g), float(w), rel_tol=1e-4, abs_tol=1e-4), (doc_id, got_scores, want_scores)
        # is_greedy, the second half of each answer, agrees as well.
        assert [resp[0][1] for resp in got["resps"]] == [resp[0][1] for resp in want["resps"]], doc_id
    # The model is good at this task: a broken scorer could not match it by chance.
    assert sum(s["acc"] for s in local.values()) >= LIMIT * 0.6
