"""SimpleHandler's output: partial writes retried, flushing, sendfile."""

import errno
import io
import os
import re
import socket
import threading
import time
import wsgiref.handlers as ref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from wsgi_handlers import SimpleHandler

MakeEnviron = Callable[..., dict[str, Any]]


class Partial(io.BytesIO):
    """write() accepts at most 3 bytes per call and says so."""

    calls = 0

    def write(self, data: Any) -> int:
        self.calls += 1
        return super().write(bytes(data[:3]))


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello world"]


@pytest.mark.parametrize("handler_class", [SimpleHandler, ref.SimpleHandler])
def test_partial_writes_are_retried_until_complete_with_a_deprecation_warning(
    handler_class: Any, environ: dict[str, Any]
) -> None:
    out = Partial()
    with pytest.warns(DeprecationWarning, match="should not do partial writes"):
        handler_class(io.BytesIO(), out, io.StringIO(), environ).run(hello)
    assert out.getvalue().endswith(b"Content-Length: 11\r\n\r\nhello world")
    assert out.calls > 10


def test_a_write_returning_none_is_complete(environ: dict[str, Any]) -> None:
    class NoneWriter(io.BytesIO):
        def write(self, data: Any) -> None:  # type: ignore[override]
            super().write(data)

    out = NoneWriter()
    SimpleHandler(io.BytesIO(), out, io.StringIO(), environ).run(hello)
    assert out.getvalue().endswith(b"hello world")


def test_flush_is_called_after_each_block_and_then_bound_directly(
    environ: dict[str, Any],
) -> None:
    class Counting(io.BytesIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    def two(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return iter([b"a", b"b"])

    out = Counting()
    h = SimpleHandler(io.BytesIO(), out, io.StringIO(), environ)
    h.run(two)
    assert out.flushes == 2
    assert h._flush == out.flush


def test_a_large_first_block_is_written_separately_from_the_headers(
    environ: dict[str, Any],
) -> None:
    writes: list[int] = []

    class Spy(io.BytesIO):
        def write(self, data: Any) -> int:
            writes.append(len(data))
            return super().write(data)

    def big(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"x" * 1_000_000]

    SimpleHandler(io.BytesIO(), Spy(), io.StringIO(), environ).run(big)
    assert writes[-1] == 1_000_000  # not copied into the header buffer


# --- sendfile ---------------------------------------------------------------


def file_app(path: Path, headers: list[tuple[str, str]] | None = None, seek: int = 0) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", list(headers or [("Content-Type", "application/octet-stream")]))
        f = path.open("rb")
        f.seek(seek)
        return environ["wsgi.file_wrapper"](f, 8192)

    return app


def serve_over_socket(
    app: Any, environ: dict[str, Any], timeout: float | None = None
) -> tuple[bytes, SimpleHandler, list[str]]:
    """Run *app* with a socket as stdout; return what the peer received."""
    server_side, client_side = socket.socketpair()
    client_side.settimeout(20)
    if timeout is not None:
        server_side.settimeout(timeout)  # non-blocking underneath
    received: list[bytes] = []

    def drain() -> None:
        while chunk := client_side.recv(65536):
            received.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    calls: list[str] = []

    class Spy(SimpleHandler):
        def sendfile(self) -> bool:
            sent = super().sendfile()
            calls.append(f"sendfile={sent}")
            return sent

    out = server_side.makefile("wb")
    stats = {"bytes_sent": -1}

    class Keep(Spy):
        # bytes_sent as it was when the response finished (close() resets it).
        def close(self) -> None:
            stats["bytes_sent"] = self.bytes_sent
            super().close()

    handler = Keep(io.BytesIO(), out, io.StringIO(), environ)
    handler.run(app)
    out.close()
    server_side.close()
    reader.join(20)
    client_side.close()
    handler.bytes_sent = stats["bytes_sent"]
    return b"".join(received), handler, calls


@pytest.fixture
def big_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def split(raw: bytes) -> tuple[bytes, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head, body


def test_a_file_over_a_socket_goes_through_sendfile_with_length_from_fstat(
    big_file: Path, environ: dict[str, Any]
) -> None:
    raw, handler, calls = serve_over_socket(file_app(big_file), environ)
    head, body = split(raw)
    assert calls == ["sendfile=True"]
    assert body == big_file.read_bytes()
    assert f"Content-Length: {big_file.stat().st_size}".encode() in head
    assert handler.bytes_sent == big_file.stat().st_size


def test_sendfile_works_on_a_socket_with_a_timeout(big_file: Path, environ: dict[str, Any]) -> None:
    raw, handler, calls = serve_over_socket(file_app(big_file), environ, timeout=10)
    assert calls == ["sendfile=True"]
    assert split(raw)[1] == big_file.read_bytes()
    assert handler.bytes_sent == big_file.stat().st_size


def test_sendfile_starts_at_the_files_position(big_file: Path, environ: dict[str, Any]) -> None:
    raw, _, _ = serve_over_socket(file_app(big_file, seek=1000), environ)
    head, body = split(raw)
    assert body == big_file.read_bytes()[1000:]
    assert f"Content-Length: {big_file.stat().st_size - 1000}".encode() in head


def test_sendfile_sends_no_more_than_the_apps_content_length(
    big_file: Path, environ: dict[str, Any]
) -> None:
    raw, handler, _ = serve_over_socket(file_app(big_file, [("Content-Length", "1000")]), environ)
    assert split(raw)[1] == big_file.read_bytes()[:1000]
    # The rest of the file went past the declared length: an application error,
    # logged, and the connection cannot be reused.
    assert handler.close_connection is True


def test_sendfile_with_a_too_long_content_length_closes_the_connection(
    tmp_path: Path, environ: dict[str, Any]
) -> None:
    path = tmp_path / "small.txt"
    path.write_bytes(b"0123456789")
    raw, handler, _ = serve_over_socket(file_app(path, [("Content-Length", "50")]), environ)
    assert split(raw)[1] == b"0123456789"
    assert handler.close_connection is True


def test_sendfile_sends_no_body_for_head_in_http11_mode(
    big_file: Path, make_environ: MakeEnviron
) -> None:
    class Head(SimpleHandler):
        http_version = "1.1"

    environ = make_environ(REQUEST_METHOD="HEAD", SERVER_PROTOCOL="HTTP/1.1")
    server_side, client_side = socket.socketpair()
    with server_side, client_side:
        out = server_side.makefile("wb")
        Head(io.BytesIO(), out, io.StringIO(), environ).run(file_app(big_file))
        out.close()
        server_side.shutdown(socket.SHUT_WR)
        client_side.settimeout(10)
        raw = b""
        while chunk := client_side.recv(65536):
            raw += chunk
    head, body = split(raw)
    assert body == b""
    assert f"Content-Length: {big_file.stat().st_size}".encode() in head


def test_a_file_into_a_pipe_uses_the_ordinary_path(big_file: Path, environ: dict[str, Any]) -> None:
    read_fd, write_fd = os.pipe()
    received: list[bytes] = []

    def drain() -> None:
        with os.fdopen(read_fd, "rb") as r:
            received.append(r.read())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    calls: list[bool] = []

    class Spy(SimpleHandler):
        def sendfile(self) -> bool:
            calls.append(super().sendfile())
            return calls[-1]

    with os.fdopen(write_fd, "wb") as out:
        Spy(io.BytesIO(), out, io.StringIO(), environ).run(file_app(big_file))
    reader.join(20)
    assert calls == [False]
    assert split(received[0])[1] == big_file.read_bytes()


def test_a_file_like_without_fileno_uses_the_ordinary_path(environ: dict[str, Any]) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"in memory"), 4)

    raw, handler, calls = serve_over_socket(app, environ)
    assert calls == ["sendfile=False"]
    assert split(raw)[1] == b"in memory"
    assert handler.bytes_sent == 9


def test_a_file_wrapper_before_start_response_fails_as_in_the_stdlib(
    big_file: Path, environ: dict[str, Any]
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return environ["wsgi.file_wrapper"](big_file.open("rb"))

    raw, _, calls = serve_over_socket(app, environ)
    assert calls == ["sendfile=False"]
    assert raw.startswith(b"HTTP/1.0 500 Internal Server Error")


def test_the_file_is_closed_after_sendfile(big_file: Path, environ: dict[str, Any]) -> None:
    opened: list[Any] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [])
        opened.append(big_file.open("rb"))
        return environ["wsgi.file_wrapper"](opened[0])

    serve_over_socket(app, environ)
    assert opened[0].closed


def test_sendfile_waits_for_a_slow_reader_on_a_non_blocking_socket(
    big_file: Path, environ: dict[str, Any]
) -> None:
    server_side, client_side = socket.socketpair()
    server_side.settimeout(10)  # non-blocking underneath: os.sendfile meets EAGAIN
    client_side.settimeout(20)
    received: list[bytes] = []

    def drain_late() -> None:
        time.sleep(0.3)  # let the socket buffer fill first
        while chunk := client_side.recv(65536):
            received.append(chunk)

    reader = threading.Thread(target=drain_late, daemon=True)
    reader.start()
    out = server_side.makefile("wb")
    errors = io.StringIO()
    SimpleHandler(io.BytesIO(), out, errors, environ).run(file_app(big_file))
    out.close()
    server_side.close()
    reader.join(20)
    client_side.close()
    assert errors.getvalue() == ""
    assert split(b"".join(received))[1] == big_file.read_bytes()


def test_sendfile_gives_up_after_sendfile_timeout_s_without_a_reader(
    big_file: Path, environ: dict[str, Any]
) -> None:
    server_side, client_side = socket.socketpair()
    with server_side, client_side:
        server_side.settimeout(10)
        out = server_side.makefile("wb")
        errors = io.StringIO()
        handler = SimpleHandler(io.BytesIO(), out, errors, environ)
        handler.sendfile_timeout_s = 0.2
        started = time.monotonic()
        handler.run(file_app(big_file))
        assert time.monotonic() - started < 5
        assert "TimeoutError: sendfile: socket not writable for 0.2 s" in errors.getvalue()
        assert handler.close_connection is True
        out.close()


def test_a_platform_that_cannot_sendfile_these_files_gets_them_read(
    big_file: Path, environ: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unsupported(*args: object) -> int:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "sendfile", unsupported)
    raw, handler, _ = serve_over_socket(file_app(big_file), environ)
    head, body = split(raw)
    assert body == big_file.read_bytes()
    assert f"Content-Length: {len(body)}".encode() in head
    assert handler.close_connection is False


def test_a_file_wrapper_into_a_plain_stream_is_the_stdlibs_bytes_by_default(
    big_file: Path, make_environ: MakeEnviron
) -> None:
    environ = make_environ(SERVER_PROTOCOL="HTTP/1.0")
    outputs = []
    for handler_class in (ref.SimpleHandler, SimpleHandler):
        out = io.BytesIO()
        handler_class(io.BytesIO(), out, io.StringIO(), dict(environ)).run(file_app(big_file))
        outputs.append(re.sub(rb"Date: [^\r]*\r\n", b"", out.getvalue()))
    assert outputs[0] == outputs[1]
