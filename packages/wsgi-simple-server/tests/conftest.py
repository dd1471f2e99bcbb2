"""Helpers for the server's tests: a server on loopback in a thread, raw HTTP over sockets.

Every server that ``running`` starts runs under one *variant* of the engine: its
selector, and whether ``sendmsg``/``sendfile`` are used. The whole package runs under
the ``default`` variant (or the one the environment variable
``WSGI_SIMPLE_SERVER_TEST_VARIANT`` names); the modules in ``EVERY_VARIANT_MODULES``
run once under each variant (test ids end in ``[poll]``, ``[select]``...).
"""

from __future__ import annotations

import io
import os
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from live_server import address, connect, read_all, roundtrip
from live_server import running as run_in_thread
from wsgi_simple_server import ServerConfig, WSGIServer, make_server

QUIET = ServerConfig(access_log=False, threads=4, shutdown_timeout_s=2.0)

# The settings each variant applies to the servers that ``running`` starts.
VARIANTS: dict[str, dict[str, object]] = {
    "default": {},
    "poll": {"selector": "poll"},
    "select": {"selector": "select"},
    "plain-send": {"use_sendmsg": False, "use_sendfile": False},
}
# A representative set of functional modules (about 50 tests, two seconds a variant).
EVERY_VARIANT_MODULES = frozenset(
    {
        "test_simple_server_http11",
        "test_simple_server_clients",
        "test_simple_server_engine_linger",
        "test_simple_server_engine_pool",
    }
)
DEFAULT_VARIANT = os.environ.get("WSGI_SIMPLE_SERVER_TEST_VARIANT", "default")
_active = {"settings": VARIANTS[DEFAULT_VARIANT]}  # what the current test's variant sets


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    module = metafunc.module.__name__.rpartition(".")[2]
    if "server_variant" in metafunc.fixturenames and module in EVERY_VARIANT_MODULES:
        metafunc.parametrize("server_variant", list(VARIANTS), indirect=True)


@pytest.fixture(autouse=True)
def server_variant(request: pytest.FixtureRequest) -> Iterator[str]:
    """The variant of the engine the servers of this test run under."""
    name: str = getattr(request, "param", DEFAULT_VARIANT)
    _active["settings"] = VARIANTS[name]
    try:
        yield name
    finally:
        _active["settings"] = VARIANTS[DEFAULT_VARIANT]


def hello_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello"]


def echo_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answer with the request body, and the path in X-Path."""
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Path", environ["PATH_INFO"])])
    return [body]


@contextmanager
def running(
    app: Any,
    config: ServerConfig | None = QUIET,
    host: str = "127.0.0.1",
    server_class: type[WSGIServer] = WSGIServer,
    handler_class: Any = None,
) -> Iterator[WSGIServer]:
    """Serve *app* on an ephemeral port for the duration of the block."""
    if settings := _active["settings"]:
        config = (config or ServerConfig()).replace(**settings)
    kwargs: dict[str, Any] = {"server_class": server_class}
    if handler_class is not None:
        kwargs["handler_class"] = handler_class
    with run_in_thread(make_server(host, 0, app, config=config, **kwargs)) as server:
        yield server


def wait_for(predicate: Callable[[], object], timeout_s: float = 5.0) -> None:
    """Wait until *predicate()* is true (a state of the server), *timeout_s* at most."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout_s} s: {predicate}")
        time.sleep(0.002)


class Response:
    def __init__(self, status_line: bytes, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status_line = status_line
        self.status = int(status_line.split()[1])
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


class Reader:
    """Reads HTTP/1.x responses one after the other from a socket (no read-ahead loss)."""

    def __init__(self, sock: socket.socket) -> None:
        self.file = sock.makefile("rb")

    def response(self, head_only: bool = False) -> Response:
        status_line = self.file.readline()
        if not status_line:
            raise ConnectionError("connection closed before a response")
        headers = []
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("iso-8859-1").partition(":")
            headers.append((name, value.strip()))
        response = Response(status_line.rstrip(b"\r\n"), headers, b"")
        if head_only or response.status in (204, 304) or response.status < 200:
            return response
        if response.header("Transfer-Encoding") == "chunked":
            body = io.BytesIO()
            while True:
                size = int(self.file.readline().split(b";")[0], 16)
                if size == 0:
                    while self.file.readline() not in (b"\r\n", b""):
                        pass
                    break
                body.write(self.file.read(size))
                self.file.readline()
            response.body = body.getvalue()
        elif (length := response.header("Content-Length")) is not None:
            response.body = self.file.read(int(length))
        else:
            response.body = self.file.read()
        return response

    def at_eof(self) -> bool:
        return self.file.read(1) == b""


class Kit:
    """The helpers above, handed to tests by the ``kit`` fixture."""

    QUIET = QUIET
    hello_app = staticmethod(hello_app)
    echo_app = staticmethod(echo_app)
    running = staticmethod(running)
    address = staticmethod(address)
    connect = staticmethod(connect)
    roundtrip = staticmethod(roundtrip)
    read_all = staticmethod(read_all)
    wait_for = staticmethod(wait_for)
    Reader = Reader


@pytest.fixture
def kit() -> type[Kit]:
    return Kit
