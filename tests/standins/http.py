"""The HTTP plumbing every stand-in shares: a threaded loopback server, a route table,
a request log, fault injection and a JSON state file.

A stand-in is a subclass of :class:`Standin` that registers routes (method, regex,
handler). Handlers get a :class:`Request` and return ``(status, body, headers)``; the
body is JSON-encoded unless it is ``bytes``. State lives in ``self.state`` (plain
JSON-able dicts), guarded by ``self.lock``, so it can be dumped to a file that another
process (a CI runner's job) reads back, and loaded to seed a fresh server.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Response = tuple[int, Any, dict[str, str]]
# A handler's answer meaning "close the connection without replying".
DROP: Response = (0, None, {})


class HttpError(Exception):
    """Raised by handlers to answer with an error status and the forge's own body."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # without the query string
    status: int
    query: str = ""
    body: Any = None  # the decoded JSON body, when there was one


@dataclass
class Fault:
    """One injected failure, consumed by the next ``count`` matching requests."""

    kind: str  # "status" | "rate_limit" | "garbage" | "delay" | "drop"
    count: int
    status: int = 500
    retry_after: float | None = None
    method: str | None = None
    path_contains: str | None = None
    seconds: float = 0.0
    after: bool = False  # apply the request, then fail (a response lost on the way back)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path_contains is None or self.path_contains in path
        )


@dataclass
class Request:
    method: str
    path: str  # raw (still percent-encoded) path, without the query string
    query: dict[str, str]
    headers: Any
    body: Any
    raw_body: bytes
    base_url: str  # scheme://host:port the client used, so returned URLs point back here
    match: re.Match | None = None
    user: str | None = None
    extra: dict = field(default_factory=dict)

    def param(self, name: str) -> str:
        return urllib.parse.unquote(self.match.group(name))  # type: ignore[union-attr]


class Standin:
    """Base of the GitHub, GitLab and Jenkins stand-ins."""

    kind = "base"

    def __init__(self, *, state_file: str | os.PathLike | None = None):
        self.lock = threading.RLock()
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.routes: list[tuple[str, re.Pattern, Callable[[Request], Response]]] = []
        self.state: dict = self.initial_state()
        self.state_file = os.fspath(state_file) if state_file else None
        if self.state_file and os.path.exists(self.state_file) and os.path.getsize(self.state_file):
            with open(self.state_file) as fh:
                loaded = json.load(fh)
            if loaded.get("kind") == self.kind:
                self.state = loaded
        self.server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.register_routes()
        # Test-only endpoints (no auth) so that another process can seed and inspect.
        self.route("GET", r"/_standin/state", lambda r: (200, self.snapshot(), {}))
        self.route("GET", r"/_standin/requests", lambda r: (200, [vars(x) for x in self.requests_snapshot()], {}))

    # ------------------------------------------------------------------ to override
    def initial_state(self) -> dict:
        return {"kind": self.kind, "next_id": 1000}

    def register_routes(self) -> None:
        raise NotImplementedError

    def authenticate(self, req: Request) -> str:
        """Return the user the request authenticates as, or raise HttpError(401)."""
        return "anonymous"

    def not_found(self, req: Request) -> HttpError:
        return HttpError(404, {"message": "Not Found"})

    def rate_limit_error(self, fault: Fault) -> HttpError:
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return HttpError(fault.status, {"message": "rate limited"}, headers)

    # ------------------------------------------------------------------ lifecycle
    def start(self, host: str = "127.0.0.1", port: int = 0) -> "Standin":
        standin = self

        class Handler(_Handler):
            owner = standin

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name=f"{self.kind}-standin", daemon=True)
        self._thread.start()
        self.dump_state()
        return self

    @property
    def url(self) -> str:
        assert self.server is not None, "not started"
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ------------------------------------------------------------------ helpers
    def route(self, method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
        self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def new_id(self) -> int:
        with self.lock:
            self.state["next_id"] += 1
            return self.state["next_id"]

    def snapshot(self) -> dict:
        with self.lock:
            return json.loads(json.dumps(self.state))

    def requests_snapshot(self) -> list[LoggedRequest]:
        with self.lock:
            return list(self.requests)

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def dump_state(self) -> None:
        if not self.state_file:
            return
        with self.lock:
            text = json.dumps(self.state, indent=1, sort_keys=True)
        directory = os.path.dirname(os.path.abspath(self.state_file))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".standin-")
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, self.state_file)

    # ------------------------------------------------------------------ faults
    def inject_errors(self, count: int, *, status: int = 502, method: str | None = None, path_contains: str | None = None,
                      after: bool = False) -> None:
        """The next ``count`` matching requests get a bare 5xx (as a proxy in front would).

        ``after=True``: the request is applied first and only its response is lost, the
        case where a client that blindly retries a POST makes duplicates.
        """
        with self.lock:
            self.faults.append(Fault("status", count, status=status, method=method, path_contains=path_contains,
                                     after=after))

    def inject_rate_limit(
        self, count: int = 1, *, retry_after: float | None = 1, status: int = 403, method: str | None = None,
        path_contains: str | None = None,
    ) -> None:
        """The next ``count`` matching requests are rate limited (403 or 429, with Retry-After)."""
        with self.lock:
            self.faults.append(Fault("rate_limit", count, status=status, retry_after=retry_after, method=method,
                                     path_contains=path_contains))

    def inject_garbage(self, count: int = 1, *, method: str | None = None, path_contains: str | None = None) -> None:
        """The next ``count`` matching requests get 200 with a body that is not JSON."""
        with self.lock:
            self.faults.append(Fault("garbage", count, method=method, path_contains=path_contains))

    def inject_drop(self, count: int = 1, *, method: str | None = None, path_contains: str | None = None,
                    after: bool = False) -> None:
        """The next ``count`` matching requests get no answer: the connection is closed.

        ``after=True``: the request is applied first (the write happened, its reply is lost).
        """
        with self.lock:
            self.faults.append(Fault("drop", count, method=method, path_contains=path_contains, after=after))

    def inject_delay(self, seconds: float, count: int = 1, *, method: str | None = None, path_contains: str | None = None) -> None:
        with self.lock:
            self.faults.append(Fault("delay", count, seconds=seconds, method=method, path_contains=path_contains))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # ------------------------------------------------------------------ dispatch
    def dispatch(self, req: Request) -> Response:
        if not req.path.startswith("/_standin/"):
            fault = self._take_fault(req.method, req.path)
            if fault is not None:
                if fault.kind == "delay":
                    time.sleep(fault.seconds)
                elif fault.kind == "status" and fault.after:
                    self._route(req)
                    return fault.status, b"<html><body><h1>Bad gateway</h1></body></html>", {"Content-Type": "text/html"}
                elif fault.kind == "status":
                    return fault.status, b"<html><body><h1>Bad gateway</h1></body></html>", {"Content-Type": "text/html"}
                elif fault.kind == "drop":
                    if fault.after:
                        self._route(req)
                    return DROP
                elif fault.kind == "garbage":
                    return 200, b"\x00{not json at all", {"Content-Type": "application/json"}
                elif fault.kind == "rate_limit":
                    err = self.rate_limit_error(fault)
                    return err.status, err.body, err.headers
        return self._route(req)

    def _route(self, req: Request) -> Response:
        path_only = req.path
        for method, pattern, handler in self.routes:
            m = pattern.match(path_only)
            if m and method == req.method:
                req.match = m
                try:
                    if not path_only.startswith("/_standin/"):
                        req.user = self.authenticate(req)
                    with self.lock:
                        result = handler(req)
                    if req.method != "GET":
                        self.dump_state()
                    return result
                except HttpError as err:
                    return err.status, err.body, err.headers
        err = self.not_found(req)
        return err.status, err.body, err.headers


class _Handler(BaseHTTPRequestHandler):
    owner: Standin
    protocol_version = "HTTP/1.1"  # keep-alive, as the real forges
    disable_nagle_algorithm = True  # else every small response waits ~40 ms

    def log_message(self, format, *args):  # quiet: the stand-in keeps its own log
        pass

    def _handle(self) -> None:
        parsed = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any = None
        if raw:
            ctype = self.headers.get("Content-Type", "")
            if "json" in ctype or raw[:1] in (b"{", b"["):
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            elif "x-www-form-urlencoded" in ctype:
                body = dict(urllib.parse.parse_qsl(raw.decode()))
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        path = parsed.path
        query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
        req = Request(self.command, path, query, self.headers, body, raw, f"http://{host}")
        try:
            status, payload, headers = self.owner.dispatch(req)
        except Exception as exc:  # a stand-in bug must show up as a 500, not a hang
            import traceback

            traceback.print_exc()
            status, payload, headers = 500, {"message": f"stand-in error: {exc}"}, {}
        with self.owner.lock:
            self.owner.requests.append(LoggedRequest(self.command, path, status, parsed.query, body))
        if (status, payload, headers) == DROP:
            self.close_connection = True  # the client sees the connection end with no reply
            return
        if isinstance(payload, bytes):
            data = payload
            headers = {"Content-Type": "application/octet-stream", **headers}
        elif payload is None and status in (204, 304):
            data = b""
        else:
            data = json.dumps(payload).encode()
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


def paginate(req: Request, items: list, *, default_per_page: int, max_per_page: int = 100) -> tuple[list, dict[str, str]]:
    """Slice ``items`` by ``page``/``per_page`` and build the RFC 8288 Link header both forges send."""
    try:
        per_page = max(1, min(int(req.query.get("per_page", default_per_page)), max_per_page))
        page = max(1, int(req.query.get("page", 1)))
    except ValueError:
        per_page, page = default_per_page, 1
    total_pages = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    links = []

    def link(p: int, rel: str) -> str:
        q = dict(req.query, page=str(p), per_page=str(per_page))
        return f'<{req.base_url}{req.path}?{urllib.parse.urlencode(q)}>; rel="{rel}"'

    if page < total_pages:
        links.append(link(page + 1, "next"))
        links.append(link(total_pages, "last"))
    if page > 1:
        links.append(link(1, "first"))
        links.append(link(page - 1, "prev"))
    headers = {"Link": ", ".join(links)} if links else {}
    headers.update(
        {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(total_pages),
            "X-Next-Page": str(page + 1) if page < total_pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
    )
    return chunk, headers


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
