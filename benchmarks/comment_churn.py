"""Comment churn: 10 gate-report publishes on one PR, a new head sha each time.

Each publish runs in a fresh process (as a CI step would), with GitHub Actions'
environment pointing at the GitHub stand-in on loopback. Prints the number of comments
on the PR (must be 1), statuses set (10), API requests per publish (from the stand-in's
log; aim <= 6) and the time from process start to the comment being posted (aim < 1.5 s).

    .venv/bin/python -m benchmarks.comment_churn [--runs 10]

The gate command is not used here: it would re-run (cached) evals, and what is measured
is the forge work and the start-up cost of a process that posts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.standins.forge import ForgeStandin  # noqa: E402

TOKEN = "ghs_BenchmarkToken0123456789abcdefABCD"
REPO = "acme/adder-model"
# What a CI step runs: import the publisher, post, exit. The child reports the moment the
# comment was posted (time.time(), comparable across processes on one machine).
CHILD = (
    "import sys, time\n"
    "from llm_gitops.forges.publish import publish_gate_report\n"
    "r = publish_gate_report(markdown=open(sys.argv[1]).read(), verdict=sys.argv[2], summary='gate ' + sys.argv[2])\n"
    "print(repr(time.time()), r.posted, r.reason)\n"
)


def report(run: int, verdict: str) -> str:
    rows = "\n".join(f"| add_em/exact_match | {0.80 + run / 1000:.3f} | 0.800 | {verdict} |" for _ in range(1))
    return f"## llm-gitops gate: **{verdict}**\n\n| metric | candidate | baseline | check |\n|---|---|---|---|\n{rows}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args(argv)

    standin = ForgeStandin.start(kind="github", token=TOKEN)
    try:
        standin.add_repo(REPO, files={"README.md": "adder\n"})
        number = standin.add_pull(REPO, head="feature")
        work = Path(tempfile.mkdtemp(prefix="llm-gitops-churn-"))
        per_run_requests, latencies = [], []
        for run in range(args.runs):
            sha = standin.push(REPO, "feature", {"model.txt": f"weights {run}"})
            event = work / "event.json"
            event.write_text(json.dumps({"action": "synchronize", "number": number, "pull_request": {
                "number": number, "head": {"sha": sha, "ref": "feature", "repo": {"full_name": REPO, "fork": False}},
                "base": {"ref": "main", "repo": {"full_name": REPO}}}}))
            body = work / "report.md"
            verdict = "pass" if run % 3 else "fail"
            body.write_text(report(run, verdict))
            env = {**{k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_"))},
                   "GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": REPO, "GITHUB_EVENT_NAME": "pull_request",
                   "GITHUB_EVENT_PATH": str(event), "GITHUB_API_URL": standin.url, "GITHUB_SERVER_URL": standin.url,
                   "GITHUB_RUN_ID": str(1000 + run), "GITHUB_TOKEN": TOKEN,
                   "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
            standin.clear_requests()
            start = time.time()
            done = subprocess.run([sys.executable, "-c", CHILD, str(body), verdict], env=env, capture_output=True,
                                  text=True, timeout=60)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                return 1
            posted_at, posted, *_ = done.stdout.split()
            assert posted == "True", done.stdout
            latencies.append(float(posted_at) - start)
            per_run_requests.append(len(standin.requests_snapshot()))
        comments = standin.comments(REPO, number)
        statuses = standin.statuses(REPO)
        check_runs = standin.check_runs(REPO)
        print(f"publishes:            {args.runs}")
        print(f"comments on the PR:   {len(comments)} (must be 1)")
        print(f"statuses set:         {len(statuses)} (+ {len(check_runs)} check runs)")
        print(f"API requests per run: {statistics.mean(per_run_requests):.1f} (min {min(per_run_requests)}, "
              f"max {max(per_run_requests)}; aim <= 6)")
        print(f"start -> posted:      median {statistics.median(latencies):.2f} s, max {max(latencies):.2f} s (aim < 1.5 s)")
        ok = len(comments) == 1 and len(statuses) == args.runs
        return 0 if ok else 1
    finally:
        standin.stop()


if __name__ == "__main__":
    sys.exit(main())
