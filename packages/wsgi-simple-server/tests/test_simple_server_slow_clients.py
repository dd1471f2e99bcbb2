"""Slow, idle and abusive clients do not hold the server; timeouts close them."""

from __future__ import annotations

import resource
import socket
import time
from typing import Any

import pytest


@pytest.fixture
def many_fds() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, 4096)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def open_idle(server: Any, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.create_connection(server.server_address[:2], timeout=5)
        socks.append(sock)
    return socks


@pytest.mark.usefixtures("many_fds")
def test_normal_client_is_answered_under_100_tricklers_and_1000_idle_connections(
    kit: Any,
) -> None:
    config = kit.QUIET.replace(threads=4, header_timeout_s=30.0, idle_timeout_s=30.0)
    with kit.running(kit.hello_app, config) as server:
        idle = open_idle(server, 1000)
        # 1000 keep-alive connections that did one request and went idle
        for sock in idle[:200]:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        for sock in idle[:200]:
            assert kit.Reader(sock).response().body == b"Hello"
        tricklers = open_idle(server, 100)
        request = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 40 + b"\r\n"
        try:
            worst = 0.0
            for i in range(20):
                for sock in tricklers:
                    sock.sendall(request[i : i + 1])
                started = time.monotonic()
                data = kit.roundtrip(
                    server, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                )
                worst = max(worst, time.monotonic() - started)
                assert data.endswith(b"Hello")
            assert worst < 1.0
            deadline = time.monotonic() + 5
            while len(server._engine.conns) < 1100 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(server._engine.conns) >= 1100  # all held open, none served by a thread
        finally:
            for sock in idle + tricklers:
                sock.close()


def test_header_timeout_closes_a_client_trickling_its_head(kit: Any) -> None:
    config = kit.QUIET.replace(header_timeout_s=0.3)
    with kit.running(kit.hello_app, config) as server, kit.connect(server) as sock:
        started = time.monotonic()
        closed = False
        for byte in b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 100:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.02)
            if time.monotonic() - started > 1.0:
                break
        if not closed:
            sock.settimeout(2)
            assert sock.recv(10) == b""
        assert time.monotonic() - started < 1.5


def test_header_timeout_closes_a_connection_that_never_sends(kit: Any) -> None:
    config = kit.QUIET.replace(header_timeout_s=0.2)
    with kit.running(kit.hello_app, config) as server, kit.connect(server) as sock:
        started = time.monotonic()
        assert sock.recv(10) == b""
        assert 0.15 < time.monotonic() - started < 1.0


def test_idle_timeout_closes_a_quiet_keep_alive_connection(kit: Any) -> None:
    config = kit.QUIET.replace(idle_timeout_s=0.3, header_timeout_s=5.0)
    with kit.running(kit.hello_app, config) as server, kit.connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = kit.Reader(sock)
        assert reader.response().body == b"Hello"
        started = time.monotonic()
        assert reader.at_eof()
        assert 0.2 < time.monotonic() - started < 1.5


def test_body_timeout_ends_a_request_whose_body_stalls(kit: Any) -> None:
    config = kit.QUIET.replace(body_timeout_s=0.3)
    with kit.running(kit.echo_app, config) as server, kit.connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        started = time.monotonic()
        kit.read_all(sock)
        assert time.monotonic() - started < 2.0


def test_max_connections_closes_the_extra_ones(kit: Any) -> None:
    config = kit.QUIET.replace(max_connections=5)
    with kit.running(kit.hello_app, config) as server:
        socks = open_idle(server, 5)
        try:
            time.sleep(0.1)
            with kit.connect(server) as extra:
                extra.settimeout(2)
                assert extra.recv(10) == b""
        finally:
            for sock in socks:
                sock.close()
