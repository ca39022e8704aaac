"""Wait until the engine's Docker API answers /_ping and the registry answers /v2/.

Usage: python3 wait_ready.py SOCKET HOST:PORT TIMEOUT_SECONDS  (exit 0 ready, 1 not)
Standard library only: it runs before any virtualenv exists.
"""

import http.client
import socket
import sys
import time


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=2)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(2)
        self.sock.connect(self._path)


def _status(conn: http.client.HTTPConnection, path: str) -> int:
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def main() -> int:
    sock, registry, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    host, port = registry.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        engine_ok = _status(_UnixConnection(sock), "/_ping") == 200
        registry_ok = _status(http.client.HTTPConnection(host, int(port), timeout=2), "/v2/") == 200
        if engine_ok and registry_ok:
            return 0
        time.sleep(0.2)
    return 1


if __name__ == "__main__":
    sys.exit(main())
