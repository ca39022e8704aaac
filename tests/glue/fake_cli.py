"""A recording stand-in for the ``llm-gitops`` command, for checking what the glue passes on.

It keeps the CLI's contract for the glue (argv, exit codes, report files, GITHUB_OUTPUT
and --output-env lines) and appends one JSON line per call - argv, cwd and the
environment variables the real CLI reads - to $FAKE_LLM_GITOPS_LOG. The verdict comes
from $FAKE_LLM_GITOPS_VERDICT (default pass; fail exits 1). End-to-end tests use the
real CLI; this one only proves that arguments and credentials arrive intact.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

WATCHED_ENV = (
    "GITHUB_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN", "GITHUB_API_URL", "CI_API_V4_URL",
    "GITHUB_EVENT_PATH", "GITHUB_EVENT_NAME", "GITHUB_REPOSITORY", "GITHUB_SHA", "GITHUB_ACTIONS",
    "GITLAB_CI", "CI_PROJECT_ID", "CI_PROJECT_PATH", "CI_MERGE_REQUEST_IID", "CI_COMMIT_SHA",
    "JENKINS_URL", "CHANGE_ID", "GIT_COMMIT",
)


def _option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None


def _append(path: str | None, lines: list[str]) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in lines))


def main(argv: list[str]) -> int:
    with open(os.environ["FAKE_LLM_GITOPS_LOG"], "a", encoding="utf-8") as fh:
        record = {"argv": argv, "cwd": os.getcwd(), "env": {k: os.environ.get(k) for k in WATCHED_ENV}}
        fh.write(json.dumps(record) + "\n")
    if argv[:1] == ["--version"]:
        print("llm-gitops, version 0.0.0+fake")
        return 0
    if argv[:1] == ["gate"]:
        verdict = os.environ.get("FAKE_LLM_GITOPS_VERDICT", "pass")
        out_dir = Path(_option(argv, "--output-dir") or ".llm-gitops/reports")
        out_dir.mkdir(parents=True, exist_ok=True)
        report = out_dir / "report.md"
        report.write_text(f"## llm-gitops gate: {verdict}\n", encoding="utf-8")
        (out_dir / "report.json").write_text(json.dumps({"verdict": verdict}), encoding="utf-8")
        _append(os.environ.get("GITHUB_STEP_SUMMARY"), [report.read_text(encoding="utf-8")])
        _append(os.environ.get("GITHUB_OUTPUT"), [f"verdict={verdict}", f"report-path={report}"])
        _append(_option(argv, "--output-env"), [f"LLM_GITOPS_VERDICT={verdict}", f"LLM_GITOPS_REPORT={report}"])
        print(f"llm-gitops gate: {verdict}")
        return 1 if verdict == "fail" else 0
    if argv[:1] == ["build"]:
        image = f"{_option(argv, '--repository') or 'example/model'}:{_option(argv, '--tag')}"
        digest = "sha256:" + "ab" * 32
        print(digest)
        _append(os.environ.get("GITHUB_OUTPUT"), [f"image={image}", f"digest={digest}"])
        _append(_option(argv, "--output-env"), [f"LLM_GITOPS_IMAGE={image}", f"LLM_GITOPS_IMAGE_DIGEST={digest}"])
        return 0
    print(f"fake llm-gitops: unexpected command {argv!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
