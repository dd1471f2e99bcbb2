"""The worker pool keeps its size: a worker that dies is logged and replaced."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from wsgi_simple_server import make_server
from wsgi_simple_server._engine import Engine

GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


class InjectedFault(BaseException):
    """Not an Exception: what escapes every ``except Exception`` (as SystemExit would)."""


def test_a_worker_killed_by_a_fault_is_replaced_and_the_next_request_is_answered(
    kit: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    serve = Engine._serve
    faults_left = [3]
    lock = threading.Lock()

    def faulty_serve(self: Engine, conn: Any) -> None:
        with lock:
            fire = faults_left[0] > 0
            faults_left[0] -= fire
        if fire:
            raise InjectedFault("injected into the worker loop")
        serve(self, conn)

    monkeypatch.setattr(Engine, "_serve", faulty_serve)
    config = kit.QUIET.replace(threads=2)
    with (
        caplog.at_level(logging.ERROR, logger="wsgi_simple_server"),
        kit.running(kit.hello_app, config) as server,
    ):
        kit.wait_for(lambda: server._engine is not None)
        engine = server._engine
        for _ in range(3):
            # The connection of the dying worker is closed, not left hanging.
            assert kit.roundtrip(server, GET) == b""
        kit.wait_for(lambda: len([r for r in caplog.records if "died" in r.getMessage()]) == 3)
        kit.wait_for(lambda: all(thread.is_alive() for thread in engine._threads))
        assert len(engine._threads) == 2
        with kit.connect(server) as sock:
            sock.sendall(GET)
            assert kit.Reader(sock).response().body == b"Hello"
    deaths = [r for r in caplog.records if "died" in r.getMessage()]
    assert all(r.name == "wsgi_simple_server" and r.exc_info for r in deaths)


def test_a_pool_that_cannot_start_all_its_threads_stops_the_started_ones(
    kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[threading.Thread] = []
    spawn = Engine._spawn

    def spawn_two(self: Engine, index: int) -> threading.Thread:
        if index == 2:
            raise RuntimeError("can't start new thread")
        thread = spawn(self, index)
        started.append(thread)
        return thread

    monkeypatch.setattr(Engine, "_spawn", spawn_two)
    server = make_server("127.0.0.1", 0, kit.hello_app, config=kit.QUIET)
    with server, pytest.raises(RuntimeError, match="can't start new thread"):
        server.serve_forever()
    assert len(started) == 2
    for thread in started:
        thread.join(5)
        assert not thread.is_alive()
