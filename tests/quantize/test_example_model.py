"""The quantize methods on the trained example model (slow: lm-eval on the real suite)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_gitops.cli import main
from llm_gitops.config.load import load_config
from llm_gitops.config.schema import Drop
from llm_gitops.errors import GateFailed
from llm_gitops.models.loader import ARTIFACT_MANIFEST, load_model
from llm_gitops.quantize.artifact import build_artifact
from llm_gitops.quantize.base import QuantizeParams
from llm_gitops.quantize.budget import require_choice, run_budget

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, example_models) -> Path:
    """A config over the example's eval suite, with a shared eval cache for the module."""
    root = tmp_path_factory.mktemp("example-quantize")
    tasks = example_models.repo / "tasks"
    (root / ".llm-gitops.yaml").write_text(
        "version: 1\n"
        "eval:\n"
        f"  tasks: [{tasks / 'add_mc.yaml'}, {tasks / 'add_em.yaml'}]\n"
        "  limit: 200\n  batch_size: 32\n  max_gen_toks: 5\n"
        "quantize:\n"
        "  methods: [int8-dynamic, int8-weight-only]\n"
        f"  distill_dataset: {example_models.data / 'train.jsonl'}\n"
    )
    return root


@pytest.fixture(scope="module")
def source(example_models, workdir):
    from llm_gitops.models.sources import resolve_model

    return resolve_model(str(example_models.good), base_dir=workdir)


def _answer(loaded, prompt: str) -> str:
    import torch

    ids = loaded.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = loaded.model.generate(ids, max_new_tokens=3, do_sample=False)
    return loaded.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_int8_dynamic_keeps_accuracy_and_answers(source, workdir):
    from llm_gitops.evaluation.runner import run_eval
    from llm_gitops.models.sources import resolve_model

    config = load_config(workdir / ".llm-gitops.yaml")
    artifact = build_artifact(source, workdir / "int8", "int8-dynamic", QuantizeParams())
    assert artifact.size_ratio <= 0.35
    loaded = load_model(artifact.path)
    assert _answer(loaded, "12+34=") == "046"

    cache = workdir / "cache"
    base = run_eval(source, config.eval, base_dir=workdir, cache_root=cache)
    quant = run_eval(resolve_model(str(artifact.path), base_dir=workdir), config.eval, base_dir=workdir, cache_root=cache)
    assert set(quant.metrics) == {"add_mc/acc", "add_em/exact_match"}
    for key, metric in base.metrics.items():
        assert metric.value > 0.5  # the example model is trained
        assert quant.metrics[key].value >= metric.value - 0.03, key


def test_budget_command_picks_a_method(workdir, example_models, capsys, monkeypatch):
    monkeypatch.chdir(workdir)
    with pytest.raises(SystemExit) as info:
        main(["quantize", "--model", str(example_models.good), "--output", "small", "--budget", "3pt"])
    out, err = capsys.readouterr()
    assert info.value.code == 0, err
    manifest = json.loads((workdir / "small" / ARTIFACT_MANIFEST).read_text())
    assert manifest["method"] in ("int8-dynamic", "int8-weight-only")
    assert f"chose {manifest['method']}" in out
    assert "add_em/exact_match" in out and "<- chosen" in out
    assert not [p for p in workdir.iterdir() if p.name.startswith(".small.")]  # staging removed


def test_zero_budget_fails_or_keeps_only_a_lossless_artifact(source, workdir):
    config = load_config(workdir / ".llm-gitops.yaml")
    result = run_budget(
        source, workdir / "zero", config=config, budget=Drop(value=0, unit="abs"),
        methods=["int8-dynamic", "int8-weight-only", "prune"], prefer="smallest",
        params=QuantizeParams(sparsity=0.5), cache_root=workdir / "cache",
    )
    for candidate in result.candidates:
        if candidate.status == "within":
            assert all(check.delta >= 0 for check in candidate.outcome.checks)
        else:
            # Not shown to be within a zero budget: an observed loss, or a bound on the
            # degradation above zero (identical answers on a sample do not prove "no loss").
            assert any(check.delta < 0 or (check.bound_value is not None and check.bound_value > 0)
                       for check in candidate.outcome.checks)
    prune = next(c for c in result.candidates if c.method == "prune")
    assert prune.status in ("over", "inconclusive")  # 50% sparsity without fine-tuning costs points
    if result.chosen is None:
        with pytest.raises(GateFailed):
            require_choice(result)
        assert not (workdir / "zero").exists()
    else:
        assert (workdir / "zero" / ARTIFACT_MANIFEST).is_file()


def test_distill_student_learns_from_the_example(source, workdir, example_models):
    params = QuantizeParams(distill_dataset=example_models.data / "train.jsonl", distill_steps=60,
                            distill_hidden_size=64, distill_layers=2)
    artifact = build_artifact(source, workdir / "student", "distill", params)
    measured = artifact.manifest["measured"]
    assert measured["final_loss"] < 0.7 * measured["initial_loss"]
    assert artifact.size_ratio < 0.5
