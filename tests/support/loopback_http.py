"""A loopback HTTP server whose every answer comes from one function, for tests that
stand in for (or sit in front of) an OpenAI-compatible completions server."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# answer(method, path, body, stopping) -> (status, JSON body), or None to send nothing
# (the request hangs; ``stopping`` is set when the server stops, for it to wait on).
Answer = Callable[[str, str, bytes | None, threading.Event], tuple[int, bytes] | None]


@contextmanager
def json_server(answer: Answer) -> Iterator[str]:
    """Serve ``answer`` on 127.0.0.1 (a free port); yields the base URL. Stopped on exit."""
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            reply = answer(self.command, self.path, self.rfile.read(length) if length else None, stopping)
            if reply is None:
                return
            status, payload = reply
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
