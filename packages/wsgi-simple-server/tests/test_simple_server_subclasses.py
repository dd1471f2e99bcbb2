"""Subclasses of WSGIRequestHandler and WSGIServer keep the HTTP/1.1 engine.

Overriding a request-level hook (``log_message``, ``get_environ``, ...) or mixing in
``socketserver.ThreadingMixIn`` must not drop the server to the standard library's
one-request-at-a-time loop: the engine calls the hooks as the standard library does.
Only overrides that take the socket itself fall back, and the server says why.
"""

from __future__ import annotations

import io
import logging
import socket
import socketserver
import threading
from collections.abc import Iterable
from typing import Any

import pytest
from wsgi_simple_server import ServerConfig, WSGIRequestHandler, WSGIServer

LOUD = ServerConfig(threads=4, shutdown_timeout_s=2.0)


class SilentHandler(WSGIRequestHandler):
    """The classic way to quiet the log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ExtraEnvironHandler(WSGIRequestHandler):
    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["myapp.request_class"] = type(self).__name__
        env["myapp.header_count"] = str(len(self.headers))
        return env


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


def environ_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    text = (
        f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} "
        f"{environ.get('myapp.request_class')} {environ.get('myapp.header_count')} "
        f"{environ.get('HTTP_X_TEST')} {environ['wsgi.multithread']} {len(body)}"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [text]


SUBCLASSES = [
    pytest.param(SilentHandler, WSGIServer, id="silent-handler"),
    pytest.param(ExtraEnvironHandler, WSGIServer, id="get-environ"),
    pytest.param(WSGIRequestHandler, ThreadingServer, id="threading-mixin"),
    pytest.param(SilentHandler, ThreadingServer, id="both"),
]


@pytest.mark.parametrize(("handler", "server_class"), SUBCLASSES)
def test_the_engine_serves_subclasses(
    handler: type, server_class: type[WSGIServer], kit: Any
) -> None:
    with kit.running(environ_app, server_class=server_class, handler_class=handler) as server:
        assert server.stdlib_path_reason() is None
        with kit.connect(server) as sock:
            reader = kit.Reader(sock)
            # Keep-alive and pipelining: three requests in one send.
            sock.sendall(
                b"GET /a HTTP/1.1\r\nHost: t\r\nX-Test: 1\r\n\r\n"
                b"HEAD /b HTTP/1.1\r\nHost: t\r\n\r\n"
                b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            )
            first = reader.response()
            head = reader.response(head_only=True)
            post = reader.response()
            # Expect: 100-continue on the same connection.
            sock.sendall(
                b"PUT /d HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
            )
            interim = sock.recv(25)
            assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
            sock.sendall(b"wxyz")
            put = reader.response()
    custom = "ExtraEnvironHandler 2" if handler is ExtraEnvironHandler else "None None"
    assert first.body == f"GET /a {custom} 1 True 0".encode()
    assert head.status == 200
    assert head.header("Content-Length") is not None
    assert post.body.endswith(b" 5")
    assert put.body.endswith(b" 4")


@pytest.mark.parametrize(("handler", "server_class"), SUBCLASSES)
def test_subclasses_serve_requests_at_the_same_time(
    handler: type, server_class: type[WSGIServer], kit: Any
) -> None:
    barrier = threading.Barrier(4, timeout=10)

    def together(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        barrier.wait()  # passes only if four requests run at once
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"together"]

    results: list[bytes] = []
    with kit.running(together, server_class=server_class, handler_class=handler) as server:

        def one() -> None:
            with kit.connect(server, timeout=15) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                results.append(kit.read_all(sock))

        threads = [threading.Thread(target=one) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert len(results) == 4
    assert all(r.startswith(b"HTTP/1.1 200 OK") and r.endswith(b"together") for r in results)


def test_a_silenced_log_stays_silent(capfd: pytest.CaptureFixture[str], kit: Any) -> None:
    with (
        kit.running(kit.echo_app, LOUD, handler_class=SilentHandler) as server,
        kit.connect(server) as sock,
    ):
        sock.sendall(
            b"GET /quiet HTTP/1.1\r\nHost: t\r\n\r\nGET /quiet HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        reader = kit.Reader(sock)
        reader.response()
        reader.response()
    assert "/quiet" not in capfd.readouterr().err


def test_log_hooks_get_the_stdlib_arguments(kit: Any) -> None:
    calls: list[tuple[str, Any]] = []

    class Recording(WSGIRequestHandler):
        def address_string(self) -> str:
            return "client-name"

        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            calls.append(("log_request", (code, size, self.requestline, self.command)))
            super().log_request(code, size)

        def log_message(self, format: str, *args: Any) -> None:
            calls.append(("log_message", (self.address_string(), format % args)))

    with (
        kit.running(kit.echo_app, LOUD, handler_class=Recording) as server,
        kit.connect(server) as sock,
    ):
        sock.sendall(b"POST /x?y=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        kit.Reader(sock).response()
    assert calls[0] == ("log_request", ("200", 3, "POST /x?y=1 HTTP/1.1", "POST"))
    assert calls[1] == ("log_message", ("client-name", '"POST /x?y=1 HTTP/1.1" 200 3'))


def test_get_stderr_is_wsgi_errors(kit: Any) -> None:
    stream = io.StringIO()

    class OwnErrors(WSGIRequestHandler):
        def get_stderr(self) -> Any:
            return stream

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["wsgi.errors"].write("from the app\n")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with kit.running(app, handler_class=OwnErrors) as server, kit.connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert kit.Reader(sock).response().body == b"ok"
    assert stream.getvalue() == "from the app\n"


def test_an_overridden_send_error_renders_the_parse_errors(kit: Any) -> None:
    class Branded(WSGIRequestHandler):
        def version_string(self) -> str:
            return "Branded/1.0"

    with kit.running(kit.echo_app, handler_class=Branded) as server, kit.connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")  # no Host: 400
        raw = kit.read_all(sock)
    assert raw.startswith(b"HTTP/1.1 400 ")
    assert b"\r\nServer: Branded/1.0\r\n" in raw


def test_verify_request_is_asked_per_connection(kit: Any) -> None:
    asked: list[Any] = []

    class Picky(WSGIServer):
        def verify_request(self, request: Any, client_address: Any) -> bool:
            asked.append(client_address)
            return len(asked) != 2  # refuse the second connection

    with kit.running(kit.echo_app, server_class=Picky) as server:
        with kit.connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
            reader = kit.Reader(sock)
            assert reader.response().status == 200
            assert reader.response().status == 200  # asked once for the connection
        with kit.connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert kit.read_all(sock) == b""
        with kit.connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert kit.read_all(sock).startswith(b"HTTP/1.1 200 ")
    assert len(asked) == 3


def test_a_socket_level_override_falls_back_and_says_why(
    caplog: pytest.LogCaptureFixture, kit: Any
) -> None:
    class OwnHandle(WSGIRequestHandler):
        def handle(self) -> None:
            super().handle()

    with (
        caplog.at_level(logging.WARNING, "wsgi_simple_server"),
        kit.running(kit.echo_app, handler_class=OwnHandle) as server,
    ):
        reason = server.stdlib_path_reason()
        assert reason is not None
        assert reason.endswith(".OwnHandle.handle is overridden")
        with kit.connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            raw = kit.read_all(sock)
        assert raw.startswith(b"HTTP/1.0 200 OK\r\n")  # the stdlib's bytes
    messages = [r.getMessage() for r in caplog.records if r.name == "wsgi_simple_server"]
    assert len(messages) == 1
    assert "OwnHandle.handle is overridden" in messages[0]


def test_class_attributes_of_a_server_subclass_are_honoured(kit: Any) -> None:
    class Six(WSGIServer):
        address_family = socket.AF_INET6
        request_queue_size = 7
        allow_reuse_address = True

    with kit.running(kit.echo_app, host="::1", server_class=Six) as server:
        assert server.socket.family == socket.AF_INET6
        assert server.stdlib_path_reason() is None
        with socket.create_connection(("::1", server.server_port), timeout=5) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi")
            assert kit.Reader(sock).response().body == b"hi"
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert kit.Reader(sock).response().status == 200  # kept alive


def test_get_environ_may_use_the_connection_as_the_stdlib_gives_it(kit: Any) -> None:
    class Peer(WSGIRequestHandler):
        def get_environ(self) -> dict[str, Any]:
            env = super().get_environ()
            env["myapp.peer"] = repr(self.connection.getpeername()[0])
            env["myapp.same"] = str(self.request is self.connection)
            return env

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{environ['myapp.peer']} {environ['myapp.same']}".encode()]

    with kit.running(app, handler_class=Peer) as server, kit.connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert kit.Reader(sock).response().body == b"'127.0.0.1' True"


def test_a_failing_get_environ_gets_the_error_page_and_the_server_goes_on(kit: Any) -> None:
    class Broken(WSGIRequestHandler):
        def get_environ(self) -> dict[str, Any]:
            if self.path == "/broken":
                raise RuntimeError("get_environ failed")
            return super().get_environ()

    config = kit.QUIET.replace(threads=1)
    with kit.running(kit.echo_app, config, handler_class=Broken) as server:
        for _ in range(3):  # more failures than workers
            with kit.connect(server) as sock:
                sock.sendall(b"GET /broken HTTP/1.1\r\nHost: t\r\n\r\n")
                assert kit.Reader(sock).response().status == 500
        with kit.connect(server) as sock:
            sock.sendall(b"POST /fine HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
            assert kit.Reader(sock).response().body == b"ok"


def test_a_handler_with_its_own_init_is_served_the_stdlib_way(kit: Any) -> None:
    lines: list[str] = []

    class Prefixed(WSGIRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.prefix = "myapp"
            super().__init__(*args, **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            lines.append(f"{self.prefix} {format % args}")

    with kit.running(kit.echo_app, handler_class=Prefixed) as server:
        reason = server.stdlib_path_reason()
        assert reason is not None
        assert reason.endswith("Prefixed.__init__ is overridden")
        with kit.connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert kit.read_all(sock).startswith(b"HTTP/1.0 200 OK\r\n")
    assert lines == ['myapp "GET / HTTP/1.0" 200 0']


def test_a_server_with_its_own_get_request_reads_requests_as_the_engine(kit: Any) -> None:
    accepted: list[Any] = []

    class Counting(WSGIServer):
        def get_request(self) -> tuple[socket.socket, Any]:
            request = super().get_request()
            accepted.append(request[1])
            return request

    config = kit.QUIET.replace(header_timeout_s=0.3)
    with kit.running(kit.echo_app, config, server_class=Counting) as server:
        assert server.stdlib_path_reason().endswith("Counting.get_request is overridden")
        with kit.connect(server, timeout=10) as stalled:
            stalled.sendall(b"POST /c HTTP/1.1\r\n")  # and nothing more: closed in time
            chunked = (
                b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            )
            response = kit.roundtrip(server, chunked)
            assert kit.read_all(stalled) == b""
        assert response.startswith(b"HTTP/1.0 200 OK\r\n")
        assert response.endswith(b"\r\n\r\nabcde")  # not an empty body
        absolute = b"GET http://h.example/abs HTTP/1.1\r\nHost: t\r\n\r\n"
        assert b"X-Path: /abs\r\n" in kit.roundtrip(server, absolute)
    assert len(accepted) == 3


@pytest.mark.parametrize("own_timeout", [None, 7.0])
def test_the_stdlib_path_times_the_body_by_the_config_or_the_handlers_timeout(
    kit: Any, own_timeout: float | None
) -> None:
    seen: list[float | None] = []

    class Timed(WSGIRequestHandler):
        timeout = own_timeout

        def setup(self) -> None:
            super().setup()

        def get_environ(self) -> dict[str, Any]:
            seen.append(self.connection.gettimeout())
            return super().get_environ()

    config = kit.QUIET.replace(header_timeout_s=3.0, body_timeout_s=20.0, send_timeout_s=25.0)
    with kit.running(kit.echo_app, config, handler_class=Timed) as server:
        assert kit.roundtrip(server, b"GET / HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.0 200")
    assert seen == [own_timeout or 25.0]


def test_make_server_returns_the_server_class_it_is_given(kit: Any) -> None:
    class Counting(WSGIServer):
        counter: int = 0

    from wsgi_simple_server import make_server  # noqa: PLC0415 - the typed call under test

    server = make_server("127.0.0.1", 0, kit.hello_app, Counting)
    try:
        count: int = server.counter  # mypy --strict checks that the type is Counting
        assert type(server) is Counting
        assert count == 0
        by_keyword = make_server("127.0.0.1", 0, kit.hello_app, server_class=Counting)
        by_keyword.server_close()
        assert by_keyword.counter == 0
    finally:
        server.server_close()
