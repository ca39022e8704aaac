"""The forge deployment a deploy or rollback records: which forge, which commit and branch,
which CI run (the command layer reads the checkout and the CI's environment)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from llm_gitops.ci_context import CiContext


def open_recorder(forge_choice: str, root: Path, env: str, say: Callable[[str], None], *, ctx: CiContext,
                  release_id: str | None = None, environment_url: str | None = None):
    """A DeploymentRecorder, or None when nothing is to be recorded (``--forge none``) or can be.

    The deployment is of the commit that last set ``deploy/ENV.yaml`` or, for a rollback
    (``release_id``), of the newest commit whose ``deploy/ENV.yaml`` named the release gone
    back to. No forge, token or commit is a warning: the deploy goes on, unrecorded, as
    the verified status does (commands/deploy.py). ``ctx``: the CI context the command
    detected (a malformed one was exit 2 then, before anything was deployed).
    """
    from llm_gitops.commands.forge_access import open_forge
    from llm_gitops.deploy.forge_record import DeploymentRecorder, commit_naming
    from llm_gitops.deploy.promotion import last_change
    from llm_gitops.errors import LlmGitopsError
    from llm_gitops.logsafe import redact

    if forge_choice == "none":
        return None
    try:
        access = open_forge(forge_choice, root, ctx)
        if access is None:
            return None
        forge, repo = access
        sha = (release_id and commit_naming(root, env, release_id)) or last_change(root, env)
    except LlmGitopsError as exc:
        say(f"warning: {env}: no forge deployment will be recorded: {redact(str(exc))}")
        return None
    # The branch the CI job runs for (GitLab's deployments name one; the checkout is detached there).
    ref = ctx.ref_name or _checked_out_branch(root, sha)
    return DeploymentRecorder(forge, repo, env, sha, ref, warn=say, log_url=ctx.run_url,
                              environment_url=environment_url)


def _checked_out_branch(root: Path, sha: str) -> str:
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                          text=True, timeout=30)
    branch = proc.stdout.strip()
    return branch if proc.returncode == 0 and branch and branch != "HEAD" else sha
