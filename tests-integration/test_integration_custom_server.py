"""A custom server assembled from the pieces: the server's sans-IO request parser,
``wsgi_handlers.BoundedInput`` and ``SimpleHandler`` in HTTP/1.1 mode, over a
``socket.socketpair``, serving a validated app on a kept-alive connection."""

import http.client
import io
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from wsgi_handlers import BoundedInput, SimpleHandler
from wsgi_simple_server import DEFAULT_CONFIG, ParseError, find_head_end, parse_head
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgi_validate import ValidationReport, validator


class _Http11Handler(SimpleHandler):
    http_version = "1.1"


def _app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield environ["PATH_INFO"].encode() + b":"  # a generator: no length, sent chunked
    yield body


def _serve(conn: socket.socket, app: WSGIApplication) -> None:
    """The whole custom server: read a head, parse it, run the handler, repeat."""
    with conn.makefile("rb") as rfile, conn.makefile("wb", buffering=0) as wfile:
        _serve_requests(rfile, wfile, app)


def _serve_requests(rfile: Any, wfile: Any, app: WSGIApplication) -> None:
    while True:
        head = b""
        while (end := find_head_end(head, DEFAULT_CONFIG)) < 0:
            line = rfile.readline(DEFAULT_CONFIG.max_request_line_bytes + 1)
            if not line:
                return
            head += line
        try:
            request = parse_head(head[:end], DEFAULT_CONFIG)
        except ParseError as error:
            wfile.write(f"HTTP/1.1 {error.status} {error.message}\r\n\r\n".encode())
            return
        environ: WSGIEnvironment = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": request.path,
            "QUERY_STRING": request.query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": request.version,
            "CONTENT_TYPE": "",
            "CONTENT_LENGTH": str(request.content_length or ""),
        }
        for name, value in request.headers:
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_LENGTH", "HTTP_CONTENT_TYPE"):
                environ[key] = value
        stdin = BoundedInput(rfile, request.content_length or 0)
        handler = _Http11Handler(stdin, wfile, io.StringIO(), environ, multithread=False)
        handler.run(app)
        if handler.close_connection or not request.keep_alive:
            return


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, ValidationReport]]:
    report = ValidationReport()
    client, server = socket.socketpair()
    client.settimeout(10)
    worker = threading.Thread(
        target=_serve, args=(server, validator(_app, report=report, strict_stdlib=False))
    )
    worker.start()
    try:
        yield client, report
    finally:
        client.close()
        worker.join(timeout=10)
        server.close()


def _exchange(client: socket.socket, request: bytes) -> http.client.HTTPResponse:
    client.sendall(request)
    response = http.client.HTTPResponse(client)
    response.begin()
    return response


def test_two_requests_on_one_connection_with_bodies_and_chunked_answers(
    pair: tuple[socket.socket, ValidationReport],
) -> None:
    client, report = pair
    first = _exchange(client, b"POST /one HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert (first.status, first.version) == (200, 11)
    assert first.getheader("Transfer-Encoding") == "chunked"
    assert first.read() == b"/one:hello"
    second = _exchange(client, b"GET /two HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert second.read() == b"/two:"
    assert report.violations == []


def test_a_malformed_head_gets_the_parsers_status(
    pair: tuple[socket.socket, ValidationReport],
) -> None:
    client, _ = pair
    response = _exchange(client, b"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n")
    assert response.status == 400
