"""Each deploy and rollback recorded on the forge as a deployment with statuses, so that the
forge's environment page (GitHub's Environments, GitLab's Operate > Environments) shows the
history of what ran where.

When the forge may stop a deploy, and when it may not:

- before anything changes on the target, the deployment is created (``in_progress``); a
  forge that refuses or cannot be reached stops the deploy there, with one error line and
  nothing changed (a deploy that the forge does not show would be an unrecorded change);
- once the target has changed (after the preview started, after the switch), the forge
  can no longer change what happens to traffic: a status that cannot be written is a
  warning line and the deploy's outcome and exit code stay what they were.

The deployment is of the commit that last set ``deploy/<env>.yaml`` (the commit the
verified status ``llm-gitops/verified/<env>`` is on), with the release id as its payload.
The verified status stays the promotion evidence (``deploy/promotion.py``); deployments are
the history a person reads.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from llm_gitops.deploy.desired import DEPLOY_DIR
from llm_gitops.errors import ExternalServiceError, LlmGitopsError
from llm_gitops.forges.base import Deployment, DeploymentState, Forge
from llm_gitops.logsafe import redact

# How far back a rollback looks for the commit that last named the release it goes back to.
_HISTORY_LIMIT = 200


@dataclass
class DeploymentRecorder:
    """One deploy's deployment on ``forge``: :meth:`begin` before the target changes, :meth:`end` after."""

    forge: Forge
    repo: str
    env: str
    sha: str
    ref: str
    warn: Callable[[str], None]
    log_url: str | None = None
    environment_url: str | None = None  # environments.ENV.url: the link on the forge's environment page
    deployment: Deployment | None = field(default=None, init=False)

    def begin(self, release_id: str) -> None:
        """Create the deployment, ``in_progress``; raises ExternalServiceError (nothing has changed yet).

        The environment's newest deployment still ``in_progress`` was left by a deploy that
        did not finish (killed, or waiting for ``--promote``): of this commit, this run
        completes it, as the flow completes the deploy; of another, it ends as ``error``.
        Deploys of an environment hold its lock, so nothing else is in progress meanwhile.
        """
        try:
            left = next(iter(self.forge.list_deployments(self.repo, self.env, limit=1)), None)
            if left is not None and left.state in ("queued", "in_progress"):
                if left.sha == self.sha:
                    self.deployment = left
                    return
                self.forge.set_deployment_status(self.repo, left, "error", "interrupted: a later deploy took over",
                                                 log_url=self.log_url)
            self._create(release_id, f"llm-gitops deploy of {release_id} to {self.env}")
        except ExternalServiceError as exc:
            raise ExternalServiceError(f"deploy {self.env}: not started, its forge deployment could not be recorded: "
                                       f"{exc.message}",
                                       hint="the token needs deployments write access (GitHub Actions: permissions: "
                                       "deployments: write); re-run when the forge answers, or deploy with --forge none "
                                       "to record nothing") from None

    def _create(self, release_id: str, description: str) -> None:
        self.deployment = self.forge.create_deployment(self.repo, sha=self.sha, ref=self.ref, environment=self.env,
                                                       description=description, payload={"release": release_id},
                                                       log_url=self.log_url)

    def end(self, state: DeploymentState, description: str) -> None:
        """Set the final state; a failure to do so is a warning (the deploy's outcome stands)."""
        if self.deployment is not None:
            self._status(state, description)

    def _status(self, state: DeploymentState, description: str) -> None:
        assert self.deployment is not None
        try:
            self.forge.set_deployment_status(self.repo, self.deployment, state, description, log_url=self.log_url,
                                             environment_url=self.environment_url if state == "success" else None)
        except LlmGitopsError as exc:
            self.warn(f"warning: deployment {self.deployment.id} of {self.env} on the forge was not set to {state}: "
                      f"{redact(str(exc))}")

    def finish(self, action: str, message: str) -> None:
        """End the deployment as the deploy's ``action`` says (see :func:`final_state`).

        A deploy with nothing to do made none; a deployment of this commit that a deploy
        killed after its switch left ``in_progress`` succeeds then, as that deploy did.
        """
        if action == "none":
            self.complete_pending(message)
        elif (state := final_state(action)) is not None:
            self.end(state, message)

    def complete_pending(self, description: str) -> None:
        """The newest deployment, left ``in_progress`` for this commit (``--promote``, a killed deploy), succeeds."""
        try:
            pending = next((d for d in self.forge.list_deployments(self.repo, self.env, limit=1)
                            if d.sha == self.sha and d.state == "in_progress"), None)
        except LlmGitopsError as exc:
            self.warn(f"warning: the deployments of {self.env} could not be read from the forge: {redact(str(exc))}")
            return
        if pending is not None:
            self.deployment = pending
            self.end("success", description)

    def record_rollback(self, release_id: str, moved_from: str | None) -> None:
        """A deployment of the release traffic went back to, at once ``success``; failures are warnings."""
        try:
            self._create(release_id, f"llm-gitops rollback of {self.env} to {release_id}")
        except LlmGitopsError as exc:
            self.warn(f"warning: the rollback of {self.env} was not recorded as a forge deployment: {redact(str(exc))}")
            return
        self.end("success", f"rolled back to {release_id}" + (f" from {moved_from}" if moved_from else ""))


def final_state(action: str) -> DeploymentState | None:
    """The deployment's last state for a deploy's ``action`` (bluegreen.DeployRecord); None: leave it.

    ``awaiting-promotion`` (auto_promote: false) stays ``in_progress`` until ``deploy --promote``.
    """
    return {"deployed": "success", "failed": "failure", "aborted": "failure"}.get(action)


def commit_naming(root: Path, env: str, release_id: str) -> str | None:
    """The newest commit whose ``deploy/<env>.yaml`` names ``release_id`` (what a rollback goes back to)."""
    rel = f"{DEPLOY_DIR}/{env}.yaml"

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)

    for sha in git("log", f"-{_HISTORY_LIMIT}", "--format=%H", "--", rel).stdout.split():
        if release_id in git("show", f"{sha}:{rel}").stdout:
            return sha
    return None
