"""The blue/green front: real haproxy on loopback, switched through its admin socket."""

from __future__ import annotations

import http.client
import shutil
import threading
import time

import pytest

from llm_gitops.deploy.haproxy import FrontSettings, HaproxyFront, render_config, start_front, stop_front
from llm_gitops.errors import ConfigError, ExternalServiceError
from tests.deploy.backends import backend, free_port

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed (scripts/setup.sh)")


@pytest.fixture()
def front(tmp_path):
    settings = FrontSettings(listen_host="127.0.0.1", listen_port=free_port(), run_dir=tmp_path / "front",
                             check_interval_ms=100)
    handle = start_front(settings)
    yield settings, handle
    stop_front(settings)


def get(port: int, conn: http.client.HTTPConnection | None = None) -> tuple[int, str]:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/")
    resp = conn.getresponse()
    return resp.status, resp.read().decode()


def make_live(handle: HaproxyFront, colour: str, port: int) -> None:
    """Attach ``colour`` at ``port``, wait for its checks, send it all traffic."""
    handle.attach(colour, "127.0.0.1", port)
    handle.wait_up(colour, timeout_s=10)
    handle.switch_to(colour)


def test_rendered_config_is_valid_and_parks_both_colours(tmp_path):
    settings = FrontSettings(listen_host="127.0.0.1", listen_port=18080, run_dir=tmp_path)
    text = render_config(settings)
    assert "server blue 127.0.0.1:1 check weight 0" in text and "server green 127.0.0.1:1 check weight 0" in text
    assert f"stats socket {tmp_path / 'haproxy.sock'}" in text


def test_first_deploy_then_switch_and_back(front):
    settings, handle = front
    assert handle.live() is None
    with backend("blue") as blue, backend("green") as green:
        handle.attach("blue", "127.0.0.1", blue.port)
        handle.wait_up("blue", timeout_s=10)
        assert handle.switch_to("blue") is None
        assert handle.live() == "blue"
        assert get(settings.listen_port) == (200, "blue")

        handle.attach("green", "127.0.0.1", green.port)
        assert handle.live() == "blue"  # attaching never moves traffic
        handle.wait_up("green", timeout_s=10)
        assert handle.switch_to("green") == "blue"
        assert handle.live() == "green"
        assert {get(settings.listen_port)[1] for _ in range(5)} == {"green"}

        # The old colour stays warm and health-checked: going back is one call.
        assert handle.servers()["blue"].up
        assert handle.switch_to("blue") == "green"
        assert get(settings.listen_port) == (200, "blue")


def test_a_colour_that_never_becomes_ready_gets_no_traffic(front):
    settings, handle = front
    with backend("blue") as blue, backend("green", ready=False) as green:
        make_live(handle, "blue", blue.port)
        handle.attach("green", "127.0.0.1", green.port)
        with pytest.raises(ExternalServiceError, match="did not pass its health checks"):
            handle.wait_up("green", timeout_s=1.0)
        with pytest.raises(ExternalServiceError, match="refusing to switch to green"):
            handle.switch_to("green")
        assert handle.live() == "blue"
        assert {get(settings.listen_port)[1] for _ in range(10)} == {"blue"}
        handle.park("green")
        assert handle.servers()["green"].parked


def test_the_live_colour_cannot_be_parked(front):
    _, handle = front
    with backend("blue") as blue:
        make_live(handle, "blue", blue.port)
        with pytest.raises(ExternalServiceError, match="refusing to park the live colour"):
            handle.park("blue")


def test_live_colour_is_read_from_haproxy_not_remembered(front):
    settings, handle = front
    with backend("green") as green:
        make_live(handle, "green", green.port)
        # A fresh handle (a new deploy process) sees the same state.
        assert HaproxyFront(settings.socket_path).live() == "green"
        # start_front on a running front is a no-op that keeps the state.
        assert start_front(settings).live() == "green"


def test_zero_failed_requests_under_keep_alive_load_during_switches(front):
    settings, handle = front
    failures, answers = [], {"blue": 0, "green": 0}
    stop = threading.Event()
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", settings.listen_port, timeout=5)
        deadline = time.monotonic() + 20  # bounded even if the test body fails
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                status, body = get(settings.listen_port, conn)
                with lock:
                    if status == 200:
                        answers[body] += 1
                    else:
                        failures.append(status)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", settings.listen_port, timeout=5)
        conn.close()

    with backend("blue") as blue, backend("green") as green:
        make_live(handle, "blue", blue.port)
        handle.attach("green", "127.0.0.1", green.port)
        handle.wait_up("green", timeout_s=10)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for colour in ("green", "blue", "green"):
                time.sleep(0.3)
                handle.switch_to(colour)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
    assert failures == []
    assert answers["blue"] > 0 and answers["green"] > 0


def test_admin_socket_gone_is_a_clear_error(tmp_path):
    handle = HaproxyFront(tmp_path / "nothing.sock")
    with pytest.raises(ExternalServiceError, match="admin socket .* does not answer"):
        handle.live()


def test_unknown_colour_is_a_config_error(front):
    _, handle = front
    with pytest.raises(ConfigError, match="unknown colour 'red'"):
        handle.attach("red", "127.0.0.1", 1)
