"""The engine on every OS: any ``selectors`` class, and plain sends where zero-copy is missing."""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest
from wsgi_simple_server import ServerConfig
from wsgi_simple_server._config import SELECTORS
from wsgi_simple_server._connection import Connection

WITHOUT_EPOLL = textwrap.dedent(
    """
    import select, sys, threading, urllib.request
    for name in [n for n in dir(select) if n.startswith("EPOLL")] + ["epoll"]:
        delattr(select, name)  # as on macOS, the BSDs and Windows
    sys.modules.pop("selectors", None)  # imported again without epoll
    import wsgi_simple_server

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served without epoll"]

    config = wsgi_simple_server.ServerConfig(access_log=False, threads=2)
    server = wsgi_simple_server.make_server("127.0.0.1", 0, app, config=config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        url = "http://127.0.0.1:%d/" % server.server_port
        print(urllib.request.urlopen(url, timeout=5).read().decode())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    """
)


def test_the_package_imports_and_serves_on_a_platform_without_epoll() -> None:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_EPOLL],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "served without epoll"


def test_the_selector_setting_names_a_selectors_class() -> None:
    assert ServerConfig().selector_class() is selectors.DefaultSelector
    assert ServerConfig(selector="select").selector_class() is selectors.SelectSelector
    with pytest.raises(ValueError, match="selector must be one of"):
        ServerConfig(selector="io_uring")
    missing = [name for name, cls in SELECTORS.items() if not hasattr(selectors, cls)]
    if missing:
        with pytest.raises(ValueError, match="not available on this platform"):
            ServerConfig(selector=missing[0])


def _pair(**switches: bool) -> tuple[Connection, socket.socket]:
    server_side, client_side = socket.socketpair()
    server_side.setblocking(False)
    client_side.settimeout(5.0)
    conn = Connection(
        server_side,
        ("127.0.0.1", 0),
        deadline=0.0,
        body_timeout_s=5.0,
        send_timeout_s=5.0,
        **switches,
    )
    return conn, client_side


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "closed early"
        data += chunk
    return bytes(data)


@pytest.mark.parametrize("use_sendfile", [True, False])
def test_a_file_is_sent_from_its_offset_with_or_without_sendfile(
    tmp_path: Any, use_sendfile: bool
) -> None:
    payload = os.urandom(300_000)
    path = tmp_path / "data.bin"
    path.write_bytes(payload)
    conn, client = _pair(use_sendfile=use_sendfile)
    assert conn.sendfile_ok == (use_sendfile and hasattr(os, "sendfile"))
    with path.open("rb") as handle, client:
        handle.seek(1000)
        sent: list[int] = []
        sender = threading.Thread(
            target=lambda: sent.append(conn.send_file(handle.fileno(), 1000, 250_000))
        )
        sender.start()
        assert _read_exactly(client, 250_000) == payload[1000:251_000]
        sender.join(5)
        assert sent == [250_000]
        assert handle.tell() == 1000  # the file's own position is left alone
        conn.close()


@pytest.mark.parametrize("use_sendmsg", [True, False])
def test_parts_are_sent_in_order_with_or_without_sendmsg(use_sendmsg: bool) -> None:
    conn, client = _pair(use_sendmsg=use_sendmsg)
    assert conn.sendmsg_ok == (use_sendmsg and hasattr(socket.socket, "sendmsg"))
    parts = [b"head\r\n\r\n", b"5\r\n", b"hello", b"\r\n"]
    with client:
        conn.send_parts(parts)
        assert _read_exactly(client, 18) == b"".join(parts)
        conn.close()
