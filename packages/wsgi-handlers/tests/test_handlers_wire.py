"""Bytes on the wire: the same as wsgiref.handlers for every kind of response."""

import io
import time
import wsgiref.handlers as ref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import wsgi_handlers
from hypothesis import given
from hypothesis import strategies as st

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
RunHandler = Callable[..., tuple[bytes, str, Any]]


def one_block(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def generator(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"a"
    yield b""
    yield b"bc"


def empty(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("204 No Content", [])
    return []


def with_length(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Length", "3"), ("Date", "x"), ("Server", "y")])
    return [b"a", b"bc"]


def uses_write(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    write = start_response("404 Not Found", [("Content-Type", "text/html")])
    write(b"<p>")
    write(b"gone</p>")
    return [b""]


def raises(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise ValueError("boom")


def raises_late(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [])
    yield b"partial"
    raise ValueError("late")


def several_cookies(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-L", "caf\xe9")])
    return [b"ok"]


def big(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b"x" * 100_000]


APPS = [one_block, generator, empty, with_length, uses_write, raises, raises_late]
APPS += [several_cookies, big]
CLASSES = ["SimpleHandler", "BaseCGIHandler"]
PROTOCOLS = ["HTTP/1.0", "HTTP/1.1", "HTTP/0.9"]


@pytest.mark.parametrize("app", APPS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("class_name", CLASSES)
@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("software", [None, "Test/1.0"])
def test_output_is_byte_identical_to_the_stdlib(
    app: App,
    class_name: str,
    protocol: str,
    software: str | None,
    run: RunHandler,
    make_environ: Callable[..., dict[str, Any]],
) -> None:
    environ = make_environ(SERVER_PROTOCOL=protocol)
    theirs = run(getattr(ref, class_name), app, dict(environ), server_software=software)
    ours = run(getattr(wsgi_handlers, class_name), app, dict(environ), server_software=software)
    assert ours[0] == theirs[0]
    assert ours[1].splitlines()[-1:] == theirs[1].splitlines()[-1:]
    assert ours[2].bytes_sent == theirs[2].bytes_sent
    assert ours[2].headers_sent == theirs[2].headers_sent


def test_status_line_date_and_server_come_first_in_the_stdlib_order(run: RunHandler) -> None:
    out, _, _ = run(wsgi_handlers.SimpleHandler, one_block, server_software="S/1")
    assert out == (
        b"HTTP/1.0 200 OK\r\nDate: <masked>\r\nServer: S/1\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
    )


def test_the_error_page_is_the_stdlib_one(run: RunHandler) -> None:
    out, err, _ = run(wsgi_handlers.SimpleHandler, raises)
    assert out == (
        b"HTTP/1.0 500 Internal Server Error\r\nDate: <masked>\r\n"
        b"Content-Type: text/plain\r\nContent-Length: 59\r\n\r\n"
        b"A server error occurred.  Please contact the administrator."
    )
    assert "ValueError: boom" in err


def test_date_header_is_the_current_time(environ: dict[str, Any]) -> None:
    out = io.BytesIO()
    before = int(time.time())
    wsgi_handlers.SimpleHandler(io.BytesIO(), out, io.StringIO(), environ).run(one_block)
    after = int(time.time())
    dates = {wsgi_handlers.format_date_time(t).encode() for t in range(before, after + 1)}
    line = next(x for x in out.getvalue().split(b"\r\n") if x.startswith(b"Date: "))
    assert line[6:] in dates


@given(st.floats(min_value=-(2**35), max_value=2**36, allow_nan=False))
def test_format_date_time_matches_the_stdlib(timestamp: float) -> None:
    assert wsgi_handlers.format_date_time(timestamp) == ref.format_date_time(timestamp)


def test_format_date_time_of_the_epoch() -> None:
    assert wsgi_handlers.format_date_time(0) == "Thu, 01 Jan 1970 00:00:00 GMT"


def test_format_date_time_rejects_what_gmtime_rejects() -> None:
    with pytest.raises(TypeError):
        wsgi_handlers.format_date_time("now")  # type: ignore[arg-type]
