"""Libraries written for ``wsgiref.simple_server``, run with their imports swapped.

As a user swapping imports would, ``sys.modules`` maps ``wsgiref.simple_server``,
``wsgiref.util`` and the rest to this project's modules before the library is
imported (and is restored afterwards). Each library must work as with the standard
library, its log silencing included, AND get what the server adds: a connection
reused for a second request, requests served at the same time, chunked uploads and no
body for HEAD.
"""

from __future__ import annotations

import importlib
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wsgi_handlers
import wsgi_headers
import wsgi_simple_server
import wsgi_util
import wsgi_validate

_ALIASES = {
    "wsgiref.simple_server": wsgi_simple_server,
    "wsgiref.util": wsgi_util,
    "wsgiref.headers": wsgi_headers,
    "wsgiref.handlers": wsgi_handlers,
    "wsgiref.validate": wsgi_validate,
}


@pytest.fixture
def swapped() -> Iterator[Callable[[str], Any]]:
    """Alias ``wsgiref.*`` to the project; return an importer of fresh library modules."""
    saved = {name: sys.modules.get(name) for name in _ALIASES}
    wsgiref = importlib.import_module("wsgiref")
    saved_attrs = {name: getattr(wsgiref, name.split(".")[1], None) for name in _ALIASES}
    imported: list[str] = []
    for name, module in _ALIASES.items():
        sys.modules[name] = module
        setattr(wsgiref, name.split(".")[1], module)

    def fresh(module_name: str) -> Any:
        for name in [n for n in sys.modules if n == module_name or n.startswith(module_name + ".")]:
            imported.append(name)
            del sys.modules[name]
        imported.append(module_name)
        return importlib.import_module(module_name)

    try:
        yield fresh
    finally:
        for name in imported:
            sys.modules.pop(name, None)
        for name, original in saved.items():
            if original is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = original
        for name, attr in saved_attrs.items():
            if attr is not None:
                setattr(wsgiref, name.split(".")[1], attr)


# -- a small raw HTTP/1.1 client -----------------------------------------------------------


_OPEN: list[Client] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    # A failed assertion must not leave sockets open for later tests to trip on.
    yield
    while _OPEN:
        _OPEN.pop().close()


class Client:
    """One keep-alive connection; reads responses one after the other."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.file = self.sock.makefile("rb")
        _OPEN.append(self)

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def request(
        self, method: str, path: str, body: bytes | None = None, *, chunked: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        payload = b""
        if chunked and body is not None:
            head += "Transfer-Encoding: chunked\r\n"
            payload = b"".join(
                b"%x\r\n%b\r\n" % (len(part), part) for part in (body[:3], body[3:]) if part
            )
            payload += b"0\r\n\r\n"
        elif body is not None:
            head += f"Content-Length: {len(body)}\r\n"
            payload = body
        self.sock.sendall(head.encode() + b"\r\n" + payload)
        return self.response(method)

    def response(self, method: str) -> tuple[int, dict[str, str], bytes]:
        status_line = self.file.readline()
        assert status_line, "the connection was closed instead of answering"
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("iso-8859-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if method == "HEAD" or status in {204, 304}:
            return status, headers, b""
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while (size := int(self.file.readline().split(b";")[0], 16)) > 0:
                body += self.file.read(size)
                self.file.readline()
            self.file.readline()
            return status, headers, body
        if "content-length" in headers:
            return status, headers, self.file.read(int(headers["content-length"]))
        return status, headers, self.file.read()


def concurrently(port: int, paths: list[str]) -> list[int]:
    """GET every path at once, each on its own connection; return the statuses."""
    statuses: list[int] = [0] * len(paths)

    def one(index: int, path: str) -> None:
        client = Client(port)
        try:
            statuses[index] = client.request("GET", path)[0]
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(paths)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def wait_for_port(get_port: Callable[[], int | None]) -> int:
    for _ in range(500):
        port = get_port()
        if port:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                pass
            else:
                return port
        threading.Event().wait(0.02)
    raise AssertionError("the server never started")


# -- prometheus_client ---------------------------------------------------------------------


def test_prometheus_start_wsgi_server(
    swapped: Callable[[str], Any], capfd: pytest.CaptureFixture[str]
) -> None:
    exposition = swapped("prometheus_client.exposition")
    registry_module = importlib.import_module("prometheus_client.registry")
    metrics_core = importlib.import_module("prometheus_client.metrics_core")
    assert exposition.WSGIServer is wsgi_simple_server.WSGIServer

    barrier = threading.Barrier(3, timeout=10)

    class Waiting:
        """A collector that waits for two other scrapes: only concurrency passes it."""

        waiting = False

        def collect(self) -> Iterator[Any]:
            if self.waiting:
                barrier.wait()
            yield metrics_core.GaugeMetricFamily("probe", "a probe", value=1)

    registry = registry_module.CollectorRegistry()
    collector = Waiting()
    registry.register(collector)
    httpd, thread = exposition.start_wsgi_server(0, addr="127.0.0.1", registry=registry)
    try:
        port = httpd.server_port
        client = Client(port)
        status, _, body = client.request("GET", "/metrics")
        assert status == 200
        assert b"probe 1.0" in body
        # Keep-alive: the same connection carries a second request.
        status, _, again = client.request("GET", "/metrics")
        assert (status, again) == (200, body)
        # HEAD (which the exporter refuses, with a body the standard library would
        # send): no body, and the connection stays in sync.
        status, head_headers, head_body = client.request("HEAD", "/metrics")
        assert (status, head_body) == (405, b"")
        assert int(head_headers["content-length"]) > 0
        assert client.request("GET", "/metrics")[0] == 200
        # A chunked upload (refused: the exporter allows GET and HEAD only) leaves the
        # connection in sync.
        status, _, _ = client.request("POST", "/metrics", b"hello world", chunked=True)
        assert status == 405
        status, _, after_upload = client.request("GET", "/metrics")
        assert status == 200
        assert b"probe 1.0" in after_upload
        client.close()
        # Three scrapes at once pass a barrier of three.
        collector.waiting = True
        assert concurrently(port, ["/metrics"] * 3) == [200, 200, 200]
        collector.waiting = False
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
    # _SilentHandler still silences the access log.
    assert "GET /metrics" not in capfd.readouterr().err


# -- bottle --------------------------------------------------------------------------------


def test_bottle_wsgiref_adapter(
    swapped: Callable[[str], Any], capfd: pytest.CaptureFixture[str]
) -> None:
    bottle = swapped("bottle")
    app = bottle.Bottle()
    barrier = threading.Barrier(3, timeout=10)

    def hello() -> str:
        return "Hello"

    def echo() -> bytes:
        return bytes(bottle.request.body.read())

    def together() -> str:
        barrier.wait()
        return "together"

    app.route("/hello")(hello)
    app.route("/echo", method="POST")(echo)
    app.route("/together")(together)

    server = bottle.WSGIRefServer(host="127.0.0.1", port=0, quiet=True)
    thread = threading.Thread(
        target=bottle.run, kwargs={"app": app, "server": server, "quiet": True}
    )
    thread.start()
    try:
        port = wait_for_port(lambda: getattr(server, "srv", None) and server.srv.server_port)
        assert isinstance(server.srv, wsgi_simple_server.WSGIServer)
        client = Client(port)
        assert client.request("GET", "/hello")[::2] == (200, b"Hello")
        assert client.request("GET", "/hello")[::2] == (200, b"Hello")  # same connection
        status, _, body = client.request("HEAD", "/hello")
        assert (status, body) == (200, b"")
        assert client.request("POST", "/echo", b"chunked body", chunked=True)[::2] == (
            200,
            b"chunked body",
        )
        assert client.request("GET", "/hello")[::2] == (200, b"Hello")
        client.close()
        assert concurrently(port, ["/together"] * 3) == [200, 200, 200]
    finally:
        srv = getattr(server, "srv", None)
        if srv is not None:
            srv.shutdown()
        thread.join(10)
        if srv is not None:
            srv.server_close()
    # quiet=True: bottle's FixedHandler.log_request logs nothing.
    assert "GET /hello" not in capfd.readouterr().err


def test_bottle_access_log_goes_through_its_handler(
    swapped: Callable[[str], Any], capfd: pytest.CaptureFixture[str]
) -> None:
    bottle = swapped("bottle")
    app = bottle.Bottle()
    app.route("/hi")(lambda: "hi")
    server = bottle.WSGIRefServer(host="127.0.0.1", port=0)  # not quiet: it logs
    thread = threading.Thread(
        target=bottle.run, kwargs={"app": app, "server": server, "quiet": False}
    )
    thread.start()
    try:
        port = wait_for_port(lambda: getattr(server, "srv", None) and server.srv.server_port)
        client = Client(port)
        assert client.request("GET", "/hi")[::2] == (200, b"hi")
        client.close()
    finally:
        server.srv.shutdown()
        thread.join(10)
        server.srv.server_close()
    # FixedHandler.address_string gives the bare address; the line is the stdlib's.
    err = capfd.readouterr().err
    assert "127.0.0.1 - - [" in err
    assert '"GET /hi HTTP/1.1" 200 2' in err


# -- mkdocs serve --------------------------------------------------------------------------


def test_mkdocs_live_reload_server(
    swapped: Callable[[str], Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    livereload = swapped("mkdocs.livereload")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html><body>home</body></html>")
    (site / "page.txt").write_text("a page\n")
    server = livereload.LiveReloadServer(
        builder=lambda: None, host="127.0.0.1", port=0, root=str(site)
    )
    server.poll_response_timeout = 3
    assert wsgi_simple_server.WSGIServer in type(server).__mro__
    serving = threading.Thread(target=server.serve)
    with caplog.at_level(logging.DEBUG, "mkdocs.livereload"):
        serving.start()
        try:
            port = wait_for_port(
                lambda: server.server_port if server.serve_thread.is_alive() else None
            )
            client = Client(port)
            status, _, body = client.request("GET", "/page.txt")
            assert (status, body) == (200, b"a page\n")
            status, _, body = client.request("GET", "/")
            assert status == 200
            assert b"home" in body
            status, _, body = client.request("HEAD", "/page.txt")
            assert (status, body) == (200, b"")
            status, _, body = client.request("POST", "/page.txt", b"ignored", chunked=True)
            assert status in {200, 405}
            status, _, body = client.request("GET", "/page.txt")
            assert (status, body) == (200, b"a page\n")  # still in sync
            client.close()
            # A long poll for a reload holds its request; other requests are served
            # meanwhile (the standard library's serial loop would wait for it).
            epoch = server._visible_epoch
            poll = Client(port)
            poll.sock.sendall(f"GET /livereload/{epoch}/1 HTTP/1.1\r\nHost: h\r\n\r\n".encode())
            other = Client(port)
            assert other.request("GET", "/page.txt")[::2] == (200, b"a page\n")
            other.close()
            assert poll.response("GET")[0] == 200  # answered when its timeout ran out
            poll.close()
        finally:
            server.shutdown()
            serving.join(10)
            server.serve_thread.join(10)
    # mkdocs' _Handler.log_request: a 200 is logged at DEBUG on its own logger.
    lines = [r.getMessage() for r in caplog.records if r.name == "mkdocs.livereload"]
    assert any('"GET /page.txt HTTP/1.1" code 200' in line for line in lines)
