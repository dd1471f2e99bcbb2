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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

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
MAX_REQUESTS_PER_CLIENT = 2000  # a bound: each client stops after 10 answers of the new code
NEW_ANSWERS_WANTED = 10


def write_app(folder: Path, version: str) -> None:
    (folder / "hup_app.py").write_text(APP.format(version=version))


@contextmanager
def server(folder: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # no stale .pyc after the change
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgi_simple_server", "hup_app", "--no-access-log", *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
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
    """Sends GET / until it has had NEW_ANSWERS_WANTED answers of version "v2".

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
                if new >= NEW_ANSWERS_WANTED:
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
    assert not sock_path.exists()  # the restarted server still removes its socket file
