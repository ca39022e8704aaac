"""The HTTP app: OpenAI-compatible completions, health and readiness probes, metrics.

Routes:
  POST /v1/completions  OpenAI text completions (one prompt, n=1, no streaming; echo and
                        logprobs for lm-eval's loglikelihood requests)
  GET  /v1/models       the one model served
  GET  /healthz         liveness: 200 while the process works (500 if the model failed to load)
  GET  /readyz          readiness: 200 once the model is loaded and warmed up by one
                        generation; 503 while loading and while draining for shutdown
  GET  /metrics         Prometheus text format

The model loads in a background thread after startup, so /healthz answers at once and
an orchestrator can tell "still loading" (ready 503) from "dead" (no answer).

Completions go through a bounded queue (``scheduler.py``): 429 with Retry-After when it is
full, 504 after ``request_timeout``, and generation stops when the client disconnects.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from llm_gitops.serve.generation import GenerationCancelled, Generator, ModelInfo, quantization_method
from llm_gitops.serve.metrics import ServeMetrics
from llm_gitops.serve.protocol import ApiError, Limits, parse_request
from llm_gitops.serve.scheduler import ModelQueue, QueueFull, RequestAbandoned

log = logging.getLogger(__name__)

ROUTES = ("/v1/completions", "/v1/models", "/healthz", "/readyz", "/metrics")


@dataclass
class ServeState:
    """What the probes report; shared by the routes and the loader thread."""

    model_dir: Path
    color: str
    version: str
    metrics: ServeMetrics
    status: str = "loading"  # loading | ready | failed
    error: str | None = None
    draining: bool = False
    generator: Generator | None = None
    info: ModelInfo | None = None
    loaded: threading.Event = field(default_factory=threading.Event)

    @property
    def ready(self) -> bool:
        return self.status == "ready" and not self.draining

    def begin_drain(self) -> None:
        """Report not-ready from now on, so load balancers stop sending new requests."""
        self.draining = True
        self.metrics.ready.set(0)


def _load(state: ServeState, *, model_name: str | None, digest: str | None, warmup_prompt: str,
          generator: Generator | None, on_load_error: Callable[[BaseException], None] | None) -> None:
    try:
        if digest is None:
            from llm_gitops.models.digest import model_digest

            digest = model_digest(state.model_dir)
        gen = generator or Generator.load(state.model_dir)
        method = quantization_method(gen.loaded.manifest)
        state.info = ModelInfo(
            name=model_name or state.model_dir.name, digest=digest, method=method, context_length=gen.context_length
        )
        state.metrics.set_model(digest=digest, version=state.version, color=state.color, method=method,
                                name=state.info.name)
        # The first generation pays for lazy initialisation (kernels, caches); do it before
        # reporting ready so the first real request is not the slow one.
        gen.complete(warmup_prompt, max_tokens=2, temperature=0.0)
        state.generator = gen
        state.status = "ready"
        if not state.draining:
            state.metrics.ready.set(1)
        log.info("model %s (%s) loaded and warmed up", state.model_dir, digest)
    except Exception as exc:  # noqa: BLE001 - reported by the probes and the callback
        state.status = "failed"
        state.error = f"{type(exc).__name__}: {exc}"
        log.error("loading %s failed: %s", state.model_dir, state.error)
        if on_load_error is not None:
            on_load_error(exc)
    finally:
        state.loaded.set()


class _RequestMetrics:
    """ASGI middleware: count and time every HTTP request by route and status."""

    def __init__(self, app, metrics: ServeMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Unknown paths share one label, so scanners cannot blow up the series count.
        route = scope["path"] if scope["path"] in ROUTES else "other"
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        start = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.latency.labels(route).observe(time.perf_counter() - start)
            self.metrics.requests.labels(route, scope["method"], str(status["code"])).inc()


def create_app(
    model_dir: Path,
    *,
    color: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    digest: str | None = None,
    limits: Limits = Limits(),
    max_queue: int = 16,
    request_timeout: float = 60.0,
    warmup_prompt: str = "Hello",
    generator: Generator | None = None,
    on_load_error: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """The app serving ``model_dir`` (a Hugging Face dir or an llm-gitops artifact).

    ``color`` (blue/green) and ``model_version`` only label the metrics; ``digest``
    defaults to the directory's content digest. ``generator`` skips loading (an already
    loaded model, e.g. shared by benchmarks); it is still warmed up. At most ``max_queue``
    completions wait for the model; each gets ``request_timeout`` seconds, queueing included.
    """
    metrics = ServeMetrics()
    state = ServeState(model_dir=Path(model_dir), color=color or "none", version=model_version or "unversioned",
                       metrics=metrics)
    metrics.ready.set(0)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        threading.Thread(
            target=_load, name="llm-gitops-model-loader", daemon=True,
            kwargs=dict(state=state, model_name=model_name, digest=digest, warmup_prompt=warmup_prompt,
                        generator=generator, on_load_error=on_load_error),
        ).start()
        yield

    app = FastAPI(title="llm-gitops model server", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.serve = state
    app.add_middleware(_RequestMetrics, metrics=metrics)

    queue = ModelQueue(max_queue, metrics)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        path = request.url.path if len(request.url.path) <= 100 else request.url.path[:100] + "..."
        err = ApiError(exc.status_code, f"{request.method} {path}: {exc.detail}", type=kind)
        return JSONResponse(err.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception):
        log.exception("unexpected error answering %s", request.url.path)
        err = ApiError(500, f"internal error: {type(exc).__name__}", type="server_error")
        return JSONResponse(err.body(), status_code=500)

    @app.get("/healthz")
    async def healthz():
        if state.status == "failed":
            return JSONResponse({"status": "failed", "error": state.error}, status_code=500)
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz():
        if state.ready:
            return {"status": "ready", "model": state.info.name, "digest": state.info.digest, "color": state.color}
        status = "draining" if state.draining else state.status
        body = {"status": status}
        if state.error:
            body["error"] = state.error
        return JSONResponse(body, status_code=503)

    @app.get("/metrics")
    async def metrics_route():
        return Response(metrics.render(), media_type=metrics.content_type)

    @app.get("/v1/models")
    async def models():
        if state.info is None:
            return {"object": "list", "data": []}
        return {"object": "list", "data": [{"id": state.info.name, "object": "model", "owned_by": "llm-gitops"}]}

    @app.post("/v1/completions")
    async def completions(request: Request):
        gen = state.generator
        if gen is None or state.info is None:
            detail = f"the model failed to load ({state.error})" if state.status == "failed" else "the model is still loading"
            raise ApiError(503, f"{detail}; retry when /readyz answers 200", type="service_unavailable",
                           code="model_not_ready")
        try:
            # A client trickling its body in holds a connection, never the model; still bounded.
            body = await asyncio.wait_for(_read_body(request, limits.max_body_bytes), request_timeout)
        except ClientDisconnect:
            return Response(status_code=CLIENT_GONE)
        except asyncio.TimeoutError:
            raise ApiError(408, f"the request body did not arrive within {request_timeout:g}s",
                           code="request_timeout") from None
        req = parse_request(body, request.headers.get("content-type"), limits)
        prompt: str | list[int] = req.prompt  # a one-element list was unwrapped by validation
        if isinstance(prompt, list) and max(prompt) >= gen.vocab_size:
            raise ApiError(400, f"prompt: token id {max(prompt)} is outside this model's vocabulary "
                                f"(0 to {gen.vocab_size - 1})", param="prompt")
        context = state.info.context_length
        if context is not None:
            prompt_tokens = len(gen.token_ids(prompt))
            if prompt_tokens + req.max_tokens > context:
                raise ApiError(
                    400, f"this model's maximum context length is {context} tokens; the prompt has {prompt_tokens} "
                         f"and max_tokens asks for {req.max_tokens} more; shorten the prompt or lower max_tokens",
                    param="max_tokens" if prompt_tokens < context else "prompt", code="context_length_exceeded",
                )

        def work(should_stop: Callable[[], bool]):
            try:
                return gen.complete(
                    prompt, max_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p, stop=req.stop,
                    seed=req.seed, logprobs=req.logprobs, echo=req.echo, should_stop=should_stop,
                    on_token=metrics.decoded_tokens.inc,
                )
            except GenerationCancelled as exc:
                metrics.cancelled_tokens.inc(exc.tokens)
                raise

        try:
            result = await queue.run(work, disconnected=lambda: _disconnected(request), timeout=request_timeout)
        except QueueFull as exc:
            raise ApiError(429, f"the server is busy ({queue.max_queue} requests already wait for the model); "
                                f"retry after {exc.retry_after}s", type="overloaded_error", code="queue_full",
                           headers={"Retry-After": str(exc.retry_after)}) from None
        except RequestAbandoned as exc:
            if exc.reason == "timeout":
                raise ApiError(504, f"the completion did not finish within {request_timeout:g}s (queueing "
                                    "included); lower max_tokens or retry later", type="timeout_error",
                               code="request_timeout") from None
            return Response(status_code=CLIENT_GONE)  # nobody reads it; the status keeps it out of the successes
        metrics.prompt_tokens.inc(result.prompt_tokens)
        metrics.generated_tokens.inc(result.completion_tokens)
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": state.info.name,
            "choices": [{
                "text": gen.prompt_text(prompt) + result.text if req.echo else result.text,
                "index": 0,
                "logprobs": None if result.logprobs is None else asdict(result.logprobs),
                "finish_reason": result.finish_reason,
            }],
            "usage": {
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens,
            },
        }

    return app


# nginx's "client closed request": a request whose client left is never counted as answered.
CLIENT_GONE = 499


async def _read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused (413) as soon as it is known to exceed ``max_bytes``."""
    too_large = ApiError(413, f"the request body is larger than this server accepts ({max_bytes} bytes); "
                              "shorten the prompt", code="request_too_large")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise ApiError(415, "Content-Encoding is not supported; send the body uncompressed",
                       code="unsupported_media_type")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise too_large
    return bytes(body)


async def _disconnected(request: Request) -> None:
    """Returns once the client has gone (the body is already read, so only a disconnect comes)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
