"""Step outputs for the CI glue: ``$GITHUB_OUTPUT`` keys and ``--output-env`` dotenv lines.

GitHub Actions reads ``key=value`` lines from the file ``$GITHUB_OUTPUT`` names; GitLab
(``artifacts: reports: dotenv``) and Jenkins read ``LLM_GITOPS_<KEY>=value`` lines from
the file given with ``--output-env``. The same values go to both, so the three CI
systems see the same outputs.
"""

from __future__ import annotations

import os
from pathlib import Path


def _append(path: str | Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("".join(f"{line}\n" for line in lines))


def write_step_outputs(github: dict[str, str], dotenv: dict[str, str], output_env: Path | None) -> None:
    """Append ``github`` to ``$GITHUB_OUTPUT`` when set and ``dotenv`` to ``output_env`` when given."""
    github_output = os.environ.get("GITHUB_OUTPUT")
    if github_output:
        _append(github_output, [f"{key}={value}" for key, value in github.items()])
    if output_env is not None:
        _append(output_env, [f"{key}={value}" for key, value in dotenv.items()])


def append_step_summary(markdown: str) -> None:
    """Append ``markdown`` to the job summary when ``$GITHUB_STEP_SUMMARY`` is set."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        _append(summary, [markdown])
