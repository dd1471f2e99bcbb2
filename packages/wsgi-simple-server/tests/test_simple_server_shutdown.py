"""Graceful shutdown: stop accepting, finish requests in flight, close idle connections."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from wsgi_simple_server import make_server


def slow_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    time.sleep(float(environ["QUERY_STRING"] or 0))
    start_response("200 OK", [])
    return [b"finished"]


def test_shutdown_lets_a_request_in_flight_finish_and_closes_idle_ones(kit: Any) -> None:
    config = kit.QUIET.replace(shutdown_timeout_s=3.0)
    server = make_server("127.0.0.1", 0, slow_app, config=config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    busy = kit.connect(server)
    idle = kit.connect(server)
    try:
        idle.sendall(b"GET /?0 HTTP/1.1\r\nHost: t\r\n\r\n")
        idle_reader = kit.Reader(idle)
        assert idle_reader.response().body == b"finished"
        busy.sendall(b"GET /?0.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.1)
        started = time.monotonic()
        server.shutdown()
        response = kit.Reader(busy).response()
        assert response.body == b"finished"
        assert response.header("Connection") == "close"
        assert idle_reader.at_eof()
        assert time.monotonic() - started < 2.0
        with pytest.raises(TimeoutError):  # still bound until server_close, but never accepted
            kit.roundtrip(server, b"GET / HTTP/1.0\r\n\r\n", timeout=0.5)
    finally:
        busy.close()
        idle.close()
        server.server_close()
        thread.join(5)


def test_shutdown_gives_up_on_requests_past_the_timeout(kit: Any) -> None:
    config = kit.QUIET.replace(shutdown_timeout_s=0.2)
    server = make_server("127.0.0.1", 0, slow_app, config=config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    with kit.connect(server) as sock:
        sock.sendall(b"GET /?2 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.1)
        started = time.monotonic()
        server.shutdown()
        assert time.monotonic() - started < 1.0
    server.server_close()
    thread.join(5)


def test_serve_forever_can_run_again_after_shutdown(kit: Any) -> None:
    with make_server("127.0.0.1", 0, kit.hello_app, config=kit.QUIET) as server:
        for _ in range(2):
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
            thread.start()
            assert kit.roundtrip(server, b"GET / HTTP/1.0\r\n\r\n").endswith(b"Hello")
            server.shutdown()
            thread.join(5)


def test_a_second_shutdown_after_serve_forever_returned_returns_at_once(kit: Any) -> None:
    # The standard library's shutdown() returns at once once serve_forever is done.
    with make_server("127.0.0.1", 0, kit.hello_app, config=kit.QUIET) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        assert kit.roundtrip(server, b"GET / HTTP/1.0\r\n\r\n").endswith(b"Hello")
        server.shutdown()
        thread.join(5)
        again = threading.Thread(target=server.shutdown, daemon=True)
        again.start()
        again.join(5)
        assert not again.is_alive()


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], int]:
    path = [str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgi_simple_server", *args, "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("Serving HTTP on 127.0.0.1 port "), line
    return proc, int(line.split()[5])


def _get(port: int, path: str = "/") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_demo_app_and_stops_cleanly_on_a_signal(signum: int) -> None:
    proc, port = _start_cli("--threads", "2")
    try:
        data = _get(port, "/xyz?abc")
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"Hello world!" in data
        assert b"PATH_INFO = '/xyz'" in data
        proc.send_signal(signum)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.communicate()


def test_cli_serves_a_named_module_app() -> None:
    proc, port = _start_cli("test_simple_server_shutdown:slow_app", "--no-access-log")
    try:
        assert _get(port).endswith(b"finished")
        proc.terminate()
        assert proc.wait(10) == 0
        _, err = proc.communicate()
        assert '"GET /' not in err
    finally:
        proc.kill()
        proc.communicate()


def test_an_application_that_calls_shutdown_gets_its_response_and_the_server_stops(
    kit: Any,
) -> None:
    # The /quit route of many wsgiref users (a ThreadingMixIn server): shutdown() from
    # a worker asks for the stop and returns; the request still gets its response.
    server: Any = None

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        server.shutdown()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"bye"]

    server = make_server("127.0.0.1", 0, app, config=kit.QUIET)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with kit.connect(server, timeout=10) as sock:
            sock.sendall(b"GET /quit HTTP/1.1\r\nHost: t\r\n\r\n")
            response = kit.Reader(sock).response()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        server.server_close()
    assert response.body == b"bye"
    assert response.header("Connection") == "close"
