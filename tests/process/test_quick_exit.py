"""``llm-gitops`` ends without interpreter teardown, but nothing a normal exit does is lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from llm_gitops import __version__


def python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_leave_joins_threads_runs_atexit_and_flushes_before_exiting_with_the_code():
    proc = python("""
        import atexit, sys, threading, time
        from llm_gitops.cli import leave
        atexit.register(lambda: print("atexit ran", flush=False))
        worker = threading.Thread(target=lambda: (time.sleep(0.3), print("thread done")))
        worker.start()
        sys.stdout.write("buffered, no newline")
        sys.stderr.write("to stderr")
        leave(4)
        print("not reached")
    """)
    assert proc.returncode == 4
    assert proc.stdout.startswith("buffered, no newline")
    assert proc.stdout.index("thread done") < proc.stdout.index("atexit ran")
    assert "not reached" not in proc.stdout
    assert proc.stderr == "to stderr"


def test_leave_with_a_message_prints_it_and_exits_1_like_sys_exit():
    proc = python("from llm_gitops.cli import leave\nleave('something went wrong')")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "something went wrong"
    assert python("from llm_gitops.cli import leave\nleave(None)").returncode == 0


def test_the_executable_keeps_its_output_and_exit_codes(tmp_path):
    version = subprocess.run([sys.executable, "-m", "llm_gitops", "--version"], capture_output=True, text=True,
                             timeout=60)
    assert version.returncode == 0
    assert version.stdout.strip() == f"llm-gitops, version {__version__}"
    missing = tmp_path / "absent.yaml"
    bad = subprocess.run([sys.executable, "-m", "llm_gitops", "validate-config", "--config", str(missing)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert str(missing) in bad.stderr


def test_the_console_script_is_the_quick_exit_entry_point():
    from importlib.metadata import entry_points

    (script,) = [ep for ep in entry_points(group="console_scripts") if ep.name == "llm-gitops"]
    assert script.value == "llm_gitops.cli:run"
