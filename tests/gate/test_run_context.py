"""decide() and error_outcome() share one RunContext: both record it alike, and a misspelt
keyword is an error rather than a silently dropped value."""

from __future__ import annotations

import pytest

from llm_gitops.config.schema import GateSection
from llm_gitops.gate.policy import Measurements, decide, error_outcome


def test_both_outcomes_record_the_context_alike():
    context = {"timings": {"total_s": 1.5}, "notes": ("n1",), "created_at": "2026-01-01T00:00:00Z", "version": "9",
               "settings": {"extra": 1}}
    decided = decide([], candidate=Measurements(), baseline=None, gate=GateSection(), seed=3, **context)
    failed = error_outcome("boom", gate=GateSection(), seed=3, **context)
    for outcome in (decided, failed):
        assert (dict(outcome.timings), outcome.notes, outcome.created_at, outcome.version) == (
            {"total_s": 1.5}, ("n1",), "2026-01-01T00:00:00Z", "9")
        assert outcome.settings["seed"] == 3 and outcome.settings["extra"] == 1
    assert (decided.verdict, failed.verdict, failed.error) == ("pass", "error", "boom")


@pytest.mark.parametrize("make", [
    lambda: decide([], candidate=Measurements(), baseline=None, gate=GateSection(), timing={}),
    lambda: error_outcome("boom", gate=GateSection(), timing={}),
])
def test_a_misspelt_keyword_is_an_error(make):
    with pytest.raises(TypeError, match="timing"):
        make()
