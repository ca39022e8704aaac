"""Verified promotion: a release moves into an environment only once verified upstream (Kargo's rule).

Evidence is a commit status ``llm-gitops/verified/<env>`` whose description is the release
id, set by the deploy job on the commit that last changed ``deploy/<env>.yaml`` once the
environment runs that release. Statuses are written with the CI's token and live on the
forge, so they cannot be forged by editing a file in a pull request.

``plan_promotion`` reads everything from the checkout of the base branch (policy and state
come from the base branch, never from a pull request's head) and the forge's statuses;
``open_promotion`` opens, or updates, the one promotion pull request per target
environment (branch ``llm-gitops/promote-<env>``) whose body is a release card.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from llm_gitops.config.environments import EnvironmentSpec
from llm_gitops.deploy.desired import DEPLOY_DIR, Desired, desired_path, load_desired
from llm_gitops.errors import ConfigError
from llm_gitops.forges.base import FileChange, Forge, PullRequest, status_context
from llm_gitops.release.record import Release, ReleaseChange, compare

PROMOTE_BRANCH = "llm-gitops/promote-{env}"


def verified_context(env: str) -> str:
    return status_context("verified", env)


def last_change(root: Path, env: str) -> str:
    """The commit that last changed ``deploy/<env>.yaml`` in the checkout's history."""
    rel = f"{DEPLOY_DIR}/{env}.yaml"

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)

    dirty = git("status", "--porcelain", "--", rel)
    if dirty.returncode != 0:
        raise ConfigError(f"{root} is not a git repository", hint="deploy and promote from a checkout of the model repo")
    if dirty.stdout.strip():
        raise ConfigError(f"{rel} has uncommitted changes",
                          hint="commit it: verification is recorded against the commit that set the release")
    sha = git("log", "-1", "--format=%H", "--", rel).stdout.strip()
    if not sha:
        shallow = git("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
        hint = ("the checkout is shallow: fetch the history (actions/checkout: fetch-depth: 0; GitLab: GIT_DEPTH: 0)"
                if shallow else f"commit {rel} first")
        raise ConfigError(f"no commit has changed {rel}", hint=hint)
    return sha


def record_verified(forge: Forge, repo: str, root: Path, env: str, release_id: str, *, target_url: str | None = None) -> str:
    """Mark the commit that set ``deploy/<env>.yaml`` as verified in ``env`` for ``release_id``; returns the sha."""
    sha = last_change(root, env)
    forge.set_commit_status(repo, sha, "success", verified_context(env), release_id, target_url=target_url,
                            summary=f"{env} runs {release_id}, deployed and analysed by llm-gitops")
    return sha


@dataclass(frozen=True)
class PromotionPlan:
    env: str
    upstream: str
    release: Release
    current: Desired
    change: ReleaseChange
    evidence_sha: str  # the upstream commit carrying the verified status

    @property
    def branch(self) -> str:
        return PROMOTE_BRANCH.format(env=self.env)

    def card(self) -> str:
        """The pull request body: what changes, and the upstream evidence."""
        lines = [f"## Promote `{self.release.id}` to {self.env}", "",
                 f"Verified in **{self.upstream}**: status `{verified_context(self.upstream)}` = success on "
                 f"{self.evidence_sha[:12]} (the commit that set `deploy/{self.upstream}.yaml` to `{self.release.id}`).",
                 "", "### What changes", "", *self.change.lines(), "",
                 f"Merging this pull request sets `deploy/{self.env}.yaml`; the deploy job then runs "
                 f"`llm-gitops deploy --env {self.env}` (blue/green, analysed, instant rollback)."]
        return "\n".join(lines) + "\n"


def plan_promotion(*, env: str, environments: dict[str, EnvironmentSpec], root: Path, forge: Forge,
                   repo: str) -> PromotionPlan | None:
    """What promoting into ``env`` would do; None when ``env`` already runs the upstream's release.

    Raises ConfigError for a refusal: no upstream, ``env`` on hold, nothing deployed
    upstream, a release not (or no longer) verified upstream.
    """
    if env not in environments:
        raise ConfigError(f"--to {env}: no such environment", hint=f"use one of: {', '.join(environments) or '(none)'}")
    upstream = environments[env].requires
    if upstream is None:
        raise ConfigError(f"{env} has no upstream environment to promote from",
                          hint=f"set environments.{env}.requires (e.g. staging), or set deploy/{env}.yaml by hand")
    current = load_desired(root, env) if desired_path(root, env).exists() else None
    if current is not None and current.state.hold:
        reason = f": {current.state.hold_reason}" if current.state.hold_reason else ""
        raise ConfigError(f"{env} is on hold{reason}; promotions are refused",
                          hint=f"set hold: false in deploy/{env}.yaml by pull request when it may move again")
    source = load_desired(root, upstream)
    if source.release is None:
        raise ConfigError(f"nothing is deployed in {upstream} (deploy/{upstream}.yaml names no release)",
                          hint=f"release and deploy to {upstream} first")
    release = source.release
    if current is not None and current.state.release == release.id:
        return None
    sha = last_change(root, upstream)
    statuses = {s.context: s for s in forge.get_commit_statuses(repo, sha)}
    status = statuses.get(verified_context(upstream))
    if status is None:
        raise ConfigError(f"release {release.id} is not verified in {upstream}: no {verified_context(upstream)} status "
                          f"on {sha[:12]}", hint=f"run 'llm-gitops deploy --env {upstream}' (the deploy job records it)")
    if status.state != "success":
        raise ConfigError(f"release {release.id} failed verification in {upstream} ({status.state}: {status.description})",
                          hint=f"fix {upstream} first; 'llm-gitops deploy --env {upstream}' records a new verification")
    if status.description.strip() != release.id:
        raise ConfigError(f"{upstream}'s verification is stale: it is for {status.description.strip() or '(none)'}, "
                          f"but deploy/{upstream}.yaml names {release.id}",
                          hint=f"wait for the deploy of {release.id} to {upstream} to finish")
    current_release = current.release if current is not None else None
    placeholder = current or Desired(env=env, path=desired_path(root, env), state=_empty_state(), release=None)
    return PromotionPlan(env=env, upstream=upstream, release=release, current=placeholder,
                         change=compare(current_release, release), evidence_sha=sha)


def _empty_state():
    from llm_gitops.deploy.desired import DesiredState

    return DesiredState(version=1)


def propose_change(forge: Forge, repo: str, base: str, *, branch: str, changes: list[FileChange], message: str,
                   title: str, body: str, key: tuple[str, str]) -> tuple[PullRequest, str]:
    """Open the pull request from ``branch``, or add ``changes`` to the open one; returns (PR, action).

    One open pull request per branch: a newer proposal is a new commit on it, and its body
    is refreshed as the sticky comment ``key``.
    """
    existing = forge.find_open_pull_request(repo, branch, base)
    if existing is not None:
        forge.commit_changes(repo, branch, changes, message)
        forge.upsert_sticky_comment(existing.ref, body, key)
        return forge.get_pull_request(existing.ref), "updated"
    if forge.read_file(repo, changes[0].path, branch) is not None:
        # A branch left by a merged or closed proposal: continue it rather than fail on "exists".
        forge.commit_changes(repo, branch, changes, message)
    else:
        forge.create_branch_with_changes(repo, branch, base, changes, message)
    return forge.open_pull_request(repo, branch, base, title, body), "opened"


def open_promotion(plan: PromotionPlan, forge: Forge, repo: str, base: str) -> tuple[PullRequest, str]:
    """Open the promotion pull request, or move the open one to this release; returns (PR, action)."""
    state = plan.current.state.model_copy(update={"release": plan.release.id})
    return propose_change(
        forge, repo, base, branch=plan.branch,
        changes=[FileChange(f"{DEPLOY_DIR}/{plan.env}.yaml", state.to_yaml(plan.env))],
        message=f"Promote {plan.release.id} to {plan.env} (verified in {plan.upstream})",
        title=f"Promote {plan.release.id} to {plan.env}", body=plan.card(), key=("promote", plan.env))


def open_rollback(*, env: str, root: Path, release: Release, forge: Forge, repo: str, base: str,
                  moved_from: str | None) -> tuple[PullRequest, str]:
    """The pull request that writes a rollback back to git: ``deploy/<env>.yaml`` -> ``release``.

    Without it the next deploy would roll forward again (Flagger's and Argo's rollbacks are
    not written back; users get bitten by that).
    """
    current = load_desired(root, env)
    state = current.state.model_copy(update={"release": release.id})
    body = "\n".join([f"## Roll back {env} to `{release.id}`", "",
                      f"Traffic was moved back to `{release.id}` by `llm-gitops rollback --env {env}`"
                      + (f" (from `{moved_from}`)." if moved_from else "."),
                      f"Merge this so that `deploy/{env}.yaml` says what runs; until then the next deploy of "
                      f"{env} would roll forward to `{current.state.release}` again.", "",
                      *compare(current.release, release).lines()]) + "\n"
    return propose_change(
        forge, repo, base, branch=f"llm-gitops/rollback-{env}",
        changes=[FileChange(f"{DEPLOY_DIR}/{env}.yaml", state.to_yaml(env))],
        message=f"Roll back {env} to {release.id}", title=f"Roll back {env} to {release.id}", body=body,
        key=("rollback", env))
