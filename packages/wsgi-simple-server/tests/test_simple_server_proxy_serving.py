"""Behind a proxy, on a running server: the forwarding fields and the PROXY protocol on
every serving path (the engine, a handler overriding ``get_environ``, the standard
library's one-request path), over plain sockets and TLS."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import struct
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import trustme
from live_server import address, connect, forwarding_app, read_all, roundtrip, running
from wsgi_simple_server import ServerConfig, WSGIRequestHandler, WSGIServer, make_server
from wsgi_simple_server._proxy import V2_SIGNATURE

QUIET = ServerConfig(access_log=False, threads=4, shutdown_timeout_s=2.0)


class CustomEnviron(WSGIRequestHandler):
    """Overrides get_environ: the engine calls it per request."""

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["CUSTOM"] = "1"
        return env


class StdlibPath(WSGIRequestHandler):
    """Overrides setup (a socket hook): serve_forever serves as the standard library."""

    def setup(self) -> None:
        super().setup()


PATHS: dict[str, type[WSGIRequestHandler] | None] = {
    "engine": None,
    "get_environ": CustomEnviron,
    "stdlib": StdlibPath,
}


def ask(sock: socket.socket, head: bytes) -> dict[str, Any]:
    sock.sendall(head)
    response = read_all(sock)
    status, _, body = response.partition(b"\r\n\r\n")
    assert status.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")), response
    result: dict[str, Any] = json.loads(body)
    return result


GET = b"GET /p?q=1 HTTP/1.1\r\nHost: backend:8000\r\nConnection: close\r\n"


@pytest.fixture(params=list(PATHS))
def path(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@contextmanager
def serving(
    path: str, config: ServerConfig, host: str = "127.0.0.1", app: Any = forwarding_app
) -> Iterator[WSGIServer]:
    """Serve *app* on *path* (a key of ``PATHS``), its warnings silenced."""
    handler = PATHS[path] or WSGIRequestHandler
    server = make_server(host, 0, app, handler_class=handler, config=config)
    with pytest.MonkeyPatch.context() as patch, running(server):
        patch.setattr(logging.getLogger("wsgi_simple_server"), "disabled", True)
        yield server


def test_x_forwarded_from_a_trusted_proxy(path: str) -> None:
    config = QUIET.replace(
        trusted_proxy_headers="x-forwarded-for,x-forwarded-proto,x-forwarded-host"
    )
    with serving(path, config) as server, connect(server) as sock:
        seen = ask(
            sock,
            GET + b"X-Forwarded-For: 203.0.113.9, 127.0.0.1\r\n"
            b"X-Forwarded-Proto: https\r\nX-Forwarded-Host: shop.example\r\n\r\n",
        )
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["HTTPS"] == "on"
    assert seen["HTTP_HOST"] == "shop.example"
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"]) == ("shop.example", "443")
    assert seen["uri"] == "https://shop.example/p?q=1"


def test_forwarded_from_a_trusted_proxy(path: str) -> None:
    with (
        serving(path, QUIET.replace(trusted_proxy_headers="forwarded")) as server,
        connect(server) as sock,
    ):
        seen = ask(
            sock,
            GET + b'Forwarded: for="[2001:db8::5]:4711";proto=https;host="a.example:8443"\r\n\r\n',
        )
    assert (seen["REMOTE_ADDR"], seen["REMOTE_PORT"]) == ("2001:db8::5", "4711")
    assert seen["uri"] == "https://a.example:8443/p?q=1"


SPOOFS = (
    b"Forwarded: for=127.0.0.1;proto=http;host=evil.example\r\n"
    b"X-Forwarded-Host: evil.example\r\nX-Forwarded-Port: 8443\r\n"
    b"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n\r\n"
)


def test_by_default_a_trusted_proxy_is_believed_for_the_client_and_scheme_only(
    path: str,
) -> None:
    # A proxy that sets X-Forwarded-For and -Proto but passes on the client's own
    # Forwarded, X-Forwarded-Host and -Port (nginx's usual configuration).
    with serving(path, QUIET) as server, connect(server) as sock:
        seen = ask(sock, GET + SPOOFS)
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["uri"] == "https://backend:8000/p?q=1"
    for key in ("HTTP_FORWARDED", "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT"):
        assert seen[key] is None, key
    assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"


@pytest.mark.parametrize(
    "headers", ["", "x-forwarded-host", "x-forwarded-port", "forwarded", "*", "X-Forwarded-For"]
)
def test_the_engine_and_the_standard_library_path_agree(headers: str) -> None:
    config = QUIET.replace(trusted_proxy_headers=headers)
    seen = {}
    for path in PATHS:
        with serving(path, config) as server, connect(server) as sock:
            seen[path] = ask(sock, GET + SPOOFS)
            if seen[path]["SERVER_PORT"] == str(address(server)[1]):  # each has its own
                seen[path]["SERVER_PORT"] = "the server's"
    assert seen["engine"] == seen["get_environ"] == seen["stdlib"], seen


def test_forwarding_fields_of_an_untrusted_peer_never_reach_the_application(path: str) -> None:
    config = QUIET.replace(forwarded_allow_ips="10.9.9.9")
    with serving(path, config) as server, connect(server) as sock:
        seen = ask(
            sock,
            GET + b"X-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: https\r\n"
            b"Forwarded: for=203.0.113.9\r\n\r\n",
        )
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["wsgi.url_scheme"] == "http"
    assert seen["HTTP_FORWARDED"] is None
    assert seen["HTTP_X_FORWARDED_FOR"] is None
    assert seen["HTTP_X_FORWARDED_PROTO"] is None
    assert seen["uri"] == "http://backend:8000/p?q=1"


def test_malformed_forwarding_is_ignored_not_a_500(path: str) -> None:
    with serving(path, QUIET) as server, connect(server) as sock:
        seen = ask(sock, GET + b"X-Forwarded-For: nonsense\r\nX-Forwarded-Proto: https\r\n\r\n")
    assert seen["REMOTE_ADDR"] == "127.0.0.1"
    assert seen["wsgi.url_scheme"] == "http"


def test_a_clients_junk_before_its_address_does_not_make_it_local(path: str) -> None:
    # nginx's $proxy_add_x_forwarded_for appends the client's address to what it sent.
    with serving(path, QUIET) as server, connect(server) as sock:
        seen = ask(sock, GET + b"X-Forwarded-For: junk, 203.0.113.5\r\n\r\n")
    assert seen["REMOTE_ADDR"] == "203.0.113.5"


def proxy_v1(src: str = "203.0.113.9", sport: int = 51000) -> bytes:
    family = "TCP6" if ":" in src else "TCP4"
    dst = "::1" if ":" in src else "127.0.0.1"
    return f"PROXY {family} {src} {dst} {sport} 8000\r\n".encode()


def proxy_v2(src: str = "203.0.113.9", sport: int = 51000, command: int = 1) -> bytes:
    block = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, 80)
    block += b"\x03\x00\x04abcd"  # a CRC32c TLV, skipped
    return V2_SIGNATURE + bytes([0x20 | command, 0x11]) + struct.pack("!H", len(block)) + block


PROXIED = QUIET.replace(proxy_protocol=True)


@pytest.mark.parametrize("header", [proxy_v1(), proxy_v2()], ids=["v1", "v2"])
def test_proxy_protocol_header_gives_the_client_address(path: str, header: bytes) -> None:
    with serving(path, PROXIED) as server, connect(server) as sock:
        seen = ask(sock, header + GET + b"\r\n")
    assert seen["REMOTE_ADDR"] == "203.0.113.9"


def test_proxy_protocol_header_in_pieces_then_keep_alive_requests() -> None:
    with serving("engine", PROXIED) as server, connect(server) as sock:
        header = proxy_v2()
        for i in range(len(header)):
            sock.sendall(header[i : i + 1])
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += sock.recv(65536)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            body = head.partition(b"\r\n\r\n")[2]
            while len(body) < length:
                body += sock.recv(65536)
            assert json.loads(body)["REMOTE_ADDR"] == "203.0.113.9"


def test_proxy_protocol_local_and_unknown_keep_the_peer_address(path: str) -> None:
    for header in (b"PROXY UNKNOWN\r\n", proxy_v2(command=0)):
        with serving(path, PROXIED) as server, connect(server) as sock:
            assert ask(sock, header + GET + b"\r\n")["REMOTE_ADDR"] == "127.0.0.1"


def test_proxy_protocol_then_trusted_forwarding_from_the_proxied_client(path: str) -> None:
    # The PROXY header's client (203.0.113.9) is not a trusted proxy: its
    # X-Forwarded-For is removed, not believed.
    with serving(path, PROXIED) as server, connect(server) as sock:
        seen = ask(sock, proxy_v1() + GET + b"X-Forwarded-For: 6.6.6.6\r\n\r\n")
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["HTTP_X_FORWARDED_FOR"] is None


@pytest.mark.parametrize(
    "data",
    [
        GET + b"\r\n",  # no header from a peer in proxy_allow_ips: the spec forbids guessing
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n" + GET + b"\r\n",
        V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\x00" * 12 + GET + b"\r\n",  # version 3
    ],
    ids=["missing", "bad-v1", "bad-v2"],
)
def test_connection_without_a_valid_proxy_header_is_closed_unanswered(
    path: str, data: bytes
) -> None:
    with serving(path, PROXIED) as server:
        assert roundtrip(server, data) == b""
        # The server goes on serving.
        with connect(server) as sock:
            assert ask(sock, proxy_v1() + GET + b"\r\n")["REMOTE_ADDR"] == "203.0.113.9"


def test_proxy_header_from_a_peer_not_allowed_is_refused(path: str) -> None:
    config = PROXIED.replace(proxy_allow_ips="10.9.9.9")
    with serving(path, config) as server:
        # A request line of seven words: 400 (on the standard library's path without
        # a status line, as it answers what it takes for HTTP/0.9).
        response = roundtrip(server, proxy_v1() + GET + b"\r\n")
        assert b"Error code: 400" in response
        with connect(server) as sock:  # a plain request from it is served as one
            assert ask(sock, GET + b"\r\n")["REMOTE_ADDR"] == "127.0.0.1"


def test_a_proxy_that_never_finishes_its_header_is_closed_at_header_timeout(path: str) -> None:
    config = PROXIED.replace(header_timeout_s=0.3)
    with serving(path, config) as server:
        with connect(server, timeout=10) as sock:
            sock.sendall(b"PROXY TCP4 1.2.3.4")
            assert read_all(sock) == b""
        with connect(server) as sock:  # and the server goes on
            assert ask(sock, proxy_v1() + GET + b"\r\n")["REMOTE_ADDR"] == "203.0.113.9"


def test_a_client_that_never_finishes_its_head_is_closed_at_header_timeout(path: str) -> None:
    with serving(path, QUIET.replace(header_timeout_s=0.3)) as server:
        with connect(server, timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            assert b"200" not in read_all(sock)
        with connect(server) as sock:
            assert ask(sock, GET + b"\r\n")["REMOTE_ADDR"] == "127.0.0.1"


def test_proxy_protocol_over_ipv6() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    with serving("engine", PROXIED, host="::1") as server, connect(server) as sock:
        seen = ask(sock, proxy_v1("2001:db8::9") + GET + b"\r\n")
    assert seen["REMOTE_ADDR"] == "2001:db8::9"


# -- TLS: the PROXY header comes before the handshake, in clear ------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextmanager
def tls_serving(ca: trustme.CA, config: ServerConfig, path: str = "engine") -> Iterator[WSGIServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    handler = PATHS[path] or WSGIRequestHandler
    server = make_server("127.0.0.1", 0, forwarding_app, handler_class=handler, config=config)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with pytest.MonkeyPatch.context() as patch, running(server):
        patch.setattr(logging.getLogger("wsgi_simple_server"), "disabled", True)
        yield server


@pytest.mark.parametrize("header", [proxy_v1(), proxy_v2()], ids=["v1", "v2"])
def test_proxy_protocol_in_front_of_tls(ca: trustme.CA, header: bytes, path: str) -> None:
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with tls_serving(ca, PROXIED, path) as server:
        raw = socket.create_connection(address(server), timeout=5)
        raw.sendall(header)
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            seen = ask(sock, GET + b"\r\n")
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"


def test_proxy_header_in_pieces_in_front_of_tls(ca: trustme.CA, path: str) -> None:
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with tls_serving(ca, PROXIED, path) as server:
        raw = socket.create_connection(address(server), timeout=5)
        header = proxy_v1()
        raw.sendall(header[:10])
        # Wait until the server has taken those bytes (it has nothing to answer yet).
        raw.settimeout(0.2)
        with pytest.raises(TimeoutError):
            raw.recv(1)
        raw.settimeout(5)
        raw.sendall(header[10:])
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            assert ask(sock, GET + b"\r\n")["REMOTE_ADDR"] == "203.0.113.9"


@pytest.mark.parametrize("stall", [b"", b"\x16\x03\x01"], ids=["silent", "half-hello"])
def test_a_stalled_tls_handshake_does_not_hold_up_the_server(
    ca: trustme.CA, path: str, stall: bytes
) -> None:
    client = ssl.create_default_context()
    ca.configure_trust(client)
    with (
        tls_serving(ca, QUIET.replace(header_timeout_s=0.3), path) as server,
        connect(server, timeout=10) as stalled,
    ):
        stalled.sendall(stall)
        raw = socket.create_connection(address(server), timeout=5)
        with client.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            assert ask(sock, GET + b"\r\n")["wsgi.url_scheme"] == "https"
        assert read_all(stalled) == b""  # closed at the header timeout


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.written = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.written.set()


@pytest.mark.parametrize("path", ["engine", "stdlib"])
def test_the_access_log_names_the_proxied_client(path: str) -> None:
    access = logging.getLogger("wsgi_simple_server.access")
    handler = _Lines()
    access.addHandler(handler)
    try:
        with serving(path, PROXIED.replace(access_log=True)) as server:
            with connect(server) as sock:
                ask(sock, proxy_v1() + GET + b"\r\n")
            assert handler.written.wait(10)  # written once the response is sent
    finally:
        access.removeHandler(handler)
    assert len(handler.lines) == 1
    assert handler.lines[0].startswith("203.0.113.9 - - [")


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix domain sockets here")
def test_a_unix_socket_peer_is_a_trusted_proxy(tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    server = WSGIServer.from_listeners([f"unix:{path}"], config=PROXIED)
    server.set_app(forwarding_app)
    with running(server):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            seen = ask(sock, proxy_v1("10.1.1.1") + GET + b"X-Forwarded-Proto: https\r\n\r\n")
        # The PROXY header's client (10.1.1.1) is no trusted proxy: its field is dropped.
        assert seen["REMOTE_ADDR"] == "10.1.1.1"
        assert seen["HTTP_X_FORWARDED_PROTO"] is None
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            seen = ask(
                sock,
                b"PROXY UNKNOWN\r\n" + GET + b"X-Forwarded-For: 203.0.113.9\r\n"
                b"X-Forwarded-Proto: https\r\n\r\n",
            )
    assert seen["REMOTE_ADDR"] == "203.0.113.9"
    assert seen["wsgi.url_scheme"] == "https"


# -- the request as the engine reads it, on every path ---------------------------------


def request_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answer with the request's target, Host, framing and body, as JSON."""
    body = environ["wsgi.input"].read()
    seen = {
        key: environ.get(key)
        for key in (
            "PATH_INFO",
            "QUERY_STRING",
            "HTTP_HOST",
            "CONTENT_LENGTH",
            "HTTP_TRANSFER_ENCODING",
            "wsgi.input_terminated",
        )
    }
    seen["body"] = body.decode("latin-1")
    data = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


CHUNKED = b"POST /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"


def test_a_chunked_body_is_decoded_and_given_its_length(path: str) -> None:
    body = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: t\r\n\r\n"
    with serving(path, QUIET, app=request_app) as server, connect(server) as sock:
        seen = ask(sock, CHUNKED + body)
    assert seen["body"] == "hello, world"
    assert seen["CONTENT_LENGTH"] == "12"
    assert seen["HTTP_TRANSFER_ENCODING"] is None
    assert seen["wsgi.input_terminated"] is True


@pytest.mark.parametrize(
    ("head", "body", "status"),
    [
        (CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n", 400),  # not a chunk size
        (CHUNKED, b"3\r\nhello\r\n0\r\n\r\n", 400),  # longer than its size
        (CHUNKED.replace(b"chunked", b"gzip, chunked"), b"0\r\n\r\n", 501),
        (CHUNKED.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n"), b"0\r\n\r\n", 400),
        (CHUNKED.replace(b"HTTP/1.1", b"HTTP/1.0"), b"0\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5x\r\n\r\n", b"hello", 400),
    ],
    ids=["size", "overlong", "gzip", "with-length", "http10", "bad-length"],
)
def test_a_body_the_engine_refuses_is_refused_on_every_path(
    path: str, head: bytes, body: bytes, status: int
) -> None:
    with serving(path, QUIET, app=request_app) as server:
        assert status_of(roundtrip(server, head + body)) == status
        with connect(server) as sock:  # and the server goes on
            assert ask(sock, GET + b"\r\n")["PATH_INFO"] == "/p"


def test_a_chunked_body_past_max_body_bytes_is_413(path: str) -> None:
    config = QUIET.replace(max_body_bytes=4)
    with serving(path, config, app=request_app) as server:
        assert status_of(roundtrip(server, CHUNKED + b"5\r\nhello\r\n0\r\n\r\n")) == 413


def test_an_absolute_form_target_gives_path_and_host_on_every_path(path: str) -> None:
    head = b"GET http://a.example:8080/x//y?q=%41 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n"
    with serving(path, QUIET, app=request_app) as server, connect(server) as sock:
        seen = ask(sock, head + b"\r\n")
    assert (seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/x//y", "q=%41")
    assert seen["HTTP_HOST"] == "a.example:8080"


@pytest.mark.parametrize(
    "target",
    [b"/a\x01b", b"x/y", b"*", b"http://[bad/"],
    ids=["control", "relative", "asterisk-get", "bad-authority"],
)
def test_a_target_the_engine_refuses_is_400_on_every_path(path: str, target: bytes) -> None:
    with serving(path, QUIET, app=request_app) as server:
        head = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        assert status_of(roundtrip(server, head)) == 400


def test_raw_non_ascii_in_the_target_is_the_one_difference(path: str) -> None:
    # The engine refuses what RFC 9112 does not allow; the standard library's path
    # reads it as wsgiref does, which CPython's own tests of wsgiref ask for.
    head = b"GET /caf\xe9%20x?q=\xe9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with serving(path, QUIET, app=request_app) as server:
        response = roundtrip(server, head)
    if path != "stdlib":
        assert status_of(response) == 400
        return
    seen = json.loads(response.partition(b"\r\n\r\n")[2])
    assert (seen["PATH_INFO"], seen["QUERY_STRING"]) == ("/caf\xe9 x", "q=\xe9")
