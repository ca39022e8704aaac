"""Running the app under uvicorn, with a graceful, load-balancer-friendly shutdown.

On SIGTERM the server first *drains*: /readyz answers 503 for ``drain_seconds`` while
every request is still served, so a load balancer probing readiness stops sending new
traffic; then uvicorn stops accepting connections, lets in-flight requests finish (up to
``graceful_timeout`` seconds) and exits 0. A second SIGTERM, or SIGINT, skips the drain.

The app is built by a factory (``app_from_env``) that reads its options from the
environment, because with ``workers > 1`` uvicorn starts fresh worker processes that
import the app by name.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from llm_gitops.errors import ModelSourceError

log = logging.getLogger(__name__)

_OPTIONS_ENV = "LLM_GITOPS_SERVE_OPTIONS"
_FACTORY = "llm_gitops.serve.server:app_from_env"


@dataclass(frozen=True)
class ServeOptions:
    model_dir: str
    digest: str | None = None
    color: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    max_prompt_chars: int = 8192
    max_tokens: int = 256
    max_queue: int = 16
    request_timeout: float = 60.0
    threads: int | None = None  # torch's intra-op threads; None: torch's default (every core it sees)
    drain_seconds: float = 5.0
    # A single process stops when its model fails to load (the caller reports why);
    # a worker keeps answering /healthz 500 so its supervisor does not restart it in a loop.
    exit_on_load_error: bool = True


# Why the model failed to load in this process, for ``serve`` to report after shutdown.
_load_failures: list[str] = []


def app_from_env():
    """uvicorn factory: the app for the options ``serve`` put in the environment."""
    from llm_gitops.serve.app import create_app
    from llm_gitops.serve.protocol import Limits

    opts = ServeOptions(**json.loads(os.environ[_OPTIONS_ENV]))
    if opts.threads:
        import torch

        torch.set_num_threads(opts.threads)

    def on_load_error(exc: BaseException) -> None:
        _load_failures.append(f"{type(exc).__name__}: {exc}")
        if opts.exit_on_load_error:
            # Nothing was ever served, so the SIGTERM handler skips the drain (status "failed").
            os.kill(os.getpid(), signal.SIGTERM)

    app = create_app(
        Path(opts.model_dir), color=opts.color, model_name=opts.model_name, model_version=opts.model_version,
        digest=opts.digest, limits=Limits(max_prompt_chars=opts.max_prompt_chars, max_tokens=opts.max_tokens),
        max_queue=opts.max_queue, request_timeout=opts.request_timeout, on_load_error=on_load_error,
    )
    install_drain_handler(app.state.serve, opts.drain_seconds)
    return app


def install_drain_handler(state, drain_seconds: float) -> None:
    """Put draining in front of the SIGTERM handler uvicorn installed.

    uvicorn installs its handlers before it loads the app, so the handler found here is
    uvicorn's; it runs ``drain_seconds`` after the first SIGTERM (at once on a second).
    """
    if threading.current_thread() is not threading.main_thread():
        return  # signals can only be handled in the main thread (e.g. under a test client)
    uvicorn_handler = signal.getsignal(signal.SIGTERM)
    if not callable(uvicorn_handler):
        return

    def on_sigterm(signum, frame):
        if state.draining or state.status == "failed" or drain_seconds <= 0:
            state.begin_drain()
            uvicorn_handler(signum, frame)
            return
        state.begin_drain()
        log.warning("SIGTERM: draining for %.1fs (/readyz answers 503), then finishing in-flight requests",
                    drain_seconds)
        timer = threading.Timer(drain_seconds, uvicorn_handler, args=(signum, None))
        timer.daemon = True
        timer.start()

    signal.signal(signal.SIGTERM, on_sigterm)


def serve(
    options: ServeOptions,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    graceful_timeout: float = 30.0,
    log_level: str = "info",
) -> None:
    """Serve until SIGTERM/SIGINT. Raises ``ModelSourceError`` if the model failed to load."""
    import uvicorn

    if workers > 1:
        options = ServeOptions(**{**asdict(options), "exit_on_load_error": False})
    os.environ[_OPTIONS_ENV] = json.dumps(asdict(options))
    config = uvicorn.Config(
        _FACTORY, factory=True, host=host, port=port, workers=workers, log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout, proxy_headers=False, server_header=False,
    )
    # uvicorn re-raises the signal it shut down on once it has restored the handler it
    # found; finding "ignore" turns a completed graceful shutdown into a plain exit 0.
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        if workers > 1:
            from uvicorn.supervisors import Multiprocess

            sock = config.bind_socket()
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    if _load_failures:
        raise ModelSourceError(f"{options.model_dir}: the model failed to load: {_load_failures[0]}",
                               hint="check that the directory loads with 'llm-gitops eval' or re-create it")
