"""Lingering close (RFC 9112 section 9.6): the client gets the whole response, not a reset."""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Iterable
from typing import Any

BIG = bytes(range(256)) * 782  # 200,192 bytes
UPLOAD_HEAD = b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 4194304\r\n\r\n"
CHUNK = b"u" * 16384
# The server drains at most this much of an unread body before giving up on the
# connection: with 1 byte it gives up on the first block, so that a client sending one
# chunk of its upload is lingered on at once (not waited for, which the drain does).
GIVE_UP_AT_ONCE = {"max_drain_bytes": 1}


def refusing_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Refuse the upload without reading it, with a large error page."""
    start_response(
        "413 Content Too Large",
        [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(BIG)))],
    )
    return [BIG]


def engine_of(kit: Any, server: Any) -> Any:
    """The server's engine, once ``serve_forever`` has started it."""
    kit.wait_for(lambda: server._engine is not None)
    return server._engine


def _readable(sock: socket.socket, timeout_s: float = 5.0) -> bool:
    return bool(select.select([sock], [], [], timeout_s)[0])


def _upload_and_read(sock: socket.socket, max_upload: int) -> bytes:
    """Send part of the upload, then read the response while sending more, until EOF."""
    sock.sendall(UPLOAD_HEAD + CHUNK * 4)
    assert _readable(sock), "no response"  # the server has answered and stopped reading
    sock.setblocking(False)
    sent = len(CHUNK) * 4
    received = bytearray()
    while True:
        if sent < max_upload:  # a short send before each read: the client is still uploading
            with contextlib.suppress(BlockingIOError, BrokenPipeError):
                sent += sock.send(CHUNK)
        assert _readable(sock), "the response stalled"
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            continue
        if not data:
            return bytes(received)
        received += data


def test_a_response_sent_without_reading_the_upload_reaches_the_client_whole(kit: Any) -> None:
    with kit.running(refusing_app) as server:
        for _ in range(5):
            with kit.connect(server) as sock:
                response = _upload_and_read(sock, max_upload=512 * 1024)
            head, _, body = response.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 413 ")
            assert len(body) == len(BIG)
            assert body == BIG


def test_lingering_connections_hold_no_worker_and_close_at_their_deadline(kit: Any) -> None:
    config = kit.QUIET.replace(threads=1, linger_timeout_s=0.5, **GIVE_UP_AT_ONCE)
    with kit.running(refusing_app, config) as server:
        engine = engine_of(kit, server)
        lingerers = [kit.connect(server) for _ in range(3)]
        try:
            for sock in lingerers:
                sock.sendall(UPLOAD_HEAD + CHUNK)
                kit.read_all(sock)  # the whole response, then EOF: the server shut its side
            kit.wait_for(lambda: sum(c.lingering for c in list(engine.conns.values())) == 3)
            # The one worker is free: another client is served while all three linger.
            reply = kit.roundtrip(server, b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 413 ")
            # The clients neither close nor stop: the server closes them at the deadline.
            kit.wait_for(lambda: not engine.conns)
        finally:
            for sock in lingerers:
                sock.close()


def test_a_lingering_connection_is_closed_past_its_byte_budget(kit: Any) -> None:
    config = kit.QUIET.replace(linger_timeout_s=60.0, max_linger_bytes=65536, **GIVE_UP_AT_ONCE)
    with kit.running(refusing_app, config) as server, kit.connect(server) as sock:
        engine = engine_of(kit, server)
        sock.sendall(UPLOAD_HEAD + CHUNK)
        kit.read_all(sock)
        kit.wait_for(lambda: any(c.lingering for c in list(engine.conns.values())))
        sock.settimeout(0.5)
        for _ in range(100):  # bounded: 1.6 MB, far past the budget
            if not engine.conns:
                break
            try:
                sock.sendall(CHUNK)
            except OSError:  # reset: the server has closed
                break
        kit.wait_for(lambda: not engine.conns)  # long before the 60 s deadline


def test_a_client_that_closes_ends_the_lingering_at_once(kit: Any) -> None:
    config = kit.QUIET.replace(linger_timeout_s=60.0, **GIVE_UP_AT_ONCE)
    with kit.running(refusing_app, config) as server:
        engine = engine_of(kit, server)
        with kit.connect(server) as sock:
            sock.sendall(UPLOAD_HEAD + CHUNK)
            kit.read_all(sock)
            kit.wait_for(lambda: any(c.lingering for c in list(engine.conns.values())))
        kit.wait_for(lambda: not engine.conns)
