"""One table maps a verdict to the gate's exit code and the commit state posted for it;
the CLI's exit code and the forge's status both come from it, so they cannot disagree."""

from __future__ import annotations

import pytest

from llm_gitops.errors import EXIT_FAILED, EXIT_INTERNAL, EXIT_NO_VERDICT, EXIT_OK, ConfigError
from llm_gitops.forges.publish import status_for_verdict
from llm_gitops.gate.outcome import GateOutcome, verdict_effects

EXPECTED = [
    ("pass", "fail", EXIT_OK, "success"),
    ("fail", "fail", EXIT_FAILED, "failure"),
    ("error", "fail", EXIT_NO_VERDICT, "error"),
    ("inconclusive", "fail", EXIT_FAILED, "failure"),
    ("inconclusive", "pass", EXIT_OK, "success"),
    ("inconclusive", "neutral", EXIT_OK, "neutral"),  # the job passes; the status still says it was not shown fine
]


@pytest.mark.parametrize("verdict,policy,code,state", EXPECTED)
def test_the_exit_code_and_the_commit_state_come_from_one_table(verdict, policy, code, state):
    assert verdict_effects(verdict, policy) == (code, state)
    outcome = GateOutcome(verdict=verdict, checks=(), candidate=None, baseline=None, settings={"on_inconclusive": policy},
                          error="boom" if verdict == "error" else None)
    assert outcome.exit_code == code and outcome.to_json()["exit_code"] == code
    assert status_for_verdict(verdict, policy) == state


def test_a_failed_measurement_is_not_the_exit_code_of_a_bug():
    assert EXIT_NO_VERDICT != EXIT_INTERNAL


def test_unknown_verdicts_and_policies_are_refused():
    with pytest.raises(ValueError):
        verdict_effects("maybe")
    with pytest.raises(ValueError):
        verdict_effects("inconclusive", "shrug")
    with pytest.raises(ConfigError):
        status_for_verdict("maybe")
    assert status_for_verdict("pending") == "pending"  # posted while a gate runs; not a verdict
