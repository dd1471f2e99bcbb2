"""Drop-in for wsgiref.simple_server: same names, same bytes for HTTP/1.0, same log lines."""

from __future__ import annotations

import re
import socket
import sys
import threading
import wsgiref.simple_server as ref
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from io import BufferedReader, BytesIO, StringIO
from socketserver import BaseServer
from typing import Any

import pytest
import wsgi_simple_server as ours
from wsgi_simple_server import WSGIRequestHandler, WSGIServer, make_server

_DATE = re.compile(rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n")
_LOG_DATE = re.compile(r"\[\d\d/[A-Z][a-z]{2}/\d{4} \d\d:\d\d:\d\d\]")


def address(server: WSGIServer) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


def hello_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Extra", "1")])
    return [b"Hello, world!"]


def served(module: Any, data: bytes, app: Any = hello_app) -> tuple[bytes, str]:
    """Serve one connection with *module*'s make_server; return (bytes, stderr)."""
    server = module.make_server("127.0.0.1", 0, app)
    old, sys.stderr = sys.stderr, StringIO()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with socket.create_connection(address(server), timeout=5) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        err, sys.stderr = sys.stderr.getvalue(), old
    return _DATE.sub(b"Date: X\r\n", b"".join(chunks)), _LOG_DATE.sub("[X]", err)


HTTP10_CASES = [
    b"GET / HTTP/1.0\r\n\r\n",
    b"GET /p%61th?x=1 HTTP/1.0\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
    b"POST /form HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
    b"GET /" + b"x" * 65537 + b" HTTP/1.0\r\n\r\n",
    b"GET / HTTP/1.0\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n",
    b"GET / HTTP/1.0\r\nX-Long: " + b"a" * 65537 + b"\r\n\r\n",
]


@pytest.mark.parametrize("data", HTTP10_CASES, ids=lambda d: repr(d[:30]))
def test_http10_exchange_is_byte_identical_to_the_stdlib(data: bytes) -> None:
    assert served(ours, data) == served(ref, data)


@pytest.mark.parametrize(
    ("data", "status_line"),
    [
        (b"GET / HTTP/1.x\r\n\r\n", b"HTTP/1.0 400 Bad request version ('HTTP/1.x')"),
        (b"GET / HTTP/2.0\r\n\r\n", b"HTTP/1.0 505 Invalid HTTP version (2.0)"),
        (b"PUT /\r\n\r\n", b"HTTP/1.0 400 Bad HTTP/0.9 request type ('PUT')"),
        (b"GET / HTTP/1.0 extra\r\n\r\n", b"HTTP/1.0 400 Bad request version ('extra')"),
    ],
)
def test_error_the_stdlib_sends_without_status_line_gets_one_with_the_same_page(
    data: bytes, status_line: bytes
) -> None:
    ours_out, ours_err = served(ours, data)
    ref_out, ref_err = served(ref, data)
    assert ours_out.startswith(status_line + b"\r\n")
    assert ours_out.endswith(ref_out)  # the stdlib sent the page alone
    assert ours_err == ref_err


def test_access_log_line_is_the_stdlibs() -> None:
    _, err = served(ours, b"GET / HTTP/1.0\r\n\r\n")
    assert err == '127.0.0.1 - - [X] "GET / HTTP/1.0" 200 13\n'


def test_app_error_gives_the_stdlib_500_page_and_traceback() -> None:
    def failing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise ValueError("broken")

    ours_out, ours_err = served(ours, b"GET / HTTP/1.0\r\n\r\n", failing)
    ref_out, _ = served(ref, b"GET / HTTP/1.0\r\n\r\n", failing)
    assert ours_out == ref_out
    assert "ValueError: broken" in ours_err
    assert ours_err.endswith('"GET / HTTP/1.0" 500 59\n')


def test_public_names_of_the_stdlib_module_are_all_here() -> None:
    for name in [
        *ref.__all__,
        "ServerHandler",
        "server_version",
        "sys_version",
        "software_version",
    ]:
        assert hasattr(ours, name), name
    assert ours.server_version == ref.server_version
    assert ours.sys_version == ref.sys_version
    assert ours.software_version == ref.software_version
    assert issubclass(WSGIRequestHandler, BaseHTTPRequestHandler)
    assert WSGIRequestHandler.server_version == "WSGIServer/0.2"


# -- the test doubles of CPython's own test_wsgiref keep working ----------------------


class MockServer(WSGIServer):
    """Non-socket HTTP server."""

    def __init__(self, server_address: Any, RequestHandlerClass: Any) -> None:  # noqa: N803
        BaseServer.__init__(self, server_address, RequestHandlerClass)
        self.server_bind()

    def server_bind(self) -> None:
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


class MockHandler(WSGIRequestHandler):
    """Non-socket HTTP handler."""

    def setup(self) -> None:
        self.connection = self.request
        self.rfile, self.wfile = self.connection

    def finish(self) -> None:
        pass


def run_amock(app: Any = hello_app, data: bytes = b"GET / HTTP/1.0\n\n") -> tuple[bytes, str]:
    server = make_server("", 80, app, MockServer, MockHandler)
    inp = BufferedReader(BytesIO(data))
    out = BytesIO()
    olderr = sys.stderr
    err = sys.stderr = StringIO()
    try:
        server.finish_request((inp, out), ("127.0.0.1", 8888))  # type: ignore[arg-type]
    finally:
        sys.stderr = olderr
    return out.getvalue(), err.getvalue()


def test_mock_server_and_handler_from_cpythons_tests_work() -> None:
    out, err = run_amock()
    assert out.startswith(b"HTTP/1.0 200 OK\r\n")
    assert out.endswith(b"\r\n\r\nHello, world!")
    assert '"GET / HTTP/1.0" 200 13' in err


def test_request_length_over_65536_is_414_through_the_handler() -> None:
    out, _ = run_amock(data=b"GET " + (b"x" * 65537) + b" HTTP/1.0\n\n")
    assert out.splitlines()[0] == b"HTTP/1.0 414 Request-URI Too Long"


def test_environ_through_the_handler_joins_repeated_headers() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [environ["HTTP_X_TEST_HEADER"].encode() + b"|" + environ["PATH_INFO"].encode()]

    out, _ = run_amock(
        app,
        b"GET /p%61th/?query=test HTTP/1.0\nX-Test-Header: Python test \n"
        b"X-Test-Header: Python test 2\nX_Test_Header: dropped\nContent-Length: 0\n\n",
    )
    assert out.endswith(b"Python test,Python test 2|/path/")


def test_a_custom_handler_class_keeps_the_engine_and_its_hooks_are_called() -> None:
    lines: list[str] = []

    class Handler(WSGIRequestHandler):
        def get_environ(self) -> dict[str, Any]:
            env = super().get_environ()
            env["CUSTOM"] = "yes"
            return env

        def log_message(self, format: str, *args: Any) -> None:
            lines.append(format % args)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [environ["CUSTOM"].encode()]

    server = make_server("127.0.0.1", 0, app, handler_class=Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with socket.create_connection(address(server), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            data = sock.recv(65536)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")  # the engine, not the serial loop
    assert data.endswith(b"yes")
    assert lines == ['"GET / HTTP/1.1" 200 3']


def test_handle_request_serves_one_request() -> None:
    with make_server("127.0.0.1", 0, hello_app) as server:
        result: list[bytes] = []

        def client() -> None:
            with socket.create_connection(address(server), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                result.append(sock.recv(65536))

        thread = threading.Thread(target=client)
        thread.start()
        old, sys.stderr = sys.stderr, StringIO()
        try:
            server.handle_request()
        finally:
            sys.stderr = old
        thread.join(5)
    assert result[0].endswith(b"Hello, world!")


def test_set_app_get_app_and_base_environ() -> None:
    with make_server("127.0.0.1", 0, hello_app) as server:
        assert server.get_app() is hello_app
        server.set_app(ours.demo_app)
        assert server.get_app() is ours.demo_app
        assert server.base_environ["GATEWAY_INTERFACE"] == "CGI/1.1"
        assert server.base_environ["SERVER_PORT"] == str(server.server_port)
        assert server.base_environ["SCRIPT_NAME"] == ""


def test_demo_app_says_hello_and_lists_the_environ() -> None:
    seen: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        seen.append(status)

    body = b"".join(ours.demo_app({"B": 2, "A": 1}, start_response))
    assert body == b"Hello world!\n\nA = 1\nB = 2\n"
    assert seen == ["200 OK"]
