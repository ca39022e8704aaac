"""A helper process that gets a run's slow imports done while the run measures.

A cold gate spends seconds evaluating a model in one busy Python thread, and then
needs MLflow (about a second to import and open a store) and matplotlib to finish.
Imported in the main process, those come after the evaluation and add to the wall
time; imported in a thread, they compete for the same interpreter lock. A second
process uses the otherwise idle core: it is spawned when the measuring starts, runs
its warm-ups (imports, opening the tracking store), then executes the calls the
main process sends it and returns their results or exceptions.

Nothing depends on the helper being there: if it cannot be started, or dies, each
call runs in the calling process instead. It is a child of this process, stopped by
its pid through :meth:`Sidecar.close` (also on errors, via ``with``).
"""

from __future__ import annotations

import multiprocessing
import os
from typing import Any, Callable, Sequence

from llm_gitops.errors import EXIT_INTERNAL, LlmGitopsError
from llm_gitops.quick_exit import quick_exit

_STOP = None
_READY = ("ready", None)
# An idle helper exits at once when told to; one still warming up is not needed any more.
_STOP_WAIT_S = 1.0


def _serve(conn, warmups: Sequence[Callable[[], Any]]) -> None:
    """The helper's main loop: warm up, then answer ``(fn, args, kwargs)`` messages until told to stop.

    It leaves by :func:`quick_exit`: the caller waits for it to end, and tearing down
    the MLflow and matplotlib it imported would take most of a second.
    """
    try:
        # Lowest priority: the warm-ups are to use the CPU the measuring leaves idle,
        # not take it from the measuring. (The main process waits while calls run.)
        os.nice(19)
    except (OSError, AttributeError):  # AttributeError: no os.nice on Windows
        pass
    try:
        _answer(conn, warmups)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the main process reports it
        pass
    quick_exit(0)


def _answer(conn, warmups: Sequence[Callable[[], Any]]) -> None:
    """Run the warm-ups, then answer calls until told to stop or the main process is gone."""
    for warmup in warmups:
        try:
            warmup()
        except Exception:  # noqa: BLE001 - the real call will meet (and report) the same problem
            pass
    try:
        conn.send(_READY)
    except OSError:  # the main process is gone
        return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the main process is gone
            return
        if message is _STOP:
            return
        fn, args, kwargs = message
        try:
            reply = ("ok", fn(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - handed back and raised in the caller
            reply = ("error", exc)
        try:
            conn.send(reply)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
            conn.send(("error", RuntimeError(f"{fn.__name__}: its result could not be sent back: {exc}")))


class SidecarDied(LlmGitopsError):
    """The helper process ended while it was running a call (the call may have half-run)."""

    exit_code = EXIT_INTERNAL


class Sidecar:
    """A spawned helper process with ``warmups`` run at start; see the module docstring.

    ``warmups`` are picklable no-argument callables (module-level functions or
    ``functools.partial`` of them). :meth:`start` is idempotent and cheap to call from
    a "measuring starts now" hook; :meth:`call` works whether or not it was started.
    :meth:`wait_ready` keeps the warm-ups from competing with a timing measurement.
    """

    def __init__(self, warmups: Sequence[Callable[[], Any]]) -> None:
        self._warmups = tuple(warmups)
        self._process = None
        self._conn = None
        self._ready = False

    @property
    def started(self) -> bool:
        return self._process is not None

    def start(self) -> None:
        if self._process is not None or not self._warmups:
            return
        ctx = multiprocessing.get_context("spawn")  # never fork a process that may hold torch threads
        try:
            parent, child = ctx.Pipe()
            process = ctx.Process(target=_serve, args=(child, self._warmups), name="llm-gitops-sidecar", daemon=True)
            process.start()
        except (OSError, RuntimeError):
            return  # no helper: calls run here
        child.close()
        self._process, self._conn, self._ready = process, parent, False

    def wait_ready(self) -> None:
        """Return once a started helper has finished its warm-ups (at once if none runs).

        Called before a benchmark: the helper must not take CPU from a timed run.
        """
        if self._process is None or self._ready:
            return
        try:
            message = self._conn.recv()
        except (EOFError, OSError):
            self.abort()  # it died warming up: calls will run here
            return
        self._ready = message == _READY

    def call(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, in the helper when it runs, else here; its exceptions are raised here.

        A helper that is gone before the call is sent is replaced by this process. One
        that dies while running the call raises :class:`SidecarDied`: the call is not
        run a second time, since it may have done part of its work (or killed the helper).
        """
        self.wait_ready()
        if self._process is not None:
            try:
                self._conn.send((fn, args, kwargs))
            except (OSError, ValueError):
                self.abort()
            else:
                try:
                    status, value = self._conn.recv()
                except (EOFError, OSError) as exc:
                    process = self._process
                    self.abort()
                    raise SidecarDied(
                        f"the helper process ended (exit code {process.exitcode}) while running {fn.__name__}: "
                        f"{type(exc).__name__}",
                        hint="run again; if it repeats, please report it with the output above",
                    ) from None
                if status == "error":
                    raise value
                return value
        return fn(*args, **kwargs)

    def close(self) -> None:
        """Stop the helper: told to stop, and terminated by pid if it has not within a second."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return
        try:
            conn.send(_STOP)
        except (OSError, ValueError):
            pass
        conn.close()
        process.join(_STOP_WAIT_S)
        if process.is_alive():
            process.terminate()
            process.join()

    def abort(self) -> None:
        """Stop the helper now, whatever it is doing (the run failed; its warm-ups are not needed)."""
        process = self._process
        if process is not None and process.is_alive():
            process.terminate()
        self.close()

    def __enter__(self) -> "Sidecar":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
