"""HTTPS with the standard library's recipe: ``httpd.socket = context.wrap_socket(...)``.

The server is made by ``make_server`` and its listening socket wrapped afterwards, as
``wsgiref`` users (and ``prometheus_client.start_wsgi_server``) do; ``serve_forever``
serves it through the engine, with handshakes driven by the event loop. Certificates
come from ``trustme``. The functional tests run with no ``ServerConfig`` at all (the
recipe as written) and under the ``poll`` and ``select`` selectors.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trustme
from wsgi_simple_server import ServerConfig, WSGIServer, make_server
from wsgi_simple_server._connection import Connection

BIG = bytes(range(256)) * 4096  # 1 MiB


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read()
    elif path == "/echo-bytewise":  # reads the body one byte at a time
        wsgi_input = environ["wsgi.input"]
        body = b"".join(iter(lambda: wsgi_input.read(1), b""))
    elif path == "/scheme":
        body = f"{environ['wsgi.url_scheme']} {environ.get('HTTPS')}".encode()
    elif path == "/big":
        start_response("200 OK", [("Content-Length", str(len(BIG)))])
        return (BIG[i : i + 65536] for i in range(0, len(BIG), 65536))
    else:
        body = b"Hello"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


class SmallSendBuffers(WSGIServer):
    """Gives each connection a 16 KiB send buffer (in verify_request, which the engine
    calls), so that a large response waits for a slow reader rather than fill the
    kernel's buffers, which on loopback can take a megabyte."""

    def verify_request(self, request: Any, client_address: Any) -> bool:
        request.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        return True


@contextmanager
def https_server(
    context: ssl.SSLContext,
    config: ServerConfig | None = None,
    server_class: type[WSGIServer] = WSGIServer,
) -> Iterator[WSGIServer]:
    """The recipe: make_server, wrap the listening socket, serve_forever in a thread."""
    if config is None:
        httpd = make_server("127.0.0.1", 0, app, server_class)
    else:
        httpd = make_server("127.0.0.1", 0, app, server_class, config=config)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
    assert not thread.is_alive()


def port(httpd: WSGIServer) -> int:
    return int(httpd.server_address[1])


# None: the recipe as written, without a ServerConfig (and the default selector).
@pytest.fixture(params=[None, "poll", "select"], ids=["default", "poll", "select"])
def config(request: pytest.FixtureRequest) -> ServerConfig | None:
    selector = request.param
    return None if selector is None else ServerConfig(selector=selector, access_log=False)


@pytest.fixture
def httpd(server_context: ssl.SSLContext, config: ServerConfig | None) -> Iterator[WSGIServer]:
    with https_server(server_context, config) as server:
        yield server


@pytest.fixture
def client(
    httpd: WSGIServer, client_context: ssl.SSLContext
) -> Iterator[http.client.HTTPSConnection]:
    conn = http.client.HTTPSConnection("127.0.0.1", port(httpd), context=client_context, timeout=5)
    try:
        yield conn
    finally:
        conn.close()


def tls_socket(httpd: WSGIServer, context: ssl.SSLContext) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port(httpd)), timeout=5)
    return context.wrap_socket(sock, server_hostname="127.0.0.1")


# -- served as over plain HTTP ---------------------------------------------------------


def test_get_is_answered_over_tls(client: http.client.HTTPSConnection) -> None:
    client.request("GET", "/")
    response = client.getresponse()
    assert (response.status, response.read()) == (200, b"Hello")


def test_post_body_reaches_the_application(client: http.client.HTTPSConnection) -> None:
    client.request("POST", "/echo", body=b"x=1&y=2" * 1000)
    response = client.getresponse()
    assert (response.status, response.read()) == (200, b"x=1&y=2" * 1000)


def test_two_requests_share_one_tls_connection(client: http.client.HTTPSConnection) -> None:
    client.request("GET", "/")
    assert client.getresponse().read() == b"Hello"
    first = client.sock
    client.request("POST", "/echo", body=b"again")
    assert client.getresponse().read() == b"again"
    assert client.sock is first  # kept alive: no second connection, no second handshake


def test_chunked_upload_is_decoded(client: http.client.HTTPSConnection) -> None:
    client.request("POST", "/echo", body=iter([b"abc", b"", b"defgh", b"i" * 70000]))
    response = client.getresponse()
    assert response.read() == b"abcdefgh" + b"i" * 70000


def test_head_has_the_get_length_and_no_body(client: http.client.HTTPSConnection) -> None:
    client.request("HEAD", "/")
    response = client.getresponse()
    assert response.status == 200
    assert response.getheader("Content-Length") == "5"
    assert response.read() == b""
    client.request("GET", "/")  # the connection is still in step
    assert client.getresponse().read() == b"Hello"


def test_url_scheme_is_https(client: http.client.HTTPSConnection) -> None:
    client.request("GET", "/scheme")
    assert client.getresponse().read() == b"https on"


def test_a_large_response_reaches_a_slow_reader_whole(
    server_context: ssl.SSLContext,
    config: ServerConfig | None,
    client_context: ssl.SSLContext,
    monkeypatch: pytest.MonkeyPatch,
    kit: Any,
) -> None:
    """1 MiB to a client that reads nothing at first: the server's TLS writes wait
    (ssl.SSLWantWriteError), and go on where they stopped once the client reads."""
    write_waits = threading.Event()
    wait = Connection._wait

    def spy(self: Connection, write: bool, timeout_s: float) -> None:
        if write:
            write_waits.set()
        wait(self, write, timeout_s)

    monkeypatch.setattr(Connection, "_wait", spy)
    with https_server(server_context, config, SmallSendBuffers) as httpd:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.settimeout(5)
        with contextlib.closing(sock):
            sock.connect(("127.0.0.1", port(httpd)))
            with client_context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
                assert write_waits.wait(5), "the server never had to wait to send"
                response = kit.Reader(tls).response()
    assert response.status == 200
    assert response.body == BIG


def test_a_request_left_decrypted_in_the_ssl_object_is_served(
    httpd: WSGIServer, client_context: ssl.SSLContext, kit: Any
) -> None:
    """A body read one byte at a time leaves the rest of its TLS record, and the next
    request in it, decrypted in the ssl object (pending()), where no selector sees it."""
    with tls_socket(httpd, client_context) as tls:
        tls.sendall(b"POST /echo-bytewise HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        tls.sendall(b"0123456789GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # a second record
        reader = kit.Reader(tls)
        assert reader.response().body == b"0123456789"
        assert reader.response().body == b"Hello"


def test_connection_close_sends_close_notify(
    httpd: WSGIServer, client_context: ssl.SSLContext, kit: Any
) -> None:
    """The server ends a TLS connection with close_notify (RFC 8446 section 6.1): the
    client sees a clean end of stream, not a truncation (RFC 9112 section 9.8)."""
    sock = socket.create_connection(("127.0.0.1", port(httpd)), timeout=5)
    with client_context.wrap_socket(
        sock, server_hostname="127.0.0.1", suppress_ragged_eofs=False
    ) as tls:
        tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = kit.read_all(tls)  # raises ssl.SSLEOFError on an end without close_notify
    assert data.startswith(b"HTTP/1.0 200 OK\r\n")
    assert data.endswith(b"\r\n\r\nHello")


def test_lingering_close_sends_close_notify_then_discards_the_upload(
    httpd: WSGIServer, client_context: ssl.SSLContext, kit: Any
) -> None:
    """A body left unread with "Connection: close" makes the server linger (RFC 9112
    section 9.6): close_notify, the TCP sending side shut, what the client sends
    discarded, over TLS as over plain TCP."""
    sock = socket.create_connection(("127.0.0.1", port(httpd)), timeout=5)
    with client_context.wrap_socket(
        sock, server_hostname="127.0.0.1", suppress_ragged_eofs=False
    ) as tls:
        tls.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Length: 1000000\r\n\r\n" + b"u" * 100000
        )
        response = kit.Reader(tls).response()
        assert (response.status, response.body) == (200, b"Hello")
        assert kit.read_all(tls) == b""  # close_notify: a clean end, not SSLEOFError
        tls.sendall(b"u" * 100000)  # still taken (and discarded) while the server lingers


# -- handshakes hold no worker ---------------------------------------------------------


@pytest.fixture
def one_worker(server_context: ssl.SSLContext) -> Iterator[WSGIServer]:
    config = ServerConfig(threads=1, header_timeout_s=1.0, access_log=False)
    with https_server(server_context, config) as server:
        yield server


def test_a_silent_client_holds_no_worker(
    one_worker: WSGIServer, client_context: ssl.SSLContext, kit: Any
) -> None:
    """With one worker, clients that connect and send nothing, or half a ClientHello,
    do not hold up another client's handshake and requests; they are closed at the
    header deadline."""
    address = ("127.0.0.1", port(one_worker))
    with (
        socket.create_connection(address, timeout=5) as silent,
        socket.create_connection(address, timeout=5) as halfway,
    ):
        halfway.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a record cut short
        for _ in range(3):
            conn = http.client.HTTPSConnection(*address, context=client_context, timeout=5)
            try:
                for _ in range(2):
                    conn.request("GET", "/")
                    assert conn.getresponse().read() == b"Hello"
            finally:
                conn.close()
        assert kit.read_all(silent) == b""  # closed by the server at the deadline
        assert kit.read_all(halfway) == b""


def test_plain_http_on_the_tls_port_is_closed_and_serving_goes_on(
    one_worker: WSGIServer,
    client_context: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
    kit: Any,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsgi_simple_server")
    address = ("127.0.0.1", port(one_worker))
    with socket.create_connection(address, timeout=5) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"HTTP/1.1" not in kit.read_all(plain)
    kit.wait_for(lambda: any("TLS handshake" in r.getMessage() for r in caplog.records))
    conn = http.client.HTTPSConnection(*address, context=client_context, timeout=5)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"Hello"
    finally:
        conn.close()
    failures = [r for r in caplog.records if r.levelno > logging.DEBUG or r.exc_info]
    assert failures == []


def test_a_client_refusing_the_certificate_is_closed_and_serving_goes_on(
    one_worker: WSGIServer, client_context: ssl.SSLContext
) -> None:
    address = ("127.0.0.1", port(one_worker))
    untrusting = ssl.create_default_context()  # does not know the test CA
    with (
        socket.create_connection(address, timeout=5) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        untrusting.wrap_socket(sock, server_hostname="127.0.0.1")
    conn = http.client.HTTPSConnection(*address, context=client_context, timeout=5)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"Hello"
    finally:
        conn.close()
