"""The budget search: the gate's policy judges each artifact; the best one within budget is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_gitops.config.load import parse_config
from llm_gitops.config.schema import Drop
from llm_gitops.errors import ConfigError
from llm_gitops.evaluation.results import EvalResults, MetricResult
from llm_gitops.models.loader import ARTIFACT_MANIFEST
from llm_gitops.quantize.base import QuantizeParams
from llm_gitops.quantize.budget import format_table, judge, require_choice, run_budget

REPO = Path(__file__).resolve().parents[2]
TASKS = REPO / "examples" / "repo-template" / "tasks"


def _results(scores: list[float], key: str = "add_mc/acc") -> EvalResults:
    task, metric = key.split("/")
    m = MetricResult(task, metric, sum(scores) / len(scores), 0.01, len(scores), True,
                     tuple(range(len(scores))), tuple(scores))
    return EvalResults("sha256:x", "x", "0.4", "h", {}, {key: m}, "", 0.0)


def _config(text: str = "", tmp: Path | None = None):
    return parse_config(f"version: 1\n{text}", (tmp or Path.cwd()) / ".llm-gitops.yaml")


def test_judge_uses_the_gate_policy():
    """Within budget = the gate's pass: the drop's upper confidence bound is within the budget."""
    config = _config()
    base = _results([1.0] * 200)
    big_base = _results([1.0] * 2000)
    small_drop = _results([1.0] * 1980 + [0.0] * 20)  # -1pt on 2000 samples: shown within 2pt
    big_drop = _results([1.0] * 180 + [0.0] * 20)  # -10pt, shown beyond 2pt
    noisy = _results([1.0] * 196 + [0.0] * 4)  # -2pt on 200 samples: neither shown within 1pt nor beyond
    two = Drop(value=2, unit="pt")
    one = Drop(value=1, unit="pt")
    assert judge(small_drop, big_base, two, config).verdict == "pass"
    assert judge(_results([1.0] * 198 + [0.0] * 2), base, two, config).verdict == "inconclusive"  # 200 can't show it
    outcome = judge(big_drop, base, two, config)
    assert outcome.verdict == "fail" and outcome.checks[0].p_value < 0.05
    assert judge(noisy, base, one, config).verdict == "inconclusive"
    zero = Drop(value=0, unit="abs")
    # A zero budget can't be shown from a sample (the upper bound of an unseen loss rate is
    # above 0), but a lossless artifact is never called over it.
    assert judge(base, base, zero, config).verdict == "inconclusive"
    assert judge(small_drop, big_base, zero, config).verdict == "fail"


def test_budget_needs_an_eval_suite(tiny, tmp_path):
    with pytest.raises(ConfigError, match="eval.tasks is empty"):
        run_budget(tiny, tmp_path / "out", config=_config(tmp=tmp_path), budget=Drop(value=1, unit="pt"),
                   methods=["int8-dynamic"], prefer="smallest", params=QuantizeParams(), cache_root=None)
    assert list(tmp_path.iterdir()) == []


def test_budget_checks_method_parameters_first(tiny, tmp_path):
    config = _config(f"eval:\n  tasks: [{TASKS / 'add_mc.yaml'}]\n", tmp_path)
    with pytest.raises(ConfigError, match="distill_dataset is not set"):
        run_budget(tiny, tmp_path / "out", config=config, budget=Drop(value=1, unit="pt"),
                   methods=["int8-dynamic", "distill"], prefer="smallest", params=QuantizeParams(), cache_root=None)
    assert list(tmp_path.iterdir()) == []


def test_budget_search_on_a_tiny_model(tiny, tmp_path):
    """Real lm-eval on a sample: a generous budget admits both; the smaller one is kept."""
    config = _config(f"eval:\n  tasks: [{TASKS / 'add_mc.yaml'}]\n  limit: 40\n  batch_size: 40\n", tmp_path)
    lines: list[str] = []
    result = run_budget(
        tiny, tmp_path / "out", config=config, budget=Drop(value=100, unit="pt"),
        methods=["prune", "int8-dynamic"], prefer="smallest", params=QuantizeParams(),
        cache_root=tmp_path / "cache", keep_all=tmp_path / "tried", progress=lines.append,
    )
    assert [c.status for c in result.candidates] == ["within", "within"]
    chosen = require_choice(result)
    assert chosen.method == "int8-dynamic"  # 0.5x vs prune's dense 1.0x
    assert chosen.artifact.path == (tmp_path / "out").absolute()
    assert (tmp_path / "out" / ARTIFACT_MANIFEST).is_file()
    assert result.kept == {"prune": (tmp_path / "tried" / "prune").absolute()}
    assert (tmp_path / "tried" / "prune" / ARTIFACT_MANIFEST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "out", "tried"]  # no staging left
    table = format_table(result)
    assert "add_mc/acc" in table and "int8-dynamic" in table and "<- chosen" in table
    assert table.splitlines()[2].startswith("source (fp32)")
    assert any("budget: int8-dynamic: within" in line for line in lines)


def test_budget_on_a_model_no_method_applies_to_is_a_usage_error(gpt2_dir, tmp_path):
    from llm_gitops.errors import ModelSourceError
    from llm_gitops.models.sources import resolve_model

    source = resolve_model(str(gpt2_dir), base_dir=tmp_path)
    config = _config(f"eval:\n  tasks: [{TASKS / 'add_mc.yaml'}]\n", tmp_path)
    with pytest.raises(ModelSourceError, match="methods that apply to this model: prune, distill"):
        run_budget(source, tmp_path / "out", config=config, budget=Drop(value=1, unit="pt"),
                   methods=["int8-dynamic", "int8-weight-only"], prefer="smallest", params=QuantizeParams(),
                   cache_root=None)
    assert list(tmp_path.iterdir()) == []
