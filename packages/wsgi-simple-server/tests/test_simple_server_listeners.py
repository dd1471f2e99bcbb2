"""Listening sockets from the API: Unix domain sockets, several listeners, SO_REUSEPORT.

Clients: httpx (its Unix-socket transport), raw sockets. Every socket file lives in a
pytest temporary folder; every TCP port is 0 (a free one).
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import running
from wsgi_simple_server import ServerConfig, WSGIRequestHandler, WSGIServer, make_server
from wsgi_simple_server._listeners import bind_unix

QUIET = ServerConfig(access_log=False, threads=4, shutdown_timeout_s=2.0)


def where_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Answer with what the environ says of the server and the client."""
    body = " ".join(
        str(environ.get(key))
        for key in ("REMOTE_ADDR", "SERVER_NAME", "SERVER_PORT", "wsgi.url_scheme")
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@contextmanager
def serving(server: WSGIServer, app: Any = where_app) -> Iterator[WSGIServer]:
    server.set_app(app)
    with running(server):
        yield server


def get_unix(path: Path | str, target: str = "/") -> httpx.Response:
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=5) as client:
        return client.get("http://localhost" + target)


def get_tcp(sock: socket.socket) -> httpx.Response:
    host, port = sock.getsockname()[:2]
    url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
    return httpx.get(url, timeout=5)


def short_tmp(tmp_path: Path) -> Path:
    """A folder whose socket paths fit in sun_path (108 bytes on Linux)."""
    if len(str(tmp_path)) < 60:
        return tmp_path
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"wss-{os.getpid()}-{id(tmp_path)}"
    folder.mkdir()
    return folder


@pytest.fixture
def sock_dir(tmp_path: Path) -> Iterator[Path]:
    folder = short_tmp(tmp_path)
    yield folder
    if folder != tmp_path:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


# -- a Unix domain socket ----------------------------------------------------------------


def test_a_unix_socket_server_answers_with_unix_peer_and_localhost(sock_dir: Path) -> None:
    path = sock_dir / "app.sock"
    with serving(WSGIServer.from_listeners([f"unix:{path}"], config=QUIET)) as server:
        assert f"{server.server_address}" == str(path)  # the path, as UnixStreamServer has it
        response = get_unix(path)
        assert response.status_code == 200
        # nginx's $remote_addr for a Unix peer; a URL rebuilt from the environ is a URL.
        assert response.text == "unix: localhost 80 http"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666
    assert not path.exists()  # server_close removed the file it made


def test_the_socket_file_mode_is_the_one_asked_for(sock_dir: Path) -> None:
    path = sock_dir / "app.sock"
    server = WSGIServer.from_listeners([f"unix:{path}"], config=QUIET, uds_mode=0o600)
    with serving(server):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert get_unix(path).status_code == 200


def test_a_stale_socket_file_is_replaced(sock_dir: Path) -> None:
    path = sock_dir / "app.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))
    dead.close()  # the file stays, no one listens: a server that died
    assert path.exists()
    with serving(WSGIServer.from_listeners([f"unix:{path}"], config=QUIET)):
        assert get_unix(path).status_code == 200


def test_a_socket_someone_listens_on_is_refused(sock_dir: Path) -> None:
    path = sock_dir / "app.sock"
    with bind_unix(path), pytest.raises(OSError, match="another server listens") as info:
        WSGIServer.from_listeners([f"unix:{path}"], config=QUIET)
    assert info.value.errno == errno.EADDRINUSE
    assert path.exists()  # the other server's file is left alone


def test_a_file_that_is_not_a_socket_is_not_removed(sock_dir: Path) -> None:
    path = sock_dir / "app.sock"
    path.write_text("data")
    with pytest.raises(FileExistsError):
        WSGIServer.from_listeners([f"unix:{path}"], config=QUIET)
    assert path.read_text() == "data"


def test_the_access_log_and_an_error_page_name_the_unix_peer(
    sock_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A request handler whose hooks read client_address[0] (the standard library's
    address_string) works for a Unix peer: no IndexError on the peer's empty address."""

    class Logging(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            logging.getLogger("test.access").info("%s %s", self.address_string(), format % args)

    path = sock_dir / "app.sock"
    server = WSGIServer.from_listeners([f"unix:{path}"], Logging, config=QUIET)
    caplog.set_level(logging.INFO, logger="test.access")
    with serving(server):
        assert get_unix(path).status_code == 200
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
            raw.settimeout(5)
            raw.connect(str(path))
            raw.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")  # two Hosts: 400
            assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
    lines = [r.getMessage() for r in caplog.records if r.name == "test.access"]
    assert any(line.startswith('unix: "GET / HTTP/1.1" 200') for line in lines), lines
    assert any(line.startswith("unix: code 400") for line in lines), lines
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- several listeners -------------------------------------------------------------------


def test_make_server_stays_the_standard_librarys_and_listeners_are_added(
    sock_dir: Path,
) -> None:
    path = sock_dir / "app.sock"
    server = make_server("127.0.0.1", 0, where_app, config=QUIET)
    first = server.socket
    unix = server.add_listener(f"unix:{path}")
    ipv6 = server.add_listener("[::1]:0")
    assert server.sockets == [first, unix, ipv6]
    with serving(server):
        port = first.getsockname()[1]
        assert get_tcp(first).text == f"127.0.0.1 localhost {port} http"
        assert get_unix(path).text == "unix: localhost 80 http"
        v6_port = ipv6.getsockname()[1]
        text = get_tcp(ipv6).text
        assert text.startswith("::1 ")
        assert text.endswith(f" {v6_port} http")
    assert not path.exists()


def test_ipv4_and_ipv6_on_the_same_port_are_both_served() -> None:
    """An IPv6 listener from an address listens on IPv6 only, so that the IPv4
    address can be bound beside it on the same port."""
    v6 = WSGIServer.from_listeners(["[::1]:0"], config=QUIET)
    port = v6.server_address[1]
    try:
        v6.add_listener(f"127.0.0.1:{port}")
    except BaseException:
        v6.server_close()
        raise
    with serving(v6) as server:
        v4_sock, v6_sock = server.sockets[1], server.sockets[0]
        assert v4_sock.getsockname()[1] == v6_sock.getsockname()[1] == port
        assert get_tcp(v4_sock).text.startswith("127.0.0.1 ")
        assert get_tcp(v6_sock).text.startswith("::1 ")


def test_one_pool_serves_every_listener_and_keep_alive_works_on_each(sock_dir: Path) -> None:
    paths = [sock_dir / f"s{i}.sock" for i in range(3)]
    server = WSGIServer.from_listeners(
        [f"unix:{p}" for p in paths] + ["127.0.0.1:0"], config=QUIET.replace(threads=1)
    )
    with serving(server):
        for path in paths:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=5) as c:
                assert [c.get("http://x/").status_code for _ in range(3)] == [200] * 3
        assert get_tcp(server.sockets[3]).status_code == 200


def test_a_given_socket_is_served_and_closed_but_its_file_is_left(sock_dir: Path) -> None:
    path = sock_dir / "given.sock"
    sock = bind_unix(path)
    server = make_server("127.0.0.1", 0, where_app, config=QUIET)
    assert server.add_listener(sock) is sock
    with serving(server):
        assert get_unix(path).status_code == 200
    assert sock.fileno() == -1  # closed by server_close
    assert path.exists()  # the caller's file
    path.unlink()


def test_an_inherited_descriptor_is_adopted_with_its_family(sock_dir: Path) -> None:
    path = sock_dir / "inherited.sock"
    with bind_unix(path) as original:
        fd = os.dup(original.fileno())
        server = WSGIServer.from_listeners([f"fd://{fd}"], config=QUIET)
        with serving(server):
            assert server.socket.fileno() == fd
            assert server.socket.family == socket.AF_UNIX
            assert get_unix(path).text == "unix: localhost 80 http"
    path.unlink()


def test_a_listener_cannot_be_added_while_serving(sock_dir: Path) -> None:
    with serving(make_server("127.0.0.1", 0, where_app, config=QUIET)) as server:
        with pytest.raises(RuntimeError, match="before serve_forever"):
            server.add_listener(f"unix:{sock_dir / 'late.sock'}")
        assert server.sockets == [server.socket]
    assert not (sock_dir / "late.sock").exists()


def test_bad_listeners_are_refused_with_their_reason(sock_dir: Path) -> None:
    with pytest.raises(ValueError, match="needs at least one"):
        WSGIServer.from_listeners([], config=QUIET)
    with pytest.raises(ValueError, match="HOST:PORT"):
        WSGIServer.from_listeners(["8000"], config=QUIET)
    with pytest.raises(ValueError, match="brackets"):
        WSGIServer.from_listeners(["::1:8000"], config=QUIET)
    read, write = os.pipe()
    try:
        with pytest.raises(ValueError, match=f"descriptor {read} is not a socket"):
            WSGIServer.from_listeners([f"fd://{read}"], config=QUIET)
        os.fstat(read)  # left open
    finally:
        os.close(read)
        os.close(write)
    # The first listener opened, the second fails: the first is closed and its file gone.
    path = sock_dir / "first.sock"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(OSError, match="in use"):
            WSGIServer.from_listeners([f"unix:{path}", busy], config=QUIET)
    assert not path.exists()


def test_a_listener_given_twice_is_refused() -> None:
    with socket.create_server(("127.0.0.1", 0)) as tcp:
        fd = os.dup(tcp.fileno())  # closed with the server that failed, as it took it
        with pytest.raises(ValueError, match=f"descriptor {fd} is a listener already"):
            WSGIServer.from_listeners([f"fd://{fd}", f"fd://{fd}"], config=QUIET)
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(fd)  # closed once (no EBADF from server_close)
        copy = os.dup(tcp.fileno())  # another descriptor, the same socket
        with pytest.raises(ValueError, match="a listener is on"):
            WSGIServer.from_listeners([f"fd://{copy}", tcp], config=QUIET)
        os.fstat(tcp.fileno())  # a socket refused is left to its owner
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(copy)  # the one taken is closed with the server
    tcp = socket.create_server(("127.0.0.1", 0))
    server = make_server("127.0.0.1", 0, where_app, config=QUIET)
    with server:
        server.add_listener(tcp)
        with pytest.raises(ValueError, match="is a listener already"):
            server.add_listener(tcp)
        with pytest.raises(ValueError, match="is a listener already"):
            server.add_listener(f"fd://{server.socket.fileno()}")
        with (
            socket.socket(fileno=os.dup(server.socket.fileno())) as twin,
            pytest.raises(ValueError, match="a listener is on"),
        ):
            server.add_listener(twin)
        assert server.sockets == [server.socket, tcp]
        with serving(server):
            assert get_tcp(tcp).status_code == 200
    assert tcp.fileno() == -1  # closed once, by server_close, without EBADF


def test_several_listeners_with_a_handler_that_takes_the_socket_are_refused(
    sock_dir: Path,
) -> None:
    class OneByOne(WSGIRequestHandler):
        def handle(self) -> None:
            super().handle()

    server = make_server("127.0.0.1", 0, where_app, handler_class=OneByOne, config=QUIET)
    with server:
        server.add_listener(f"unix:{sock_dir / 'x.sock'}")
        with pytest.raises(RuntimeError, match=r"OneByOne\.handle is overridden"):
            server.serve_forever()


def test_backlog_and_reuse_port_apply_to_the_sockets_the_server_binds() -> None:
    config = QUIET.replace(reuse_port=True, backlog=16)
    first = make_server("127.0.0.1", 0, where_app, config=config)
    port = first.server_address[1]
    assert first.request_queue_size == 16
    assert first.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    try:
        second = make_server("127.0.0.1", port, where_app, config=config)
    except BaseException:
        first.server_close()
        raise
    with WSGIServer.from_listeners([f"127.0.0.1:{port}"], config=config) as third:
        assert third.socket.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
    with pytest.raises(ValueError, match="a listener is on"):  # one server, one socket each
        second.add_listener(f"127.0.0.1:{port}")
    assert second.sockets == [second.socket]

    def named(name: bytes) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            start_response("200 OK", [("Content-Length", str(len(name)))])
            return [name]

        return app

    with serving(first, named(b"first")), serving(second, named(b"second")):
        # All listen on the port; the kernel spreads new connections between them
        # (by a hash of the client's address and port: 40 connections reach both
        # servers but with a chance of 2 * (2/3)**40, about 2e-7).
        answers = {get_tcp(first.socket).text for _ in range(40)}
        assert answers == {"first", "second"}
    with pytest.raises(OSError, match="in use"), make_server("127.0.0.1", 0, where_app) as third:
        make_server("127.0.0.1", third.server_address[1], where_app)
