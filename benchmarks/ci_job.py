"""ci_job: the example repository's pull request job under act, cold and warm.

The example repo (examples/repo-template/) is copied to a fresh git repository whose
trained model lives in a DVC remote, and its own workflow's gate job runs under act (host
mode) twice against a GitHub stand-in on loopback:

- cold: empty caches - the action makes a venv and installs llm-gitops from its checkout
  with the one install script, `dvc pull`s the model from the remote, evaluates and
  benchmarks it;
- warm: nothing changed, caches restored - the venv (its install key matches), DVC's
  cache and llm-gitops' result cache come back, so nothing is installed, pulled or
  evaluated again.

actions/cache is replaced by a local stand-in (tests/glue/stubs/cache) that keeps entries
as tar files, so "bytes downloaded" counts what a restore transfers, plus what `dvc pull`
fetched from the remote. Third-party Python packages are not downloaded here (no index is
reachable: the venv sees the test environment's packages and pip runs with --no-index),
so the cold figure leaves out torch and friends that a hosted runner's cold job downloads
(use PyTorch's CPU index there); it is a lower bound of a real cold job.

    .venv/bin/python benchmarks/ci_job.py          # prints the figures; asserts nothing
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.glue.support import REPO_ROOT, STUBS, clean_env, run  # noqa: E402
from tests.glue.test_example_pipelines import TOKEN, example_job_command  # noqa: E402
from tests.glue.real_cli import seeding_python  # noqa: E402

CACHE_ACTION = "actions/cache@"


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def glue_snapshot(root: Path) -> Path:
    """This checkout's actions, package and install script, copied once: the cold and the
    warm run install the same package even while the working tree changes."""
    snap = root / "llm-gitops"
    for name in ("actions", "jenkins/resources", "src/llm_gitops"):
        shutil.copytree(REPO_ROOT / name, snap / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO_ROOT / name, snap / name)
    return snap


def run_job(root: Path, repo: Path, glue: Path, forge, number: int, sha: str, store: Path) -> dict:
    cmd = example_job_command(root, repo, forge.url, number, sha, glue)
    # The real cache behaviour instead of the no-op stub.
    cmd = [f"{part.split('=')[0]}={STUBS / 'cache'}" if part.startswith(CACHE_ACTION) else part for part in cmd]
    cmd += ["--env", f"GLUE_CACHE_STORE={store}"]
    home = root / "home"
    shutil.rmtree(home / ".cache" / "act", ignore_errors=True)  # a fresh runner workspace each time
    log_before = (store / "log.jsonl").read_text().splitlines() if (store / "log.jsonl").exists() else []
    start = time.monotonic()
    proc = run(cmd, env=clean_env(home, seeding_python(root)), cwd=repo, check=False, timeout=1200)
    wall = time.monotonic() - start
    log = proc.stdout + proc.stderr
    events = [json.loads(line) for line in (store / "log.jsonl").read_text().splitlines()[len(log_before):]] \
        if (store / "log.jsonl").exists() else []
    restored = sum(e["bytes"] for e in events if e["op"] == "restore")
    # dvc pull's summary says how many files came from the remote ("... 2 files fetched");
    # with DVC's cache restored it only checks them out.
    fetched = re.search(r"(\d+) files? fetched", log)
    dvc_fetched = tree_bytes(root / "dvc-remote") if fetched and int(fetched.group(1)) > 0 else 0
    return {"rc": proc.returncode, "wall_s": wall, "restored_bytes": restored, "dvc_bytes": dvc_fetched,
            "installed": "already installed in" not in log, "evaluated": "eval: running" in log,
            "hits": [(e["key"].split("-")[2] if e["key"].count("-") > 2 else e["key"], e["exact"])
                     for e in events if e["op"] == "restore"], "log": log}


def main() -> int:
    from tests.glue.example_repo import dvc_example_repo
    from tests.standins.forge import ForgeStandin

    root = Path(tempfile.mkdtemp(prefix="llm-gitops-ci-job-"))
    forge = ForgeStandin.start(kind="github", token=TOKEN)
    try:
        repo = dvc_example_repo(root)
        glue = glue_snapshot(root)
        forge.add_repo("acme/adder")
        number = forge.add_pull("acme/adder", head="retrain", title="Retrain the adder")
        sha = forge.pull("acme/adder", number)["head_sha"]
        store = root / "cache-store"
        results = {}
        for name in ("cold", "warm"):
            results[name] = run_job(root, repo, glue, forge, number, sha, store)
            r = results[name]
            if "llm-gitops" not in r["log"] or "Pull the models with DVC" not in r["log"]:
                print(r["log"][-4000:], file=sys.stderr)
                return 1
        print("ci_job: the example repo's PR gate job under act (host mode), GitHub stand-in on loopback")
        print(f"{'run':<6} {'wall s':>8} {'downloaded MB':>14} {'(cache restore':>15} {'+ dvc pull)':>12}  installed  evaluated  job exit")
        for name, r in results.items():
            total = r["restored_bytes"] + r["dvc_bytes"]
            print(f"{name:<6} {r['wall_s']:>8.1f} {total / 1e6:>14.1f} {r['restored_bytes'] / 1e6:>15.1f} "
                  f"{r['dvc_bytes'] / 1e6:>12.1f}  {str(r['installed']):>9}  {str(r['evaluated']):>9}  {r['rc']:>8}")
        ratio = results["warm"]["wall_s"] / results["cold"]["wall_s"]
        print(f"warm / cold wall time: {ratio:.2f} (goal <= 0.20)")
        print("not counted: third-party wheels (torch, transformers, lm-eval, ...): none can be downloaded here, so the "
              "cold install used preinstalled ones; a hosted runner's cold job downloads them (the warm one restores the venv)")
        return 0
    finally:
        forge.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
