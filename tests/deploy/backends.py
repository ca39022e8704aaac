"""Tiny HTTP backends on loopback that say which colour they are, for traffic tests."""

from __future__ import annotations

import http.server
import socket
import threading
from contextlib import contextmanager
from typing import Iterator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as model servers do
    disable_nagle_algorithm = True

    def do_GET(self):  # noqa: N802 - http.server's naming
        ready = self.server.ready.is_set()
        if self.path == "/readyz" and not ready:
            body, status = b"not ready", 503
        else:
            body, status = self.server.colour.encode(), 200
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


class Backend(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, colour: str, ready: bool = True):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.colour = colour
        self.ready = threading.Event()
        if ready:
            self.ready.set()

    @property
    def port(self) -> int:
        return self.server_address[1]


@contextmanager
def serving(server: http.server.HTTPServer):
    """Serve ``server`` on a daemon thread for the block; shut down and closed after."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def backend(colour: str, ready: bool = True) -> Iterator[Backend]:
    with serving(Backend(colour, ready)) as server:
        yield server
