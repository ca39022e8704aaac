"""The bad-input corpus, counted: cases per surface and how each ended.

Runs the corpus tests (``tests/corpus``, and the deploy refusals that use the same
harness) with ``LLM_GITOPS_CORPUS_TALLY`` set, so that every case appends its surface and
outcome, then prints per surface: cases tried, clean errors, and the three outcomes that
must stay at zero - tracebacks, partial writes (the tree changed) and hangs - plus wrong
exit codes and unclear messages. The test run's own pass/fail is printed last.

    .venv/bin/python benchmarks/bad_input_corpus.py [-- extra pytest args]
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTCOMES = ("clean", "traceback", "partial-write", "hang", "wrong-exit", "unclear-error")


def main() -> int:
    extra = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
    with tempfile.TemporaryDirectory(prefix="llm-gitops-corpus-") as tmp:
        tally = Path(tmp) / "tally.jsonl"
        env = {**os.environ, "LLM_GITOPS_CORPUS_TALLY": str(tally)}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/corpus",
                               "tests/deploy/test_promotion.py", *extra], cwd=REPO_ROOT, env=env,
                              capture_output=True, text=True)
        rows = [json.loads(line) for line in tally.read_text().splitlines()] if tally.is_file() else []
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row in rows:
        counts[row["surface"]][row["outcome"]] += 1
    print(f"{'surface':<10} {'cases':>6} " + " ".join(f"{o:>13}" for o in OUTCOMES))
    total: collections.Counter = collections.Counter()
    for surface in sorted(counts):
        c = counts[surface]
        total.update(c)
        print(f"{surface:<10} {sum(c.values()):>6} " + " ".join(f"{c[o]:>13}" for o in OUTCOMES))
    print(f"{'all':<10} {sum(total.values()):>6} " + " ".join(f"{total[o]:>13}" for o in OUTCOMES))
    print(f"goal: 0 tracebacks, 0 partial writes, 0 hangs; pytest: {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.returncode}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
