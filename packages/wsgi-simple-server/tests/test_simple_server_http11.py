"""HTTP/1.1 over loopback with raw sockets: persistence, framing, bodies, Expect, HEAD."""

from __future__ import annotations

import gc
import io
import socket
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from wsgi_simple_server import ServerConfig

GET = b"GET %s HTTP/1.1\r\nHost: test\r\n\r\n"


def test_persistent_connection_serves_several_requests(kit: Any) -> None:
    with kit.running(kit.echo_app) as server, kit.connect(server) as sock:
        reader = kit.Reader(sock)
        for path in (b"/one", b"/two", b"/three"):
            sock.sendall(GET % path)
            response = reader.response()
            assert response.status_line == b"HTTP/1.1 200 OK"
            assert response.header("X-Path") == path.decode()
            assert response.header("Connection") is None


def test_pipelined_requests_are_answered_in_order(kit: Any) -> None:
    with kit.running(kit.echo_app) as server, kit.connect(server) as sock:
        sock.sendall(b"".join(GET % b"/%d" % i for i in range(10)))
        reader = kit.Reader(sock)
        assert [reader.response().header("X-Path") for _ in range(10)] == [
            f"/{i}" for i in range(10)
        ]


def test_connection_close_from_the_client_is_answered_and_closed(kit: Any) -> None:
    with kit.running(kit.hello_app) as server:
        data = kit.roundtrip(server, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in data
    assert data.endswith(b"\r\n\r\nHello")


def test_server_side_close_is_announced_with_connection_close(kit: Any) -> None:
    def failing(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise RuntimeError("boom")

    with kit.running(failing) as server, kit.connect(server) as sock:
        sock.sendall(GET % b"/")
        data = kit.read_all(sock)  # the server closes after the 500
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert b"\r\nConnection: close\r\n" in data
    assert data.endswith(b"A server error occurred.  Please contact the administrator.")


def test_http10_keep_alive_only_when_asked_for(kit: Any) -> None:
    with kit.running(kit.hello_app) as server:
        with kit.connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            reader = kit.Reader(sock)
            first = reader.response()
            assert first.header("Connection") == "keep-alive"
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            second = reader.response()
            assert second.header("Connection") is None
            assert reader.at_eof()
        plain = kit.roundtrip(server, b"GET / HTTP/1.0\r\n\r\n")
    assert b"Connection" not in plain


def test_content_length_body_reaches_the_app_and_the_next_request_follows(kit: Any) -> None:
    with kit.running(kit.echo_app) as server, kit.connect(server) as sock:
        sock.sendall(
            b"POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world" + GET % b"/b"
        )
        reader = kit.Reader(sock)
        assert reader.response().body == b"hello world"
        assert reader.response().header("X-Path") == "/b"


def test_chunked_request_body_is_decoded_measured_and_input_terminated(kit: Any) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "POST":
            seen.update(environ)
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"] or 0))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body]

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n" + GET % b"/next"
        )
        reader = kit.Reader(sock)
        assert reader.response().body == b"hello world"
        assert reader.response().status == 200
    assert seen["wsgi.input_terminated"] is True
    assert seen["CONTENT_LENGTH"] == "11"  # the decoded body is read first, then measured
    assert "HTTP_TRANSFER_ENCODING" not in seen


def test_large_chunked_body_is_spooled_to_disk_and_the_file_closed(kit: Any) -> None:
    payload = bytes(range(256)) * 12288  # 3 MiB: past the in-memory spool

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [])
        return [b"%d:%d" % (len(body), body == payload)]

    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(payload[i : i + 100000]), payload[i : i + 100000])
        for i in range(0, len(payload), 100000)
    )
    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks
            + b"0\r\n\r\n"
        )
        assert kit.Reader(sock).response().body == b"%d:1" % len(payload)
    gc.collect()  # an unclosed spool file would warn here, and warnings are errors


def test_chunked_body_the_app_leaves_unread_does_not_break_the_connection(kit: Any) -> None:
    with kit.running(kit.hello_app) as server, kit.connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\n" + GET % b"/next"
        )
        reader = kit.Reader(sock)
        assert reader.response().body == b"Hello"
        assert reader.response().body == b"Hello"


def test_unread_small_body_is_drained_before_the_next_request(kit: Any) -> None:
    with kit.running(kit.hello_app) as server, kit.connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde" + GET % b"/")
        reader = kit.Reader(sock)
        assert reader.response().body == b"Hello"
        assert reader.response().body == b"Hello"


def test_unread_body_over_the_drain_limit_closes_the_connection(kit: Any) -> None:
    config = kit.QUIET.replace(max_drain_bytes=1000, body_timeout_s=1.0)
    with kit.running(kit.hello_app, config) as server, kit.connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        sock.sendall(b"x" * 100000)
        reader = kit.Reader(sock)
        assert reader.response().body == b"Hello"
        assert reader.at_eof()


def test_response_of_unknown_length_is_chunked_for_http11(kit: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"one "
        yield b""
        yield b"two"

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(GET % b"/")
        response = kit.Reader(sock).response()
    assert response.header("Transfer-Encoding") == "chunked"
    assert response.header("Content-Length") is None
    assert response.body == b"one two"


def test_response_of_unknown_length_to_http10_ends_at_close(kit: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"one "
        yield b"two"

    with kit.running(app) as server:
        data = kit.roundtrip(server, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    assert b"Transfer-Encoding" not in data
    assert b"Connection: keep-alive" not in data
    assert data.endswith(b"\r\n\r\none two")


def test_head_response_has_no_body_but_its_length(kit: Any) -> None:
    with kit.running(kit.hello_app) as server, kit.connect(server) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + GET % b"/")
        reader = kit.Reader(sock)
        head = reader.response(head_only=True)
        assert head.header("Content-Length") == "5"
        assert reader.response().body == b"Hello"  # nothing was sent between the two


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_no_body_and_no_framing_for_204_and_304(kit: Any, status: str) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, [])
        return [b"ignored"]

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(GET % b"/" + GET % b"/")
        reader = kit.Reader(sock)
        first = reader.response()
        assert first.header("Content-Length") is None
        assert first.header("Transfer-Encoding") is None
        assert reader.response().status == int(status[:3])


def test_expect_100_continue_is_answered_when_the_app_reads(kit: Any) -> None:
    with kit.running(kit.echo_app) as server, kit.connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        )
        reader = kit.Reader(sock)
        interim = reader.response(head_only=True)
        assert interim.status_line == b"HTTP/1.1 100 Continue"
        sock.sendall(b"data")
        assert reader.response().body == b"data"


def test_expect_100_continue_sent_at_once_when_configured(kit: Any) -> None:
    config = kit.QUIET.replace(expect_continue_eager=True)
    with kit.running(kit.hello_app, config) as server, kit.connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        )
        reader = kit.Reader(sock)
        assert reader.response(head_only=True).status == 100
        sock.sendall(b"data")
        assert reader.response().body == b"Hello"


def test_app_answering_without_reading_skips_100_and_closes(kit: Any) -> None:
    with kit.running(kit.hello_app) as server, kit.connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"
        )
        data = kit.read_all(sock)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"Hello")


def test_other_expectations_get_417(kit: Any) -> None:
    with kit.running(kit.hello_app) as server:
        data = kit.roundtrip(server, b"GET / HTTP/1.1\r\nHost: t\r\nExpect: teapot\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 417 Expectation Failed\r\n")


def test_absolute_form_target_gives_path_info_from_its_path(kit: Any) -> None:
    with kit.running(kit.echo_app) as server, kit.connect(server) as sock:
        sock.sendall(b"GET http://test/x/y?q=1 HTTP/1.1\r\nHost: test\r\n\r\n")
        assert kit.Reader(sock).response().header("X-Path") == "/x/y"


def test_underscore_headers_are_dropped_and_repeats_joined(kit: Any) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: t\r\nX-Auth-User: alice\r\nX_Auth_User: mallory\r\n"
            b"Accept: a\r\nAccept: b\r\nCookie: c=1\r\nCookie: d=2\r\n\r\n"
        )
        kit.Reader(sock).response()
    assert seen["HTTP_X_AUTH_USER"] == "alice"
    assert seen["HTTP_ACCEPT"] == "a,b"
    assert seen["HTTP_COOKIE"] == "c=1; d=2"


def test_environ_has_the_wsgi_keys_of_a_threaded_server(kit: Any) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.update(environ)
        start_response("200 OK", [])
        return []

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(b"GET /p%61th?q=1 HTTP/1.1\r\nHost: t\r\nContent-Type: a/b\r\n\r\n")
        response = kit.Reader(sock).response()
    assert response.header("Content-Length") == "0"
    assert seen["wsgi.multithread"] is True
    assert seen["wsgi.multiprocess"] is False
    assert seen["wsgi.version"] == (1, 0)
    assert seen["wsgi.url_scheme"] == "http"
    assert (seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/path", "q=1")
    assert seen["CONTENT_TYPE"] == "a/b"
    assert seen["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert "HTTP_CONTENT_TYPE" not in seen


SMUGGLING = [
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\nabc", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
        400,
    ),
    (b"GET / HTTP/1.1\nHost: t\n\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\rX: y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX : y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: t\r\nX: y\r\n z\r\n\r\n", 400),
    (b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET /a\x7fb HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
]


@pytest.mark.parametrize(("request_bytes", "status"), SMUGGLING)
def test_ambiguous_or_malformed_request_is_refused_and_the_connection_closed(
    kit: Any, request_bytes: bytes, status: int
) -> None:
    calls = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        calls.append(1)
        environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"ok"]

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(request_bytes + GET % b"/smuggled")
        data = kit.read_all(sock)
    assert f" {status} ".encode() in data.split(b"\r\n", 1)[0] or data.startswith(b"<!DOCTYPE")
    assert str(status).encode() in data
    assert b"/smuggled" not in data
    assert data.count(b"\r\nServer: ") <= 1  # one response, then the connection closed


def test_head_request_refused_after_its_method_gets_no_error_body(kit: Any) -> None:
    with kit.running(kit.hello_app) as server:
        data = kit.roundtrip(server, b"HEAD / HTTP/1.1\r\n\n")
    assert data.startswith(b"HTTP/1.0 400 ")
    assert data.endswith(b"\r\n\r\n")


def test_request_line_over_the_limit_is_414(kit: Any) -> None:
    config = kit.QUIET.replace(max_request_line_bytes=1024)
    with kit.running(kit.hello_app, config) as server:
        data = kit.roundtrip(server, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    assert data.startswith(b"HTTP/1.0 414 Request-URI Too Long\r\n")


def test_too_many_headers_is_431(kit: Any) -> None:
    config = kit.QUIET.replace(max_header_count=10)
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(11))
    with kit.running(kit.hello_app, config) as server:
        data = kit.roundtrip(server, b"GET / HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n")
    assert data.startswith(b"HTTP/1.1 431 Too many headers\r\n")


def test_header_section_over_the_byte_limit_is_431_without_reading_it_all(kit: Any) -> None:
    config = kit.QUIET.replace(max_header_bytes=4096)
    with kit.running(kit.hello_app, config) as server, kit.connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX: " + b"v" * 5000)
        data = kit.read_all(sock)  # answered before the head ends
    assert b" 431 " in data.split(b"\r\n", 1)[0]


def test_flood_of_headers_keeps_memory_bounded(kit: Any) -> None:
    config = kit.QUIET.replace(max_header_bytes=8192)
    with kit.running(kit.hello_app, config) as server, kit.connect(server) as sock:
        sent = 0
        try:
            while sent < 10_000_000:
                sock.sendall(b"X-Flood: " + b"y" * 1000 + b"\r\n")
                sent += 1011
        except OSError:
            pass
        assert sent < 10_000_000  # the server stopped reading and closed


def test_body_over_the_limit_is_413(kit: Any) -> None:
    config = kit.QUIET.replace(max_body_bytes=100)
    with kit.running(kit.echo_app, config) as server:
        data = kit.roundtrip(server, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 413 ")
        two_chunks = b"40\r\n" + b"x" * 64 + b"\r\n40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n"
        chunked = kit.roundtrip(
            server, b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + two_chunks
        )
        assert chunked.startswith(b"HTTP/1.1 413 ")


def test_dual_stack_server_answers_ipv6_and_ipv4(kit: Any) -> None:
    with kit.running(kit.hello_app, host="::") as server:
        port = server.server_address[1]
        for family, host in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect((host, port))
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                assert kit.read_all(sock).endswith(b"Hello")


def test_slow_app_does_not_block_other_clients(kit: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            time.sleep(1.0)
        start_response("200 OK", [])
        return [b"done"]

    with kit.running(app) as server, kit.connect(server) as slow:
        slow.sendall(GET % b"/slow")
        time.sleep(0.05)
        started = time.monotonic()
        assert kit.roundtrip(
            server, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        ).endswith(b"done")
        assert time.monotonic() - started < 0.5
        assert kit.Reader(slow).response().body == b"done"


@pytest.mark.parametrize(
    "changes",
    [
        {"threads": 0},
        {"max_body_bytes": -1},
        {"idle_timeout_s": float("nan")},
        {"header_timeout_s": float("inf")},
        {"threads": "8"},
        {"threads": 10_001},
        {"handoff_s": 0.0001},
    ],
)
def test_config_refuses_nonsense(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes))):
        ServerConfig(**changes)


def test_request_pipelined_behind_a_slow_one_is_served_after_it(kit: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/slow":
            time.sleep(0.3)
        start_response("200 OK", [("X-Path", environ["PATH_INFO"])])
        return [b"ok"]

    with kit.running(app) as server, kit.connect(server) as sock:
        reader = kit.Reader(sock)
        sock.sendall(GET % b"/first")
        assert reader.response().header("X-Path") == "/first"
        sock.sendall(GET % b"/slow")
        time.sleep(0.1)  # the slow request is being served by a worker now
        sock.sendall(GET % b"/next")  # readable while its connection is busy
        assert kit.roundtrip(server, b"GET /other HTTP/1.0\r\n\r\n").endswith(b"ok")
        assert reader.response().header("X-Path") == "/slow"
        assert reader.response().header("X-Path") == "/next"


def test_file_wrapper_over_a_real_file_is_sent_whole_with_its_length(
    kit: Any, tmp_path: Any
) -> None:
    payload = bytes(range(256)) * 1000
    path = tmp_path / "data.bin"
    path.write_bytes(payload)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        handle = path.open("rb")
        handle.seek(56)
        return environ["wsgi.file_wrapper"](handle)

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(GET % b"/" + b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + GET % b"/")
        reader = kit.Reader(sock)
        first = reader.response()
        assert first.header("Content-Length") == str(len(payload) - 56)
        assert first.body == payload[56:]
        assert reader.response(head_only=True).header("Content-Length") == str(len(payload) - 56)
        assert reader.response().body == payload[56:]


def test_file_wrapper_over_a_non_file_is_iterated(kit: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"x" * 20000), 8192)

    with kit.running(app) as server, kit.connect(server) as sock:
        sock.sendall(GET % b"/")
        response = kit.Reader(sock).response()
    assert response.header("Transfer-Encoding") == "chunked"
    assert response.body == b"x" * 20000
