"""http_version = "1.1": framing of HTTP/1.1 responses, and close_connection."""

import io
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from wsgi_handlers import BaseCGIHandler, SimpleHandler

RunHandler = Callable[..., tuple[bytes, str, Any]]
MakeEnviron = Callable[..., dict[str, Any]]


def chunks(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"hello "
    yield b""
    yield b"world" * 10


def one_block(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def status_app(status: str, body: list[bytes], headers: list[tuple[str, str]] | None = None) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response(status, list(headers or []))
        return iter(body)

    return app


def test_unknown_length_to_an_http11_request_is_chunked(
    run: RunHandler, make_environ: MakeEnviron
) -> None:
    out, _, handler = run(
        SimpleHandler, chunks, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    head, body = out.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert body == b"6\r\nhello \r\n32\r\n" + b"world" * 10 + b"\r\n0\r\n\r\n"
    assert handler.close_connection is False
    assert handler.bytes_sent == 0  # reset by close()


def test_the_chunked_body_counts_payload_bytes_only(make_environ: MakeEnviron) -> None:
    seen: list[int] = []

    class Spy(SimpleHandler):
        http_version = "1.1"

        def finish_content(self) -> None:
            super().finish_content()
            seen.append(self.bytes_sent)

    Spy(io.BytesIO(), io.BytesIO(), io.StringIO(), make_environ(SERVER_PROTOCOL="HTTP/1.1")).run(
        chunks
    )
    assert seen == [56]


def test_unknown_length_to_an_http10_request_is_delimited_by_closing(
    run: RunHandler, make_environ: MakeEnviron
) -> None:
    out, _, handler = run(SimpleHandler, chunks, make_environ(), http_version="1.1")
    assert b"Transfer-Encoding" not in out
    assert out.endswith(b"\r\n\r\nhello " + b"world" * 10)
    assert handler.close_connection is True


def test_known_length_is_not_chunked(run: RunHandler, make_environ: MakeEnviron) -> None:
    out, _, handler = run(
        SimpleHandler, one_block, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert b"Content-Length: 5\r\n\r\nhello" in out
    assert b"chunked" not in out
    assert handler.close_connection is False


def test_head_gets_the_get_headers_and_no_body(run: RunHandler, make_environ: MakeEnviron) -> None:
    environ = make_environ(SERVER_PROTOCOL="HTTP/1.1", REQUEST_METHOD="HEAD")
    out, _, handler = run(SimpleHandler, one_block, environ, http_version="1.1")
    assert out.endswith(b"Content-Length: 5\r\n\r\n")
    out, _, handler = run(SimpleHandler, chunks, environ, http_version="1.1")
    assert out.endswith(b"Content-Type: text/plain\r\n\r\n")
    assert b"chunked" not in out
    assert handler.close_connection is False


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
@pytest.mark.parametrize("protocol", ["HTTP/1.1", "HTTP/1.0"])
def test_no_content_statuses_get_no_body_and_no_length(
    status: str, protocol: str, run: RunHandler, make_environ: MakeEnviron
) -> None:
    app = status_app(status, [b"ignored"])
    out, _, handler = run(
        SimpleHandler, app, make_environ(SERVER_PROTOCOL=protocol), http_version="1.1"
    )
    assert out.endswith(b"\r\n\r\n")
    assert b"ignored" not in out
    assert b"Content-Length" not in out
    assert b"Transfer-Encoding" not in out
    # An HTTP/1.0 request without "Connection: keep-alive" ends with its response.
    assert handler.close_connection is (protocol == "HTTP/1.0")


@pytest.mark.parametrize("status", ["100 Continue", "101 Switching Protocols", "103 Early Hints"])
def test_a_1xx_final_status_gets_the_error_page(
    status: str, run: RunHandler, make_environ: MakeEnviron
) -> None:
    app = status_app(status, [b"ignored"])
    out, err, _ = run(
        SimpleHandler, app, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert out.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert "1xx status is interim" in err


def test_an_application_content_length_on_204_is_dropped(
    run: RunHandler, make_environ: MakeEnviron
) -> None:
    app = status_app("204 No Content", [], [("Content-Length", "0")])
    out, _, _ = run(
        SimpleHandler, app, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert b"Content-Length" not in out


def test_an_application_content_length_on_304_is_kept(
    run: RunHandler, make_environ: MakeEnviron
) -> None:
    app = status_app("304 Not Modified", [], [("Content-Length", "1234")])
    out, _, _ = run(
        SimpleHandler, app, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert out.endswith(b"Content-Length: 1234\r\n\r\n")


def test_an_empty_response_to_http11_gets_a_zero_length(
    run: RunHandler, make_environ: MakeEnviron
) -> None:
    app = status_app("200 OK", [])
    out, _, handler = run(
        SimpleHandler, app, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert out.endswith(b"Content-Length: 0\r\n\r\n")
    assert handler.close_connection is False


def test_a_body_shorter_than_its_content_length_closes_the_connection(
    run: RunHandler, make_environ: MakeEnviron
) -> None:
    app = status_app("200 OK", [b"ab", b"c"], [("Content-Length", "10")])
    _, _, handler = run(
        SimpleHandler, app, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert handler.close_connection is True


def test_an_error_after_the_headers_closes_the_connection(
    run: RunHandler, make_environ: MakeEnviron
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"part"
        raise RuntimeError("late")

    out, err, handler = run(
        SimpleHandler, app, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert handler.close_connection is True
    assert not out.endswith(b"0\r\n\r\n")
    assert "RuntimeError: late" in err


def test_default_http_version_never_chunks(run: RunHandler, make_environ: MakeEnviron) -> None:
    out, _, _ = run(SimpleHandler, chunks, make_environ(SERVER_PROTOCOL="HTTP/1.1"))
    assert out.startswith(b"HTTP/1.0 200 OK")
    assert b"chunked" not in out


def test_a_cgi_gateway_never_chunks(run: RunHandler, make_environ: MakeEnviron) -> None:
    out, _, _ = run(
        BaseCGIHandler, chunks, make_environ(SERVER_PROTOCOL="HTTP/1.1"), http_version="1.1"
    )
    assert out.startswith(b"Status: 200 OK\r\n")
    assert b"chunked" not in out


def test_close_connection_is_readable_from_a_cleanup_headers_override(
    make_environ: MakeEnviron,
) -> None:
    class Server(SimpleHandler):
        http_version = "1.1"

        def cleanup_headers(self) -> None:
            super().cleanup_headers()
            headers = self.headers
            if headers is not None and not (
                "Content-Length" in headers or "Transfer-Encoding" in headers
            ):
                headers["Connection"] = "close"

    out = io.BytesIO()
    Server(io.BytesIO(), out, io.StringIO(), make_environ()).run(chunks)
    assert b"Connection: close\r\n" in out.getvalue()
    out = io.BytesIO()
    Server(io.BytesIO(), out, io.StringIO(), make_environ(SERVER_PROTOCOL="HTTP/1.1")).run(chunks)
    assert b"Connection" not in out.getvalue()
