"""SIGHUP: the command line restarts in place, on its listening sockets, losing nothing.

The server runs an application from a module in a temporary folder; the test changes
the module on disk and sends SIGHUP while clients keep sending requests, over
keep-alive connections and over new ones. What must hold: every request is answered,
the request in flight when the signal came is finished by the old code, the process
id does not change (``exec``), and the new code answers after the restart.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from wsgi_simple_server import make_server

APP = """
import os, time
from pathlib import Path

VERSION = {version!r}

def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        Path(environ["QUERY_STRING"]).touch()  # the test waits for this
        time.sleep(1.0)
    body = f"{{VERSION}} {{os.getpid()}}".encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
"""
# Each client stops once it has 50 answers, 10 of them from the new code; this bounds it.
MAX_REQUESTS_PER_CLIENT = 2000
ANSWERS_WANTED = 50
NEW_ANSWERS_WANTED = 10


def write_app(folder: Path, version: str) -> None:
    (folder / "hup_app.py").write_text(APP.format(version=version))


@contextmanager
def server(folder: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # no stale .pyc after the change
    with (folder / "server.log").open("w") as log:  # the server's stderr: its log
        proc = subprocess.Popen(
            [sys.executable, "-m", "wsgi_simple_server", "hup_app", "--no-access-log", *args],
            cwd=folder,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    try:
        assert proc.stdout is not None
        yield proc, proc.stdout.readline()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.communicate()


class Client(threading.Thread):
    """Sends GET / until it has had ANSWERS_WANTED answers, NEW_ANSWERS_WANTED of them
    of version "v2".

    With *keep_alive* it reuses one connection, and a request that fails on a reused
    connection before any byte of a response is sent again once on a new connection,
    as RFC 9112 section 9.3.1 lets a client do with an idempotent request when the
    server closes an idle persistent connection (as a graceful stop does). A request
    on a new connection is never sent again: its failure is a failure.
    """

    def __init__(self, port: int, keep_alive: bool) -> None:
        super().__init__()
        self.port = port
        self.keep_alive = keep_alive
        self.answers: list[str] = []
        self.failures: list[str] = []
        self.resent = 0

    def run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        new = 0
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if conn is not None and self.keep_alive:
                try:
                    self.answers.append(self.get(conn))
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    self.resent += 1
                    conn.close()
                    conn = None
            if conn is None or not self.keep_alive:
                if conn is not None:
                    conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
                try:
                    self.answers.append(self.get(conn))
                except Exception as exc:
                    self.failures.append(repr(exc))
                    conn.close()
                    conn = None
            if self.answers and self.answers[-1].startswith("v2"):
                new += 1
                if new >= NEW_ANSWERS_WANTED and len(self.answers) >= ANSWERS_WANTED:
                    break
        if conn is not None:
            conn.close()

    @staticmethod
    def get(conn: http.client.HTTPConnection) -> str:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode()
        if response.status != 200:
            raise AssertionError(f"{response.status} {body}")
        return body


def test_sighup_under_load_restarts_in_place_and_loses_no_request(tmp_path: Path) -> None:
    write_app(tmp_path, "v1")
    sock_path = tmp_path / "s.sock"
    with server(tmp_path, "--bind", "127.0.0.1:0", "--uds", str(sock_path)) as (proc, line):
        assert line.startswith("Serving HTTP on 127.0.0.1 port "), line
        port = int(line.split()[5].rstrip(","))
        clients = [Client(port, keep_alive=k) for k in (True, True, False, False)]
        for client in clients:
            client.start()
        deadline = time.monotonic() + 20  # the load runs before the signal comes
        while min(len(client.answers) for client in clients) < 20:
            assert time.monotonic() < deadline, "the clients got no answers"
            time.sleep(0.005)
        # A request in flight when the signal comes: the old code finishes it.
        started = tmp_path / "slow-started"
        slow: list[str] = []
        slow_thread = threading.Thread(
            target=lambda: slow.append(
                httpx.get(f"http://127.0.0.1:{port}/slow?{started}", timeout=20).text
            )
        )
        slow_thread.start()
        deadline = time.monotonic() + 10
        while not started.exists():
            assert time.monotonic() < deadline, "the slow request never started"
            time.sleep(0.005)
        write_app(tmp_path, "v2")
        proc.send_signal(signal.SIGHUP)
        slow_thread.join(20)
        for client in clients:
            client.join(60)
            assert not client.is_alive()
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock_path)), timeout=5) as c:
            over_unix = c.get("http://x/").text
        assert proc.poll() is None  # still running after the restart
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    answers = [a for client in clients for a in client.answers]
    assert [f for client in clients for f in client.failures] == []
    # A keep-alive client sends again at most once: the request that met its idle
    # connection closed by the stop.
    assert all(client.resent <= 1 for client in clients)
    assert len(answers) >= 200
    assert slow == [f"v1 {proc.pid}"]
    assert {a.split()[1] for a in answers} == {str(proc.pid)}  # exec keeps the pid
    assert {a.split()[0] for a in answers} == {"v1", "v2"}
    for client in clients:  # the old code, then the new, never back
        versions = [a.split()[0] for a in client.answers]
        assert versions == sorted(versions)
        assert versions[-1] == "v2"
    assert over_unix == f"v2 {proc.pid}"
    log = (tmp_path / "server.log").read_text()
    assert "[INFO] SIGHUP: restarting once the requests in flight are done (10 s at most)" in log
    assert "[INFO] restarting: " in log
    assert "[INFO] using the 2 listening socket(s) passed in LISTEN_FDS" in log
    assert not sock_path.exists()  # the restarted server still removes its socket file


# -- what the graceful stop does with new connections -----------------------------------


def hello(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
    start_response("200 OK", [("Content-Length", "5")])
    return [b"Hello"]


def test_a_connection_accepted_just_before_the_stop_still_gets_its_answer(kit: Any) -> None:
    """A client sends its request right after connecting; when the stop begins in
    between, the request is served (with Connection: close), not cut off."""
    server = make_server("127.0.0.1", 0, hello, config=kit.QUIET)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with kit.connect(server) as sock:
            kit.wait_for(lambda: server._engine is not None and server._engine.conns)
            stopper = threading.Thread(target=server.shutdown)
            stopper.start()
            kit.wait_for(lambda: server._engine is None or server._engine.stopping)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            response = kit.Reader(sock).response()
            assert (response.status, response.body) == (200, b"Hello")
            assert response.header("Connection") == "close"
            stopper.join(10)
    finally:
        server.request_shutdown()  # if the test failed before the stop
        thread.join(10)
        server.server_close()


def test_an_idle_connection_does_not_hold_the_stop_up(kit: Any) -> None:
    """One that has sent nothing for a second after its accept is closed at the stop
    (the stop returns; the timeout here is ten seconds)."""
    server = make_server("127.0.0.1", 0, hello, config=kit.QUIET.replace(shutdown_timeout_s=10))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with kit.connect(server, timeout=20) as idle:
            kit.wait_for(lambda: server._engine is not None and server._engine.conns)
            server.shutdown()  # returns once the idle connection is closed
            assert kit.read_all(idle) == b""
    finally:
        server.request_shutdown()  # if the test failed before the stop
        thread.join(10)
        server.server_close()
    assert not thread.is_alive()


def test_the_listen_queue_is_left_to_the_next_server(kit: Any) -> None:
    """Clients that connect while the server stops wait in the listen queue; a server
    made afterwards on the same socket (what the restart does) answers them."""
    server = make_server("127.0.0.1", 0, hello, config=kit.QUIET)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    server.shutdown()
    thread.join(10)
    queued = [kit.connect(server) for _ in range(5)]  # the socket still listens
    try:
        for sock in queued:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        assert [kit.read_all(sock).endswith(b"Hello") for sock in queued] == [True] * 5
    finally:
        for sock in queued:
            sock.close()
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_a_sighup_while_the_restarted_program_starts_is_not_fatal(tmp_path: Path) -> None:
    """A second reload asked for while the new program imports (systemctl reload twice)
    waits for the new program's handler instead of killing it (SIGHUP's default
    action): the server restarts once more and goes on serving."""
    write_app(tmp_path, "v1")
    log = tmp_path / "server.log"
    with server(tmp_path, "--bind", "127.0.0.1:0") as (proc, line):
        port = int(line.split()[5])
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text == f"v1 {proc.pid}"
        write_app(tmp_path, "v2")
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "[INFO] restarting: " not in log.read_text():  # the old program is about to exec
            assert time.monotonic() < deadline
            time.sleep(0.001)
        proc.send_signal(signal.SIGHUP)  # the new one is starting: not its handler yet
        deadline = time.monotonic() + 20
        while log.read_text().count("passed in LISTEN_FDS") < 2:  # restarted twice
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text == f"v2 {proc.pid}"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def test_a_slow_request_does_not_hold_up_the_others_during_the_stop(kit: Any) -> None:
    """While a request that takes seconds is finished, the leader's lead still passes
    on: another connection's request, arriving during the stop, is answered meanwhile
    (and not left unread past its first-request grace, then cut)."""
    slow_started = threading.Event()

    def app(environ: dict[str, Any], start_response: Callable[..., object]) -> list[bytes]:
        if environ["PATH_INFO"] == "/slow":
            slow_started.set()
            time.sleep(3)
        start_response("200 OK", [("Content-Length", "5")])
        return [b"Hello"]

    config = kit.QUIET.replace(threads=2, shutdown_timeout_s=10.0)
    server = make_server("127.0.0.1", 0, app, config=config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with kit.connect(server, timeout=10) as slow, kit.connect(server, timeout=10) as other:
            slow.sendall(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            assert slow_started.wait(5)
            kit.wait_for(lambda: server._engine is not None and len(server._engine.conns) == 2)
            stopper = threading.Thread(target=server.shutdown)
            stopper.start()
            kit.wait_for(lambda: server._engine is None or server._engine.stopping)
            other.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            response = kit.Reader(other).response()
            assert (response.status, response.body) == (200, b"Hello")
            assert slow_started.is_set()
            assert kit.Reader(slow).response().body == b"Hello"
            stopper.join(10)
    finally:
        server.request_shutdown()
        thread.join(10)
        server.server_close()
