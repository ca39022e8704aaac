"""The blue/green flow's decisions, on the in-memory target (pure core logic)."""

from __future__ import annotations

import pytest

from llm_gitops.config.environments import EnvironmentSpec
from llm_gitops.deploy.analysis import AnalysisResult
from llm_gitops.deploy.bluegreen import DeployFailed, deploy, promote_preview, rollback
from llm_gitops.deploy.fake import FakeTarget
from llm_gitops.errors import ConfigError, ExternalServiceError
from llm_gitops.release.record import GateEvidence, Release


def release(n: int, verdict: str | None = "pass") -> Release:
    gate = GateEvidence(report_digest="sha256:" + "0" * 64, verdict=verdict, summary="") if verdict else None
    return Release(image=f"r/a@sha256:{n:064x}", model_digest=f"sha256:{n}", model_source="./m",
                   quantization="none", source_commit=None, built_at="2026-12-02T00:00:00Z", gate=gate)


def spec(**kw) -> EnvironmentSpec:
    return EnvironmentSpec.model_validate({"target": "docker", "scale_down_delay": 0, **kw})


def analysis(status="Successful"):
    calls = []

    def analyse(endpoint, section, *, phase, smoke=True, progress=None):
        calls.append((endpoint, phase))
        return AnalysisResult(phase=phase, status=status, reason=status.lower())

    analyse.calls = calls
    return analyse


def test_first_deploy_goes_to_blue_and_takes_traffic():
    target = FakeTarget()
    record = deploy("staging", spec(), release(1), target, analyse=analysis())
    assert record.action == "deployed" and record.live == "blue" and record.previous is None
    assert [c[0] for c in target.calls] == ["pull", "start", "wait_ready", "switch"]
    assert set(record.timings) >= {"pull_s", "start_s", "ready_s", "analysis_s", "switch_s", "to_traffic_s", "total_s"}


def test_second_release_goes_to_the_other_colour_and_the_old_one_is_scaled_down():
    target = FakeTarget(running={"blue": release(1).id}, live_colour="blue")
    slept = []
    record = deploy("staging", spec(scale_down_delay=7), release(2), target, analyse=analysis(), sleep=slept.append)
    assert record.live == "green" and record.previous == "blue"
    assert slept == [7.0]
    assert ("remove", "blue") in target.calls and target.running == {"green": release(2).id}


def test_running_twice_does_nothing_the_second_time():
    target = FakeTarget(running={"green": release(2).id}, live_colour="green")
    record = deploy("staging", spec(), release(2), target, analyse=analysis())
    assert record.action == "none" and "nothing to do" in record.message
    assert target.calls == []


def test_a_preview_left_by_a_killed_deploy_is_completed():
    # The last run died after starting green with r2, before its switch: blue is still live.
    target = FakeTarget(running={"blue": release(1).id, "green": release(2).id}, live_colour="blue")
    record = deploy("staging", spec(), release(2), target, analyse=analysis())
    # Not pulled, started or removed again; blue goes after the (zero) scale-down delay.
    assert [c[0] for c in target.calls] == ["wait_ready", "switch", "remove"] and target.calls[-1] == ("remove", "blue")
    assert record.live == "green"


def test_a_preview_of_another_release_is_replaced():
    target = FakeTarget(running={"blue": release(1).id, "green": release(3).id}, live_colour="blue")
    record = deploy("staging", spec(), release(2), target, analyse=analysis())
    assert target.calls[0] == ("remove", "green") and ("start", "green", release(2).id) in target.calls
    assert record.live == "green"


def test_after_the_front_lost_its_state_the_running_release_is_switched_to_again():
    # haproxy restarted (no live colour), blue still runs the desired release.
    target = FakeTarget(running={"blue": release(2).id})
    record = deploy("staging", spec(), release(2), target, analyse=analysis())
    assert [c[0] for c in target.calls] == ["wait_ready", "switch"] and record.live == "blue"


@pytest.mark.parametrize("status", ["Failed", "Inconclusive", "Error"])
def test_analysis_that_does_not_succeed_never_switches(status):
    target = FakeTarget(running={"blue": release(1).id}, live_colour="blue")
    with pytest.raises(DeployFailed, match=f"pre-promotion analysis {status}"):
        deploy("staging", spec(), release(2), target, analyse=analysis(status))
    assert target.live_colour == "blue" and "green" not in target.running
    assert not any(c[0] == "switch" for c in target.calls)


def test_a_preview_that_never_becomes_ready_is_removed():
    target = FakeTarget(running={"blue": release(1).id}, live_colour="blue", fail_ready={"green"})
    with pytest.raises(DeployFailed, match="never became ready"):
        deploy("staging", spec(), release(2), target, analyse=analysis())
    assert target.live_colour == "blue" and target.running == {"blue": release(1).id}


def test_post_promotion_failure_switches_back():
    target = FakeTarget(running={"blue": release(1).id}, live_colour="blue")
    outcomes = iter(["Successful", "Failed"])

    def analyse(endpoint, section, *, phase, smoke=True, progress=None):
        return AnalysisResult(phase=phase, status=next(outcomes), reason="x")

    with pytest.raises(DeployFailed, match="traffic back on blue"):
        deploy("staging", spec(post_promotion_window=10), release(2), target, analyse=analyse)
    assert target.live_colour == "blue"


def test_manual_promotion_leaves_the_preview_running_until_promoted():
    target = FakeTarget(running={"blue": release(1).id}, live_colour="blue")
    record = deploy("staging", spec(auto_promote=False), release(2), target, analyse=analysis())
    assert record.action == "awaiting-promotion" and target.live_colour == "blue"
    assert promote_preview("staging", target, release(2)) == "blue"
    assert target.live_colour == "green"


def test_a_release_without_a_passing_gate_is_refused_before_anything_runs():
    target = FakeTarget()
    for bad in (release(3, verdict="fail"), release(3, verdict=None)):
        with pytest.raises(ConfigError, match="requires a passing gate"):
            deploy("prod", spec(), bad, target, analyse=analysis())
    assert target.calls == []
    assert deploy("prod", spec(require_gate=False), release(3, verdict=None), target, analyse=analysis()).live == "blue"


def test_two_deploys_at_once_the_second_is_refused():
    target = FakeTarget(locked=True)
    with pytest.raises(ExternalServiceError, match="another deploy"):
        deploy("staging", spec(), release(1), target, analyse=analysis())


def test_rollback_moves_traffic_to_the_warm_colour_at_once():
    target = FakeTarget(running={"blue": release(1).id, "green": release(2).id}, live_colour="green")
    assert rollback("prod", target) == ("green", "blue")
    assert target.live_colour == "blue"
    gone = FakeTarget(running={"green": release(2).id}, live_colour="green")
    with pytest.raises(ConfigError, match="no longer running"):
        rollback("prod", gone)
