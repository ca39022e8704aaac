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

import dataclasses
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from llm_gitops.ci_context import TOKEN_VARIABLES, CiContext, ForgeToken, refuse_other_forge
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


def report_target(chosen: str | None, configured: str = "auto") -> str:
    """Where a run's report goes: ``chosen`` (``--report-to``), unless it is absent or
    'auto', which defer to ``configured`` (``report.to``, itself 'auto' by default)."""
    target = configured if chosen in (None, "auto") else chosen
    if target not in TARGETS:
        raise ConfigError(f"unknown report target {target!r}", hint=f"use one of: {', '.join(TARGETS)}")
    return target


def forge_for(ctx: CiContext, target: str) -> str | None:
    """The forge a report for ``target`` (as ``report_target`` resolves it) goes to: the
    context's under 'auto', else the named one, which must be the context's."""
    if target not in TARGETS:
        raise ConfigError(f"unknown report target {target!r}", hint=f"use one of: {', '.join(TARGETS)}")
    if target == "none":
        return None
    if target == "auto":
        return ctx.forge
    refuse_other_forge(ctx, target, "the report target")
    return target


def forge_client(ctx: CiContext, forge_name: str, token: ForgeToken, retry: RetryPolicy | None = None) -> Forge:
    """A client for ``forge_name`` at the context's API with ``token`` (the gate's post, and
    the deploy-side commands' forge)."""
    if forge_name not in FORGES:
        raise ConfigError(f"unknown forge {forge_name!r}", hint=f"use one of: {', '.join(sorted(FORGES))}")
    extra = {"policy": retry} if retry is not None else {}
    return make_forge(forge_name, token=token.value, api_url=ctx.api_url, job_token=token.kind == "job-token",
                      login=token.login, **extra)


def pull_request_context(ctx: CiContext, forge_name: str | None, token: ForgeToken | None,
                         checkout: tuple[str, ...], *, forge: Forge | None = None,
                         retry: RetryPolicy | None = None) -> CiContext:
    """``ctx`` completed from the forge where its variables do not say: the pull request's
    head commit and whether it comes from a fork (a GitHub comment event; a Jenkins change
    build, which may check out a merge of the PR).

    ``checkout``: HEAD and its parents (``git_checkout.head_and_parents``). The head must be
    one of them - the checkout itself, or a side of a merge build - else the gate would set
    its status on a commit it did not evaluate: ConfigError. Unchanged without a pull
    request, a forge or a token (nothing is posted then).
    """
    if ctx.head_sha is not None or ctx.pr_number is None or ctx.repo is None or forge_name is None:
        return ctx
    if forge is None:
        if token is None:
            return ctx
        forge = forge_client(ctx, forge_name, token, retry)
    pull = forge.get_pull_request(PullRequestRef(ctx.repo, ctx.pr_number))
    head = pull.head_sha.lower()
    if not checkout:
        raise ConfigError(f"pull request {ctx.repo}#{ctx.pr_number}'s head is {head[:12]}, and this run is not in a "
                          "git checkout, so which commit it evaluates cannot be told",
                          hint="run the gate in the job's checkout of the pull request")
    if head not in (c.lower() for c in checkout):
        raise ConfigError(
            f"pull request {ctx.repo}#{ctx.pr_number}'s head is {head[:12]}, but this run checked out "
            f"{checkout[0][:12]}, which is neither that commit nor a merge of it: the gate would report on a commit it "
            "did not evaluate",
            hint="check out the pull request's head (or its merge) in the job; a push since the job started gets a run "
                 "of its own")
    return dataclasses.replace(ctx, head_sha=pull.head_sha, is_fork=ctx.is_fork or pull.is_fork)


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
    gitlab or none. ``ctx`` is the detected CI context, completed by
    ``pull_request_context``, and ``token`` the token for the forge
    ``forge_for(ctx, target)`` names (``ci_context.forge_token``); ``forge`` overrides the
    forge built from them (tests, or callers that already hold one).
    """
    on_inconclusive = config.gate.on_inconclusive if config is not None else "fail"
    state = status_for_verdict(verdict, on_inconclusive)
    target = report_target(target, config.report.to if config is not None else "auto")
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
    if ctx.repo is None or ctx.pr_number is None:
        return not_posted(f"no pull/merge request in this {ctx.system} run (e.g. a push or scheduled pipeline)")

    if forge is None:
        if token is None:
            names = " or ".join(TOKEN_VARIABLES[forge_name])
            if ctx.is_fork:
                return not_posted(f"fork pull request without a token: the CI gives forks no write access ({names})")
            return not_posted(f"no {forge_name} token: set {names} to post the report")
        forge = forge_client(ctx, forge_name, token, retry)
    if ctx.head_sha is None:
        return not_posted("the pull request's head commit is not known (pull_request_context completes the context)")

    pr = PullRequestRef(ctx.repo, ctx.pr_number)
    try:
        sticky = forge.upsert_sticky_comment(pr, markdown, (command, environment))
    except ExternalServiceError as exc:
        # A fork PR's CI token can read but not write: report, don't fail the job.
        if ctx.is_fork and "403" in str(exc):
            return not_posted(f"fork pull request: the token may not write here ({exc})")
        raise
    try:
        forge.set_commit_status(
            ctx.repo, ctx.head_sha, state, status_context(command, environment),
            description=summary, target_url=ctx.run_url, summary=markdown,
        )
    except ExternalServiceError as exc:
        if ctx.is_fork and "403" in str(exc):
            return PublishResult(True, sticky.comment.url, f"comment {sticky.action}; no status: {exc}", None)
        # The comment is there: say so, so that nobody reads "not posted" and looks for none.
        raise ExternalServiceError(f"the comment was {sticky.action} ({sticky.comment.url}), but the commit status "
                                   f"was not set: {exc}") from None
    return PublishResult(True, sticky.comment.url, f"comment {sticky.action}; status {state} on {ctx.head_sha[:12]}",
                         state)


def _print(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
