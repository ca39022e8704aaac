"""The blue/green flow: make an environment run the release its ``deploy/<env>.yaml`` names.

One deploy, in Argo Rollouts' terms: the live colour is ``active``; the other one becomes
the ``preview`` running the new release. Steps: pull by digest -> start the preview ->
readiness -> pre-promotion analysis -> switch (the front checks the preview is UP first)
-> post-promotion analysis for a window (a failure switches back: abort) -> the old colour
stays warm for ``scale_down_delay``, then goes.

Reconciliation is idempotent and crash-safe because every decision is taken on what the
target reports now: a second run with nothing to change does nothing; a run after one that
was killed before its switch removes the half-made preview and starts it again; a run
after one killed after its switch finds the release live and has nothing to do. Traffic
never moves to a colour that has not passed readiness and analysis, and a failure before
the switch leaves the live colour untouched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from llm_gitops.config.environments import AnalysisSection, EnvironmentSpec
from llm_gitops.deploy.analysis import AnalysisResult, run_analysis
from llm_gitops.deploy.haproxy import COLOURS, other
from llm_gitops.deploy.target import DeployTarget
from llm_gitops.errors import EXIT_FAILED, ConfigError, ExternalServiceError, LlmGitopsError
from llm_gitops.release.record import Release
from llm_gitops.timestamps import utc_timestamp

DEPLOY_SCHEMA = "llm-gitops/deploy/v1"
Analyse = Callable[..., AnalysisResult]


class DeployFailed(LlmGitopsError):
    """The deploy ran and did not promote (readiness, analysis): exit 1, live traffic untouched.

    ``record`` is what the deploy did and measured up to the failure, for the deploy record.
    """

    exit_code = EXIT_FAILED

    def __init__(self, message: str, record: "DeployRecord"):
        super().__init__(message)
        self.record = record


@dataclass
class DeployRecord:
    """Everything one deploy did and measured; written as JSON next to the environment's state."""

    env: str
    release: str | None
    action: str = "none"  # none | deployed | awaiting-promotion | failed | aborted
    message: str = ""
    live: str | None = None
    previous: str | None = None
    preview: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    analyses: list[AnalysisResult] = field(default_factory=list)
    started_at: str = field(default_factory=utc_timestamp)

    def to_json(self) -> dict:
        return {"schema": DEPLOY_SCHEMA, "env": self.env, "release": self.release, "action": self.action,
                "message": self.message, "live": self.live, "previous": self.previous, "preview": self.preview,
                "timings": {k: round(v, 3) for k, v in self.timings.items()},
                "analyses": [a.to_json() for a in self.analyses], "started_at": self.started_at}


def check_release_allowed(env: str, spec: EnvironmentSpec, release: Release) -> None:
    """Refuse a release the environment does not take (a failed or missing gate verdict)."""
    if spec.require_gate and (release.gate is None or release.gate.verdict != "pass"):
        verdict = "no gate report" if release.gate is None else f"gate verdict {release.gate.verdict}"
        raise ConfigError(f"release {release.id} has {verdict}; {env} requires a passing gate",
                          hint=f"gate the model and make a new release, or set environments.{env}.require_gate: false")


def _timed(record: DeployRecord, name: str, step: Callable):
    t0 = time.perf_counter()
    try:
        return step()
    finally:
        record.timings[f"{name}_s"] = time.perf_counter() - t0


def _post_spec(spec: EnvironmentSpec) -> AnalysisSection:
    """Post-promotion analysis watches real traffic for the window: no smoke requests of its own."""
    rounds = max(1, int(spec.post_promotion_window // max(spec.analysis.interval, 0.001)))
    return spec.analysis.model_copy(update={"iterations": rounds, "smoke_requests": 0})


def deploy(env: str, spec: EnvironmentSpec, release: Release | None, target: DeployTarget, *,
           progress: Callable[[str], None] = lambda _: None, analyse: Analyse = run_analysis,
           sleep: Callable[[float], None] = time.sleep, scale_down: bool = True,
           begin: Callable[[], None] = lambda: None) -> DeployRecord:
    """Reconcile ``env`` to ``release``; returns the record (raises DeployFailed when it did not promote).

    ``begin`` runs once the deploy is known to have work to do, before the target changes
    (the forge deployment is created there: its error stops the deploy with nothing changed).
    """
    record = DeployRecord(env=env, release=release.id if release else None)
    started = time.perf_counter()
    if release is None:
        record.message = f"deploy/{env}.yaml names no release: nothing to deploy"
        return record
    check_release_allowed(env, spec, release)
    with target.lock():
        colours = target.colours()
        live = target.live()
        record.live = live
        if live is not None and colours[live].release_id == release.id:
            record.message = f"{env} already runs {release.id} ({live}): nothing to do"
            record.timings["total_s"] = time.perf_counter() - started
            return record
        begin()
        preview = other(live) if live else COLOURS[0]
        record.preview = preview
        state = colours[preview]
        if state.running and state.release_id == release.id:
            # A preview a killed deploy left running with this very release: complete that
            # deploy (readiness and analysis are judged afresh below).
            progress(f"deploy {env}: {preview} already runs {release.id}; continuing that deploy")
        else:
            if state.running or state.release_id is not None:
                # The warm previous colour of the last deploy, or a preview of another
                # release: not live, so it is replaced.
                progress(f"deploy {env}: removing what runs in {preview} ({state.release_id})")
                target.remove(preview)
            progress(f"deploy {env}: {release.id} -> {preview} (live: {live or 'none'})")
            _timed(record, "pull", lambda: target.pull(release, progress))
            state = _timed(record, "start", lambda: target.start(preview, release, progress))
        try:
            _timed(record, "ready", lambda: target.wait_ready(preview, spec.readiness_timeout))
        except ExternalServiceError as exc:
            target.remove(preview)
            record.action, record.message = "failed", f"{preview} never became ready: {exc}"
            raise DeployFailed(f"deploy {env}: {record.message}; the live colour keeps all traffic", record) from None
        finally:
            record.timings["total_s"] = time.perf_counter() - started
        pre = _timed(record, "analysis", lambda: analyse(state.endpoint, spec.analysis, phase="pre-promotion",
                                                          progress=progress))
        record.analyses.append(pre)
        if not pre.promotes:
            target.remove(preview)
            record.action = "failed"
            record.message = f"pre-promotion analysis {pre.status}: {pre.reason}"
            record.timings["total_s"] = time.perf_counter() - started
            raise DeployFailed(f"deploy {env}: {record.message}; {preview} removed, the live colour keeps all traffic",
                               record)
        if not spec.auto_promote:
            record.action = "awaiting-promotion"
            record.message = f"{release.id} runs in {preview}, analysed; switch with 'llm-gitops deploy --env {env} --promote'"
            record.timings["total_s"] = time.perf_counter() - started
            return record
        previous = _timed(record, "switch", lambda: target.switch(preview))
        record.timings["to_traffic_s"] = time.perf_counter() - started
        record.live, record.previous = preview, previous
        progress(f"deploy {env}: traffic on {preview} ({release.id})")
        if spec.post_promotion_window > 0:
            post = analyse(state.endpoint, _post_spec(spec), phase="post-promotion", smoke=False, progress=progress)
            record.analyses.append(post)
            if not post.promotes and previous is not None:
                target.switch(previous)
                record.action, record.live = "aborted", previous
                record.message = f"post-promotion analysis {post.status}: {post.reason}; traffic back on {previous}"
                record.timings["total_s"] = time.perf_counter() - started
                raise DeployFailed(f"deploy {env}: {record.message}", record)
        record.action = "deployed"
        record.message = f"{env} runs {release.id} on {preview}"
        if previous is not None and scale_down:
            progress(f"deploy {env}: keeping {previous} warm for {spec.scale_down_delay:g} s (rollback window)")
            sleep(spec.scale_down_delay)
            if target.live() != previous:  # a rollback during the window keeps it
                target.remove(previous)
                progress(f"deploy {env}: {previous} removed")
        record.timings["total_s"] = time.perf_counter() - started
        return record


def promote_preview(env: str, target: DeployTarget, release: Release) -> str | None:
    """Switch to the colour that runs ``release`` (after ``auto_promote: false``)."""
    with target.lock():
        for colour, state in target.colours().items():
            if state.release_id == release.id and state.running:
                if target.live() == colour:
                    return None
                return target.switch(colour)
    raise ConfigError(f"{env}: no colour runs {release.id}", hint=f"run 'llm-gitops deploy --env {env}' first")


def rollback(env: str, target: DeployTarget) -> tuple[str, str]:
    """Move traffic back to the warm previous colour at once; returns (from, to).

    It takes no deploy lock: a rollback must not wait behind the deploy it undoes (the
    deploy re-reads the live colour before it removes anything).
    """
    live = target.live()
    if live is None:
        raise ConfigError(f"{env} has no live colour: nothing to roll back", hint="deploy a release first")
    warm = target.colours()[other(live)]
    if not warm.running:
        raise ConfigError(f"{env}: the previous colour ({warm.colour}) is no longer running (scaled down)",
                          hint=f"set deploy/{env}.yaml to the last good release and run 'llm-gitops deploy --env {env}'")
    target.switch(warm.colour)
    return live, warm.colour
