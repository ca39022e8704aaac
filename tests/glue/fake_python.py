"""A recording stand-in for the Python interpreter that the install step drives.

The install script (jenkins/resources/org/llmgitops/install.sh, which the actions run too)
only runs `python -m venv`, `python -m pip install ...` and three `python -c` probes; this
records the pip calls to $FAKE_PYTHON_LOG instead of downloading torch, so the tests can
check which pins the glue asks for. Invoked as `fake_python.py SELF ARGS...` by a wrapper.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def main(self_path: str, argv: list[str]) -> int:
    bin_dir = Path(self_path).resolve().parent
    with open(os.environ["FAKE_PYTHON_LOG"], "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"python": self_path, "argv": argv}) + "\n")
    if argv[:2] == ["-m", "venv"]:
        venv_bin = Path(argv[2]) / "bin"
        venv_bin.mkdir(parents=True, exist_ok=True)
        wrapper = venv_bin / "python"
        wrapper.write_text(Path(self_path).read_text())
        wrapper.chmod(0o755)
        return 0
    if argv[:3] == ["-m", "pip", "install"]:
        return 0
    if argv[:4] == ["-m", "pip", "cache", "dir"]:
        print(bin_dir.parent / "pip-cache")
        return 0
    if argv[:1] == ["-c"] and "sysconfig" in argv[1]:
        print(bin_dir)
        return 0
    if argv[:1] == ["-c"] and "version_info" in argv[1]:
        print("3.12")
        return 0
    if argv[:1] == ["-c"] and "llm_gitops" in argv[1]:
        print("0.0.0+fake")
        return 0
    print(f"fake python: unexpected {argv!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
