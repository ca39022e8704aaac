"""Post a gate report on the pull/merge request it is about.

``publish_gate_report`` takes where it runs (the ``CiContext`` the command detected
once, and the forge token it picked), picks the forge, updates the one sticky comment
for (command, environment) and sets the commit status (GitHub: a status and a check
run). It reads no environment. When it cannot post - not in a PR pipeline, no
token, a fork PR whose CI token is read-only - it prints the report and says why in
``PublishResult.reason``; it never raises for those. A forge that answers with errors
(bad token, unknown repo or PR, a storm of 5xx, garbage) is an ExternalServiceError
whose one line names what to fix.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from llm_gitops.ci_context import TOKEN_VARIABLES, CiContext, ForgeToken
from llm_gitops.errors import ConfigError, ExternalServiceError
from llm_gitops.gate.outcome import VERDICTS, commit_state_for
from llm_gitops.forges.base import Forge, PullRequestRef, StatusState, status_context
from llm_gitops.forges.registry import FORGES, make_forge
from llm_gitops.forges.retry import RetryPolicy

log = logging.getLogger(__name__)

TARGETS = ("auto", "github", "gitlab", "none")


@dataclass(frozen=True)
class PublishResult:
    posted: bool
    comment_url: str | None
    reason: str  # what happened, or why nothing was posted
    status_state: str | None = None  # the commit state that was set


def status_for_verdict(verdict: str, on_inconclusive: str = "fail") -> StatusState:
    """The commit state of a verdict (``gate.outcome.verdict_effects``); 'pending' while it runs."""
    if verdict == "pending":
        return "pending"
    if verdict not in VERDICTS:
        raise ConfigError(f"unknown verdict {verdict!r}", hint=f"use one of: {', '.join(sorted(VERDICTS))}, pending")
    return commit_state_for(verdict, on_inconclusive)  # type: ignore[return-value]


def forge_for(ctx: CiContext, target: str) -> str | None:
    """The forge a report for ``target`` goes to: the context's under 'auto', else the named one."""
    if target not in TARGETS:
        raise ConfigError(f"unknown report target {target!r}", hint=f"use one of: {', '.join(TARGETS)}")
    if target == "none":
        return None
    return ctx.forge if target == "auto" else target


def publish_gate_report(
    *,
    markdown: str,
    verdict: str,
    summary: str,
    ctx: CiContext,
    token: ForgeToken | None,
    target: str = "auto",
    command: str = "gate",
    environment: str | None = None,
    config=None,
    forge: Forge | None = None,
    retry: RetryPolicy | None = None,
    echo: Callable[[str], None] | None = None,
) -> PublishResult:
    """Post ``markdown`` as the sticky comment and set the status for ``verdict``.

    ``target``: auto (the config's ``report.to``, else the context's forge), github,
    gitlab or none. ``ctx`` is the detected CI context and ``token`` the token for the
    forge ``forge_for(ctx, target)`` names (``ci_context.forge_token``); ``forge``
    overrides the forge built from them (tests, or callers that already hold one).
    """
    on_inconclusive = config.gate.on_inconclusive if config is not None else "fail"
    state = status_for_verdict(verdict, on_inconclusive)
    if target == "auto" and config is not None:
        target = config.report.to
    forge_name = forge_for(ctx, target)
    show = echo or _print

    def not_posted(reason: str) -> PublishResult:
        show(markdown)
        log.info("report not posted: %s", reason)
        return PublishResult(False, None, reason, None)

    if target == "none":
        return not_posted("posting is off (report target 'none')")
    if forge_name is None:
        return not_posted(f"not in a pull-request pipeline of a known forge (CI: {ctx.system})")
    if forge_name not in FORGES:
        raise ConfigError(f"unknown forge {forge_name!r}", hint=f"use one of: {', '.join(sorted(FORGES))}")
    if ctx.repo is None or ctx.pr_number is None:
        return not_posted(f"no pull/merge request in this {ctx.system} run (e.g. a push or scheduled pipeline)")

    if forge is None:
        if token is None:
            names = " or ".join(TOKEN_VARIABLES[forge_name])
            if ctx.is_fork:
                return not_posted(f"fork pull request without a token: the CI gives forks no write access ({names})")
            return not_posted(f"no {forge_name} token: set {names} to post the report")
        extra = {"policy": retry} if retry is not None else {}
        forge = make_forge(forge_name, token=token.value, api_url=ctx.api_url, job_token=token.kind == "job-token",
                           login=token.login, **extra)

    pr = PullRequestRef(ctx.repo, ctx.pr_number)
    try:
        head_sha = ctx.head_sha or forge.get_pull_request(pr).head_sha
        sticky = forge.upsert_sticky_comment(pr, markdown, (command, environment))
    except ExternalServiceError as exc:
        # A fork PR's CI token can read but not write: report, don't fail the job.
        if ctx.is_fork and "403" in str(exc):
            return not_posted(f"fork pull request: the token may not write here ({exc})")
        raise
    try:
        forge.set_commit_status(
            ctx.repo, head_sha, state, status_context(command, environment),
            description=summary, target_url=ctx.run_url, summary=markdown,
        )
    except ExternalServiceError as exc:
        if ctx.is_fork and "403" in str(exc):
            return PublishResult(True, sticky.comment.url, f"comment {sticky.action}; no status: {exc}", None)
        raise
    return PublishResult(True, sticky.comment.url, f"comment {sticky.action}; status {state} on {head_sha[:12]}", state)

def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
