"""Comment churn: 10 ``llm-gitops gate --report-to github`` runs on one PR, a new head sha each time.

Each run is the real CLI in a fresh process (as a CI step would be), with GitHub Actions'
environment pointing at the GitHub stand-in on loopback, on the example repo's config and
its trained models. One untimed gate run first fills the eval/bench cache, so the timed
runs measure a gate whose results are cached: config, model digests, decision, report,
forge. Prints the number of comments on the PR (must be 1), statuses set (10), API
requests per run (from the stand-in's log; aim <= 6) and the time from process start to
the comment being posted (aim < 1.5 s; the CLI reports that moment on stderr).

    .venv/bin/python -m benchmarks.comment_churn [--runs 10] [--publish-only]

``--publish-only`` measures the forge layer alone (a process that only imports the
publisher and posts), to separate its cost from the gate's.
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
from tests.support.example_models import ensure_example_models, ensure_seed_model  # noqa: E402

TOKEN = "ghs_BenchmarkToken0123456789abcdefABCD"
REPO = "acme/adder-model"
# What a CI step runs: import the publisher, post, exit. The child reports the moment the
# comment was posted (time.time(), comparable across processes on one machine).
CHILD = (
    "import sys, time\n"
    "from llm_gitops import ci_context\n"
    "from llm_gitops.forges.publish import publish_gate_report\n"
    "ctx = ci_context.detect()\n"
    "r = publish_gate_report(markdown=open(sys.argv[1]).read(), verdict=sys.argv[2], summary='gate ' + sys.argv[2],\n"
    "                        ctx=ctx, token=ci_context.forge_token(None, ctx.forge or 'github'))\n"
    "print(repr(time.time()), r.posted, r.reason)\n"
)


def report(run: int, verdict: str) -> str:
    rows = "\n".join(f"| add_em/exact_match | {0.80 + run / 1000:.3f} | 0.800 | {verdict} |" for _ in range(1))
    return f"## llm-gitops gate: **{verdict}**\n\n| metric | candidate | baseline | check |\n|---|---|---|---|\n{rows}\n"


def gate_env(work: Path) -> dict[str, str]:
    return {"LLM_GITOPS_STATE_DIR": str(work / "state"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "MLFLOW_DISABLE_TELEMETRY": "true", "TOKENIZERS_PARALLELISM": "false",
            "HF_HOME": str(work / "hf-home")}


def prepare_gate(work: Path) -> list[str]:
    """Copy the example repo, fill the cache with one untimed gate run; return the command."""
    import shutil

    models = ensure_example_models()
    candidate = ensure_seed_model(1)
    repo = work / "repo"
    shutil.copytree(models.repo, repo, ignore=shutil.ignore_patterns(".llm-gitops", "model", "__pycache__"))
    cmd = [str(Path(sys.executable).with_name("llm-gitops")), "gate", "--config", str(repo / ".llm-gitops.yaml"),
           "--candidate", str(candidate), "--baseline", str(models.good), "--output-dir", str(work / "reports")]
    print("filling the eval/bench cache with one untimed gate run ...", file=sys.stderr)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB_", "CI_"))}
    warm = subprocess.run([*cmd, "--report-to", "none"], env={**env, **gate_env(work)}, capture_output=True,
                          text=True, timeout=1800)
    if warm.returncode not in (0, 1):
        raise SystemExit(f"the warm-up gate run failed (exit {warm.returncode}):\n{warm.stderr[-3000:]}")
    return [*cmd, "--report-to", "github"]


def time_gate_until_posted(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from starting the gate process to its 'report posted' line."""
    start = time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    posted_at = None
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if posted_at is None and line.startswith("gate: report posted"):
            posted_at = time.time()
    code = proc.wait(timeout=600)
    if posted_at is None or code not in (0, 1):
        raise SystemExit(f"the gate did not post (exit {code}):\n{''.join(lines)[-3000:]}")
    return posted_at - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--publish-only", action="store_true", help="time the forge layer alone, not the gate")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="llm-gitops-churn-"))
    gate_cmd = None if args.publish_only else prepare_gate(work)

    standin = ForgeStandin.start(kind="github", token=TOKEN)
    try:
        standin.add_repo(REPO, files={"README.md": "adder\n"})
        number = standin.add_pull(REPO, head="feature")
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
            if gate_cmd is None:
                start = time.time()
                done = subprocess.run([sys.executable, "-c", CHILD, str(body), verdict], env=env, capture_output=True,
                                      text=True, timeout=60)
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return 1
                posted_at, posted, *_ = done.stdout.split()
                assert posted == "True", done.stdout
                latencies.append(float(posted_at) - start)
            else:
                latencies.append(time_gate_until_posted(gate_cmd, {**env, **gate_env(work)}))
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
