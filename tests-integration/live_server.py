"""The live server of the tests: an ephemeral loopback port, stopped on exit (the
package tests use ``running`` too: ``tests-integration`` is on their path)."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from wsgi_simple_server import ServerConfig, WSGIServer, make_server
from wsgi_util import request_uri
from wsgi_util.types import StartResponse, WSGIEnvironment

_S = TypeVar("_S", bound=WSGIServer)

# What a proxy in front changes in the environ (forwarding_app answers with them).
FORWARDING_KEYS = (
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "wsgi.url_scheme",
    "HTTPS",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
)


def forwarding_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answer with the ``FORWARDING_KEYS`` of the environ and the request URI, as JSON."""
    seen: dict[str, Any] = {key: environ.get(key) for key in FORWARDING_KEYS}
    seen["uri"] = request_uri(environ)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


@contextlib.contextmanager
def running(server: _S) -> Iterator[_S]:
    """Run *server*'s ``serve_forever`` in a thread for the duration of the block, then
    shut it down, close it and check the thread is gone (10 s at most)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive(), "serve_forever did not return"


def address(server: WSGIServer) -> tuple[str, int]:
    """The host and port *server* listens on."""
    host, port = server.server_address[:2]
    return str(host), int(port)


def connect(server: WSGIServer, timeout: float = 5.0) -> socket.socket:
    """A new client connection to *server*."""
    return socket.create_connection(address(server), timeout=timeout)


def roundtrip(server: WSGIServer, data: bytes, timeout: float = 5.0) -> bytes:
    """Send *data* on a new connection and return all that comes back until EOF."""
    with connect(server, timeout) as sock:
        sock.sendall(data)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    """What *sock* receives until EOF (or a reset)."""
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


@contextlib.contextmanager
def serving(app: Any, config: ServerConfig) -> Iterator[WSGIServer]:
    """Serve *app* on 127.0.0.1 with *config* in a thread for the duration of the block."""
    with running(make_server("127.0.0.1", 0, app, config=config)) as live:
        yield live


class Watched:
    """A server process started by a test, its output lines (stdout and stderr) collected
    as they come, so that a test waits for what it logs rather than sleeping."""

    def __init__(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: dict[str, str],
        pass_fds: tuple[int, ...] = (),
    ) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            pass_fds=pass_fds,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = 30.0) -> list[re.Match[str]]:
        """Wait until *count* output lines match *pattern*; return their matches (raise
        ``AssertionError`` with the output after *timeout* seconds or at its end)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [m for line in self.lines if (m := regex.search(line))]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    output = "\n".join(self.lines)
                    raise AssertionError(f"{count} x {pattern!r} not printed:\n{output}")
                self._changed.wait(remaining)

    def stop(self, signum: int | None = signal.SIGTERM) -> int:
        """Send *signum* (None: none, it is ending), wait for the exit status (30 s, then
        kill it) and return it."""
        if signum is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)
        finally:
            self._reader.join(10)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
