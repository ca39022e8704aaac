"""The gate's helper process: calls run there, errors come back, and it never blocks a run."""

from __future__ import annotations

import functools
import os
import time

import pytest

from llm_gitops.errors import ExternalServiceError
from llm_gitops.sidecar import Sidecar, SidecarDied


def pid() -> int:
    return os.getpid()


def fail(message: str) -> None:
    raise ExternalServiceError(message, hint="the fix")


def write_marker(path: str) -> None:
    with open(path, "w") as fh:
        fh.write(str(os.getpid()))


def broken_warmup() -> None:
    raise RuntimeError("a warm-up that fails")


def die() -> None:
    os._exit(7)


def sleep_forever() -> None:
    time.sleep(3600)


def unpicklable():
    return lambda: None


def test_calls_run_in_the_helper_after_its_warmups(tmp_path):
    marker = tmp_path / "warm"
    with Sidecar([broken_warmup, functools.partial(write_marker, str(marker))]) as sidecar:
        sidecar.start()
        sidecar.start()  # idempotent: still one helper
        helper = sidecar.call(pid)
        assert helper != os.getpid()
        # The call was answered after the warm-ups ran (a failing one did not stop them).
        assert marker.read_text() == str(helper)
        assert sidecar.call(pid) == helper
        process = sidecar._process
    assert sidecar.started is False
    assert process.exitcode == 0


def test_a_call_before_start_runs_in_this_process():
    with Sidecar([broken_warmup]) as sidecar:
        assert sidecar.call(pid) == os.getpid()
        assert sidecar.started is False


def test_an_error_in_the_helper_is_raised_here_with_its_type_and_hint():
    with Sidecar([broken_warmup]) as sidecar:
        sidecar.start()
        with pytest.raises(ExternalServiceError) as info:
            sidecar.call(fail, "MLflow at sqlite:///x: logging failed")
        assert info.value.hint == "the fix"
        assert "logging failed" in str(info.value)
        assert sidecar.call(pid) != os.getpid()  # the helper survives its call's error


def test_an_unpicklable_result_is_an_error_not_a_hang():
    with Sidecar([broken_warmup]) as sidecar:
        sidecar.start()
        with pytest.raises(RuntimeError, match="could not be sent back"):
            sidecar.call(unpicklable)


def test_a_helper_that_dies_in_a_call_is_an_error_and_the_call_is_not_rerun_here():
    with Sidecar([broken_warmup]) as sidecar:
        sidecar.start()
        helper = sidecar._process
        # die() rerun here would end the test process: the error proves it was not.
        with pytest.raises(SidecarDied, match=r"exit code 7\) while running die"):
            sidecar.call(die)
        assert helper.exitcode == 7
        assert sidecar.started is False
        assert sidecar.call(pid) == os.getpid()  # later calls run here


def test_a_helper_gone_before_the_call_is_replaced_by_this_process():
    with Sidecar([broken_warmup]) as sidecar:
        sidecar.start()
        sidecar._process.terminate()
        sidecar._process.join()
        assert sidecar.call(pid) == os.getpid()


def test_an_error_exit_terminates_a_busy_helper_at_once():
    started = time.perf_counter()
    with pytest.raises(KeyError):
        with Sidecar([sleep_forever]) as sidecar:
            sidecar.start()
            process = sidecar._process
            raise KeyError("the run failed")
    assert time.perf_counter() - started < 10
    assert not process.is_alive()


def test_close_stops_a_helper_still_warming_up():
    with Sidecar([sleep_forever]) as sidecar:
        sidecar.start()
        process = sidecar._process
    assert not process.is_alive()
    assert process.exitcode != 0  # terminated, not finished


def slow_marker(path: str) -> None:
    time.sleep(0.5)
    write_marker(path)


def test_wait_ready_returns_once_the_warmups_are_done(tmp_path):
    marker = tmp_path / "warm"
    with Sidecar([functools.partial(slow_marker, str(marker))]) as sidecar:
        sidecar.wait_ready()  # not started: returns at once
        assert not marker.exists()
        sidecar.start()
        sidecar.wait_ready()
        assert marker.exists()
        sidecar.wait_ready()  # already ready: does not block
        assert sidecar.call(pid) == int(marker.read_text())
