"""CPython's own validator tests (Lib/test/test_wsgiref.py), run against wsgi_validate.

Same mock server as there: the stdlib's WSGIServer and WSGIRequestHandler over
in-memory streams, whose error log the tests compare line by line.
"""

import sys
from collections.abc import Iterable
from io import BufferedReader, BytesIO, StringIO
from platform import python_implementation
from socketserver import BaseServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgi_validate import validator


class MockServer(WSGIServer):
    """Non-socket HTTP server."""

    def __init__(self, server_address: Any, handler: Any) -> None:
        BaseServer.__init__(self, server_address, handler)
        self.server_bind()

    def server_bind(self) -> None:
        host, port = self.server_address[:2]
        # CPython's mock leaves SERVER_NAME empty, which PEP 3333 forbids ("must never
        # be empty"); the real WSGIServer names the host with socket.getfqdn().
        self.server_name = str(host) or "localhost"
        self.server_port = int(port)
        self.setup_environ()


class MockHandler(WSGIRequestHandler):
    """Non-socket HTTP handler."""

    def setup(self) -> None:
        self.connection = self.request
        self.rfile, self.wfile = self.connection

    def finish(self) -> None:
        pass


def run_amock(app: WSGIApplication, data: bytes = b"GET / HTTP/1.0\n\n") -> tuple[bytes, str]:
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


def hello_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Date", "Mon, 05 Jun 2006 18:49:54 GMT")]
    )
    return [b"Hello, world!"]


PYVER = python_implementation() + "/" + sys.version.split()[0]
ERROR_BODY = b"A server error occurred.  Please contact the administrator."


def test_validated_hello() -> None:
    out, _err = run_amock(validator(hello_app))
    # the middleware doesn't support len(), so content-length isn't there
    assert out == (
        "HTTP/1.0 200 OK\r\n"
        "Server: WSGIServer/0.2 " + PYVER + "\r\n"
        "Content-Type: text/plain\r\n"
        "Date: Mon, 05 Jun 2006 18:49:54 GMT\r\n"
        "\r\n"
        "Hello, world!"
    ).encode("iso-8859-1")


def test_simple_validation_error() -> None:
    def bad_app(environ: WSGIEnvironment, start_response: Any) -> Any:
        start_response("200 OK", ("Content-Type", "text/plain"))
        return ["Hello, world!"]

    out, err = run_amock(validator(bad_app))
    assert out.endswith(ERROR_BODY)
    assert err.splitlines()[-2] == (
        "AssertionError: Headers (('Content-Type', 'text/plain')) must be of type list: "
        "<class 'tuple'>"
    )


def test_wsgi_input() -> None:
    def bad_app(e: WSGIEnvironment, s: StartResponse) -> Iterable[bytes]:
        e["wsgi.input"].read()
        s("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"data"]

    out, err = run_amock(validator(bad_app))
    assert out.endswith(ERROR_BODY)
    assert err.splitlines()[-2] == "AssertionError"


def test_bytes_validation() -> None:
    def app(e: WSGIEnvironment, s: StartResponse) -> Iterable[bytes]:
        s(
            "200 OK",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Date", "Wed, 24 Dec 2008 13:29:32 GMT"),
            ],
        )
        return [b"data"]

    out, err = run_amock(validator(app))
    assert err.endswith('"GET / HTTP/1.0" 200 4\n')
    assert out == (
        b"HTTP/1.0 200 OK\r\n"
        b"Server: WSGIServer/0.2 " + PYVER.encode("ascii") + b"\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Date: Wed, 24 Dec 2008 13:29:32 GMT\r\n"
        b"\r\n"
        b"data"
    )


def test_cp1252_url() -> None:
    def app(e: WSGIEnvironment, s: StartResponse) -> Iterable[bytes]:
        s("200 OK", [("Content-Type", "text/plain"), ("Date", "Wed, 24 Dec 2008 13:29:32 GMT")])
        # PEP3333 says environ variables are decoded as latin1.
        # Encode as latin1 to get original bytes
        return [e["PATH_INFO"].encode("latin1")]

    out, _err = run_amock(validator(app), data=b"GET /\x80%80 HTTP/1.0")
    lines = out.splitlines()
    del lines[1]  # the Server header
    assert lines == [
        b"HTTP/1.0 200 OK",
        b"Content-Type: text/plain",
        b"Date: Wed, 24 Dec 2008 13:29:32 GMT",
        b"",
        b"/\x80\x80",
    ]
