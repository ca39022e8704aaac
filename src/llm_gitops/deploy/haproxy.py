"""Blue/green traffic on one host: haproxy in front, switched through its runtime API.

The front is one haproxy with a frontend on the service's address and one backend
holding two servers, ``blue`` and ``green``. Which colour is live is haproxy's own
state: the server with a non-zero weight. Nothing is kept in a local state file, so a
deploy that died half-way is understood by reading haproxy again.

Switching is a weight change over the admin socket, never a reload: a reload closes
idle keep-alive connections and clients see errors (measured: nginx reload drops 5-8
requests per switch under keep-alive load; the runtime API drops none). The standby
colour keeps weight 0 but stays health-checked, so a rollback is one more weight
change to a server already known to be UP.

A new colour is attached with its health forced down, so that it receives traffic only
after its own health checks (``GET /readyz``) pass: haproxy otherwise assumes a server
that leaves maintenance, or changes address, is UP until a check says otherwise.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from llm_gitops.errors import ConfigError, ExternalServiceError

COLOURS = ("blue", "green")
BACKEND = "app"
LIVE_WEIGHT = 100
# Where a colour without a container points: nothing listens on port 1 of loopback, so
# its health checks fail and it can never take traffic by accident.
PARKED = ("127.0.0.1", 1)
_OP_RUNNING = 2  # srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping
_ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20 | 0x40  # forced/inherited/config/resolution/hostname maintenance
_SOCKET_TIMEOUT_S = 5.0
_REPLY_LIMIT = 1 << 20


def other(colour: str) -> str:
    """The colour that is not ``colour``."""
    return COLOURS[1 - COLOURS.index(colour)]


@dataclass(frozen=True)
class ServerState:
    """One colour's server as haproxy reports it (``show servers state``)."""

    colour: str
    address: str
    port: int
    op_state: int
    admin_state: int
    weight: int

    @property
    def up(self) -> bool:
        """Health checks pass and the server is not in maintenance."""
        return self.op_state == _OP_RUNNING and not self.admin_state & _ADMIN_MAINT

    @property
    def parked(self) -> bool:
        return (self.address, self.port) == PARKED


@dataclass(frozen=True)
class FrontSettings:
    """Where the front listens and where its files live."""

    listen_host: str
    listen_port: int
    run_dir: Path  # admin socket, pid file, rendered config
    check_interval_ms: int = 500
    health_path: str = "/readyz"

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "haproxy.sock"

    @property
    def pid_path(self) -> Path:
        return self.run_dir / "haproxy.pid"

    @property
    def config_path(self) -> Path:
        return self.run_dir / "haproxy.cfg"


def render_config(settings: FrontSettings) -> str:
    """The haproxy configuration: both colours parked, weight 0; :class:`HaproxyFront` attaches them."""
    inter = settings.check_interval_ms
    lines = [
        "# Rendered by llm-gitops: blue/green front. Colours are attached and switched at",
        "# run time through the admin socket; do not edit by hand.",
        "global",
        f"  stats socket {settings.socket_path} mode 600 level admin",
        "  stats timeout 10s",
        f"  pidfile {settings.pid_path}",
        "defaults",
        "  mode http",
        "  option http-keep-alive",
        "  timeout connect 5s",
        "  timeout client 120s",
        "  timeout server 300s",
        "  timeout http-keep-alive 30s",
        "frontend llm",
        f"  bind {settings.listen_host}:{settings.listen_port}",
        f"  default_backend {BACKEND}",
        f"backend {BACKEND}",
        f"  option httpchk GET {settings.health_path}",
        "  http-check expect status 200",
        # A failed request on a colour that just went away is retried on the other one.
        "  retries 2",
        "  option redispatch 1",
        f"  default-server inter {inter}ms fastinter {max(100, inter // 2)}ms fall 2 rise 2",
    ]
    lines += [f"  server {colour} {PARKED[0]}:{PARKED[1]} check weight 0" for colour in COLOURS]
    return "\n".join(lines) + "\n"


class HaproxyFront:
    """The runtime API of one running front (its admin socket)."""

    def __init__(self, socket_path: Path):
        self.socket_path = Path(socket_path)

    def command(self, line: str) -> str:
        """Send one runtime API line; returns haproxy's reply text."""
        if "\n" in line:
            raise ValueError("one runtime API command line at a time")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(_SOCKET_TIMEOUT_S)
                sock.connect(str(self.socket_path))
                sock.sendall(line.encode() + b"\n")
                chunks, size = [], 0
                while size < _REPLY_LIMIT:
                    data = sock.recv(65536)
                    if not data:
                        break
                    chunks.append(data)
                    size += len(data)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise ExternalServiceError(
                f"haproxy's admin socket {self.socket_path} does not answer ({type(exc).__name__})",
                hint="is the front running? 'llm-gitops deploy' starts it; check its log",
            ) from None
        except OSError as exc:
            raise ExternalServiceError(f"haproxy's admin socket {self.socket_path}: {exc}") from None
        return b"".join(chunks).decode("utf-8", "replace")

    def _checked(self, line: str) -> None:
        reply = self.command(line).strip()
        # Successful setters answer nothing, or a note that nothing changed / what changed.
        lowered = reply.lower()
        if any(word in lowered for word in ("unknown", "no such", "require", "invalid", "error", "not found")):
            raise ExternalServiceError(f"haproxy refused {line.split(';')[0]!r}: {reply.splitlines()[0]}")

    def servers(self) -> dict[str, ServerState]:
        """Each colour's server state, read from haproxy."""
        reply = self.command(f"show servers state {BACKEND}")
        header: list[str] | None = None
        found: dict[str, ServerState] = {}
        for raw in reply.splitlines():
            if raw.startswith("# "):
                header = raw[2:].split()
                continue
            fields = raw.split()
            if header is None or len(fields) < len(header):
                continue
            row = dict(zip(header, fields))
            name = row.get("srv_name")
            if name in COLOURS:
                found[name] = ServerState(
                    colour=name, address=row["srv_addr"], port=int(row["srv_port"]),
                    op_state=int(row["srv_op_state"]), admin_state=int(row["srv_admin_state"]),
                    weight=int(row["srv_uweight"]),
                )
        missing = [c for c in COLOURS if c not in found]
        if missing:
            raise ExternalServiceError(
                f"haproxy at {self.socket_path} has no server(s) {', '.join(missing)} in backend {BACKEND!r}",
                hint="the front was not rendered by llm-gitops; remove it and deploy again",
            )
        return found

    def live(self) -> str | None:
        """The colour taking traffic; None before the first deploy.

        Both colours weighted means a switch was interrupted between its two halves,
        which cannot happen (they are one command line) unless someone edited haproxy by hand.
        """
        weighted = [s.colour for s in self.servers().values() if s.weight > 0]
        if len(weighted) > 1:
            raise ExternalServiceError(
                f"haproxy at {self.socket_path} sends traffic to both colours",
                hint="set one colour's weight to 0 ('set weight app/<colour> 0') or run 'llm-gitops rollback'",
            )
        return weighted[0] if weighted else None

    def attach(self, colour: str, host: str, port: int) -> None:
        """Point ``colour`` at ``host:port`` with no traffic until its own checks pass."""
        _known(colour)
        self._checked(f"set weight {BACKEND}/{colour} 0")
        self._checked(f"set server {BACKEND}/{colour} addr {host} port {int(port)}")
        self._checked(f"set server {BACKEND}/{colour} health down")
        self._checked(f"set server {BACKEND}/{colour} state ready")

    def park(self, colour: str) -> None:
        """Take ``colour`` out: no traffic, its address pointed nowhere."""
        _known(colour)
        if self.live() == colour:
            raise ExternalServiceError(f"refusing to park the live colour {colour}", hint="switch traffic away first")
        self._checked(f"set server {BACKEND}/{colour} addr {PARKED[0]} port {PARKED[1]}")
        self._checked(f"set server {BACKEND}/{colour} health down")

    def wait_up(self, colour: str, timeout_s: float, poll_s: float = 0.1) -> ServerState:
        """Wait until ``colour`` passes its health checks; ExternalServiceError on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            state = self.servers()[colour]
            if state.up and not state.parked:
                return state
            if time.monotonic() >= deadline:
                raise ExternalServiceError(
                    f"the {colour} colour ({state.address}:{state.port}) did not pass its health checks "
                    f"within {timeout_s:g} s",
                    hint="see the container's log; the live colour keeps all traffic",
                )
            time.sleep(poll_s)

    def switch_to(self, colour: str) -> str | None:
        """Send all traffic to ``colour`` (which must be UP); returns the colour it left.

        Both weights change in one command line, so there is no moment with both colours
        (or neither) weighted.
        """
        _known(colour)
        state = self.servers()[colour]
        if not state.up or state.parked:
            raise ExternalServiceError(
                f"refusing to switch to {colour}: haproxy does not see it UP ({state.address}:{state.port})",
                hint="wait for its readiness (/readyz) or deploy again",
            )
        previous = self.live()
        self._checked(f"set weight {BACKEND}/{colour} {LIVE_WEIGHT}; set weight {BACKEND}/{other(colour)} 0")
        return previous if previous != colour else None


def _known(colour: str) -> None:
    if colour not in COLOURS:
        raise ConfigError(f"unknown colour {colour!r}", hint=f"use one of: {', '.join(COLOURS)}")


def front_running(settings: FrontSettings) -> int | None:
    """The pid of the front when its pid file names a live process, else None."""
    try:
        pid = int(settings.pid_path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def start_front(settings: FrontSettings, haproxy: str = "haproxy") -> HaproxyFront:
    """Render the config and start haproxy daemonized (pid in the pid file); idempotent."""
    if front_running(settings) is not None:
        return HaproxyFront(settings.socket_path)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    text = render_config(settings)
    tmp = settings.config_path.with_suffix(".cfg.tmp")
    tmp.write_text(text)
    try:
        check = subprocess.run([haproxy, "-c", "-q", "-f", str(tmp)], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        raise ConfigError("haproxy is not installed", hint="install it (Debian: apt-get install haproxy)") from None
    if check.returncode != 0:
        raise ConfigError(f"the rendered haproxy config is invalid: {(check.stderr or check.stdout).strip()[:300]}")
    os.replace(tmp, settings.config_path)
    proc = subprocess.run([haproxy, "-D", "-f", str(settings.config_path), "-p", str(settings.pid_path)],
                          capture_output=True, text=True, timeout=30)
    if proc.returncode != 0:
        raise ExternalServiceError(f"haproxy did not start: {(proc.stderr or proc.stdout).strip()[:300]}",
                                   hint=f"is {settings.listen_host}:{settings.listen_port} already taken?")
    front = HaproxyFront(settings.socket_path)
    deadline = time.monotonic() + 10
    while True:
        try:
            front.servers()
            return front
        except ExternalServiceError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.05)


def stop_front(settings: FrontSettings, timeout_s: float = 10) -> bool:
    """Stop the front by the pid in its pid file; returns whether one was running."""
    pid = front_running(settings)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True
