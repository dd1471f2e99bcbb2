"""One case list of response framing rules, driven through ``SimpleHandler`` and the server.

Both gateways drive ``wsgi_handlers.ResponseWriter``; each case gives an application
and a request, and the verdict (status, the body a client reads, the framing fields
on the wire, whether the connection can carry another response) must be the same
from ``SimpleHandler(http_version="1.1")`` over in-memory streams and from the live
server over a socket, where a pipelined second request shows whether the connection
stayed in sync.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import live_server
import pytest
from wsgi_handlers import SimpleHandler
from wsgi_simple_server import ServerConfig, WSGIServer

App = Callable[[dict[str, Any], Any], Iterable[bytes]]
PLAIN = [("Content-Type", "text/plain")]
TEXT = b"The quick brown fox jumps over the lazy dog. " * 2 + b"0123456789" * 3 + b"!!!!"


@dataclass(frozen=True)
class Verdict:
    """What a client sees of one response."""

    status: int
    body: bytes
    content_length: str | None
    chunked: bool
    reusable: bool


def _parse(raw: bytes, method: str) -> tuple[Verdict, bytes]:
    """Parse one response off *raw* (leniently: a short body is what arrived)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, f"no complete head in {raw[:200]!r}"
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    fields = [line.split(":", 1) for line in lines[1:]]
    headers = {name.strip().lower(): value.strip() for name, value in fields}
    length = headers.get("content-length")
    chunked = headers.get("transfer-encoding") == "chunked"
    if method == "HEAD" or status in {204, 304}:
        body = b""
    elif chunked:
        body = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                rest = rest[2:]
                break
            body += rest[:size]
            rest = rest[size + 2 :]
    elif length is not None:
        body, rest = rest[: int(length)], rest[int(length) :]
    else:
        body, rest = rest, b""
    closes = headers.get("connection", "").lower() == "close"
    return Verdict(status, body, length, chunked, not closes), rest


def _environ(method: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
        "HTTP_HOST": "t",
    }


def through_handler(app: App, method: str) -> Verdict:
    """Run *app* with ``SimpleHandler(http_version="1.1")``."""
    out = io.BytesIO()
    handler = SimpleHandler(io.BytesIO(), out, io.StringIO(), _environ(method))
    handler.http_version = "1.1"
    handler.run(app)
    verdict, rest = _parse(out.getvalue(), method)
    assert rest == b"", "bytes after the response"
    assert handler.close_connection or verdict.reusable, "Connection: close, yet reusable"
    reusable = not handler.close_connection
    return Verdict(verdict.status, verdict.body, verdict.content_length, verdict.chunked, reusable)


def serving(app: App) -> contextlib.AbstractContextManager[WSGIServer]:
    return live_server.serving(app, ServerConfig(access_log=False, threads=2))


def _address(server: WSGIServer) -> tuple[str, int]:
    return "127.0.0.1", server.server_port


def _second(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return [b"second"]


def _router(app: App) -> App:
    def route(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/second":
            return _second(environ, start_response)
        return app(environ, start_response)

    return route


def through_server(server: WSGIServer, method: str) -> Verdict:
    """Send *method* / and a pipelined GET /second; parse what comes back."""
    request = f"{method} / HTTP/1.1\r\nHost: t\r\n\r\nGET /second HTTP/1.1\r\nHost: t\r\n\r\n"
    raw = b""
    with socket.create_connection(_address(server), timeout=10) as sock:
        sock.sendall(request.encode())
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                raw += chunk
                if raw.endswith(b"\r\n\r\nsecond"):
                    break
    verdict, rest = _parse(raw, method)
    if rest:
        second, rest = _parse(rest, "GET")
        assert second.status == 200
        assert second.body == b"second", f"out of sync: {rest!r}"
        assert rest == b""
        reusable = True
    else:
        reusable = False
    if verdict.reusable:
        # Unannounced closes are only those decided after the head was sent.
        return Verdict(
            verdict.status, verdict.body, verdict.content_length, verdict.chunked, reusable
        )
    assert not reusable, "a response saying Connection: close must be the last"
    return verdict


# -- the applications -------------------------------------------------------------------


def longer_than_declared(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [*PLAIN, ("Content-Length", "2")])
    return [b"he", b"llo"]


def longer_than_declared_one_block(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [*PLAIN, ("Content-Length", "2")])
    return [b"hello"]


def longer_than_declared_by_write(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    write = start_response("200 OK", [*PLAIN, ("Content-Length", "3")])
    write(b"he")
    write(b"llo")
    return []


def longer_than_declared_generator(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [*PLAIN, ("Content-Length", "4")])
    yield b"hel"
    yield b"lo"
    yield b"world"


def shorter_than_declared(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [*PLAIN, ("Content-Length", "10")])
    return iter([b"hello"])


def head_declared_length(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [*PLAIN, ("Content-Length", "11")])
    return []


def empty_then_raises(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", PLAIN)
    yield b""
    raise RuntimeError("failed after an empty block")


def exc_info_before_first_block(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", PLAIN)
    yield b""
    try:
        raise KeyError("missing")
    except KeyError:
        start_response("404 Not Found", [*PLAIN, ("Content-Length", "9")], sys.exc_info())
    yield b"not found"


def streamed(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", PLAIN)
    yield b"hello "
    yield b"world"


def streamed_empty(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", PLAIN)
    return []


def interim_status(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("100 Continue", [])
    return []


def no_content_with_framing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("204 No Content", [("Content-Length", "5")])
    return [b"extra"]


def not_modified(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("304 Not Modified", [("ETag", '"x"')])
    return [b"extra"]


def headers_as_tuple(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", (("Content-Type", "text/plain"),))
    return [b"x"]


def pair_as_list(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [["Content-Type", "text/plain"]])
    return [b"x"]


def bad_content_length(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [*PLAIN, ("Content-Length", "+5")])
    return [b"hello"]


def calls_sys_exit(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    sys.exit(3)


def raises_keyboard_interrupt(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", PLAIN)
    if environ:
        raise KeyboardInterrupt
    yield b""  # pragma: no cover - never reached


def gzip_file_wrapper(path: Path) -> App:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](gzip.open(path, "rb"))  # type: ignore[no-any-return]

    return app


def plain_file_wrapper(path: Path, declared: str | None = None) -> App:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        headers = [("Content-Type", "application/octet-stream")]
        if declared is not None:
            headers.append(("Content-Length", declared))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](path.open("rb"))  # type: ignore[no-any-return]

    return app


ERROR_PAGE = b"A server error occurred.  Please contact the administrator."
ERROR = Verdict(500, ERROR_PAGE, "59", False, False)

# (id, application or factory of one given a data directory, method, expected verdict)
CASES: list[tuple[str, Any, str, Verdict]] = [
    ("longer-than-declared", longer_than_declared, "GET", Verdict(200, b"he", "2", False, False)),
    (
        "longer-than-declared-one-block",
        longer_than_declared_one_block,
        "GET",
        Verdict(200, b"he", "2", False, False),
    ),
    (
        "longer-than-declared-by-write",
        longer_than_declared_by_write,
        "GET",
        Verdict(200, b"hel", "3", False, False),
    ),
    (
        "longer-than-declared-generator",
        longer_than_declared_generator,
        "GET",
        Verdict(200, b"hell", "4", False, False),
    ),
    (
        "shorter-than-declared",
        shorter_than_declared,
        "GET",
        Verdict(200, b"hello", "10", False, False),
    ),
    ("head-shorter-is-fine", shorter_than_declared, "HEAD", Verdict(200, b"", "10", False, True)),
    ("head-keeps-app-length", head_declared_length, "HEAD", Verdict(200, b"", "11", False, True)),
    (
        "head-streamed-invents-no-length",
        streamed_empty,
        "HEAD",
        Verdict(200, b"", None, False, True),
    ),
    ("head-streamed-no-body", streamed, "HEAD", Verdict(200, b"", None, False, True)),
    ("empty-block-then-error", empty_then_raises, "GET", ERROR),
    (
        "exc-info-before-first-block",
        exc_info_before_first_block,
        "GET",
        Verdict(404, b"not found", "9", False, True),
    ),
    ("streamed-is-chunked", streamed, "GET", Verdict(200, b"hello world", None, True, True)),
    ("empty-result-gets-length-zero", streamed_empty, "GET", Verdict(200, b"", "0", False, True)),
    ("interim-final-status", interim_status, "GET", ERROR),
    (
        "no-content-drops-framing",
        no_content_with_framing,
        "GET",
        Verdict(204, b"", None, False, True),
    ),
    ("not-modified-no-body", not_modified, "GET", Verdict(304, b"", None, False, True)),
    ("headers-as-tuple", headers_as_tuple, "GET", ERROR),
    ("header-pair-as-list", pair_as_list, "GET", ERROR),
    ("content-length-not-digits", bad_content_length, "GET", ERROR),
    ("sys-exit", calls_sys_exit, "GET", ERROR),
    ("keyboard-interrupt", raises_keyboard_interrupt, "GET", ERROR),
    ("gzip-file-wrapper", "gzip", "GET", Verdict(200, TEXT, None, True, True)),
    ("plain-file-wrapper", "plain", "GET", Verdict(200, TEXT, str(len(TEXT)), False, True)),
    ("plain-file-wrapper-head", "plain", "HEAD", Verdict(200, b"", str(len(TEXT)), False, True)),
    (
        "plain-file-wrapper-longer-than-declared",
        "plain-10",
        "GET",
        Verdict(200, TEXT[:10], "10", False, False),
    ),
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("response-core")
    (base / "data.txt").write_bytes(TEXT)
    with gzip.open(base / "data.txt.gz", "wb") as gz:
        gz.write(TEXT)
    return base


def _app(spec: Any, data_dir: Path) -> App:
    if spec == "gzip":
        return gzip_file_wrapper(data_dir / "data.txt.gz")
    if spec == "plain":
        return plain_file_wrapper(data_dir / "data.txt")
    if spec == "plain-10":
        return plain_file_wrapper(data_dir / "data.txt", "10")
    return spec  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _quiet_errors() -> Iterator[None]:
    # The application errors are expected: keep their tracebacks out of the output.
    logger = logging.getLogger("wsgi_simple_server.error")
    old = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = old


@pytest.mark.parametrize(
    ("app", "method", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_simple_handler_verdict(app: Any, method: str, expected: Verdict, data_dir: Path) -> None:
    assert through_handler(_app(app, data_dir), method) == expected


@pytest.mark.parametrize(
    ("app", "method", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_server_verdict(app: Any, method: str, expected: Verdict, data_dir: Path) -> None:
    with serving(_router(_app(app, data_dir))) as server:
        assert through_server(server, method) == expected


def test_the_gzip_file_is_sent_decompressed_not_through_its_fileno(data_dir: Path) -> None:
    # PEP 3333: a file wrapper behaves like iter(filelike.read, b""); the GzipFile's
    # fileno() is the compressed file, which must not reach the client.
    compressed = (data_dir / "data.txt.gz").read_bytes()
    assert len(compressed) < len(TEXT)
    with serving(_router(gzip_file_wrapper(data_dir / "data.txt.gz"))) as server:
        verdict = through_server(server, "GET")
    assert verdict.body == TEXT
    assert compressed not in verdict.body


def test_an_app_calling_sys_exit_leaves_every_worker_serving() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/exit":
            sys.exit(1)
        start_response("200 OK", [*PLAIN, ("Content-Length", "2")])
        return [b"ok"]

    with serving(app) as server:
        for _ in range(6):  # more than the pool's 2 threads
            with socket.create_connection(_address(server), timeout=10) as sock:
                sock.sendall(b"GET /exit HTTP/1.1\r\nHost: t\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 500 ")
        with socket.create_connection(_address(server), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            raw = b""
            while not raw.endswith(b"ok"):
                raw += sock.recv(65536)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n")


def test_an_unread_expect_continue_upload_is_answered_with_connection_close() -> None:
    def refuse(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("401 Unauthorized", [*PLAIN, ("Content-Length", "4")])
        return [b"nope"]

    with (
        serving(refuse) as server,
        socket.create_connection(_address(server), timeout=10) as sock,
    ):
        sock.sendall(
            b"PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    verdict, rest = _parse(raw, "PUT")
    assert (verdict.status, verdict.body, verdict.reusable) == (401, b"nope", False)
    assert rest == b""


def test_the_error_of_an_application_is_logged_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("wsgi_simple_server.error")
    logger.disabled = False
    logger.propagate = True
    try:
        with (
            caplog.at_level(logging.ERROR, "wsgi_simple_server.error"),
            serving(calls_sys_exit) as server,
        ):
            through_server(server, "GET")
            for _ in range(100):
                if caplog.records:
                    break
                threading.Event().wait(0.05)
    finally:
        logger.propagate = False
    record = caplog.records[0]
    assert record.exc_info is not None
    assert record.exc_info[0] is SystemExit
