"""The search for the end of a request head resumes where it stopped (linear work)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from wsgi_simple_server import _engine
from wsgi_simple_server._parser import find_head_end

PIECE = 64


def test_a_64k_head_received_in_small_pieces_is_scanned_about_once(
    kit: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []  # bytes each call may search for the blank line
    seen = threading.Condition()
    received = [0]

    def counting(buf: bytes | bytearray, config: Any, *, start: int = 0) -> int:
        with seen:
            calls.append(len(buf) - max(start - 3, 0))
            received[0] = len(buf)
            seen.notify_all()
        return find_head_end(buf, config, start=start)

    monkeypatch.setattr(_engine, "find_head_end", counting)
    fields = b"".join(b"X-Field-%02d: %s\r\n" % (i, b"v" * 620) for i in range(99))
    head = b"GET / HTTP/1.1\r\nHost: t\r\n" + fields + b"\r\n"
    assert 60_000 < len(head) <= 65536
    with kit.running(kit.hello_app) as server, kit.connect(server) as sock:
        last = len(head) - len(head) % PIECE
        for end in range(PIECE, last + 1, PIECE):
            sock.sendall(head[end - PIECE : end])
            with seen:  # one piece a recv: wait until the server has looked at it
                assert seen.wait_for(lambda end=end: received[0] >= end, 5.0)  # type: ignore[misc]
        sock.sendall(head[last:])
        assert kit.Reader(sock).response().body == b"Hello"
    assert len(calls) > len(head) // PIECE // 2  # the head did arrive in pieces
    # Each byte once, plus the three before each resumption; a rescan from the start
    # on every piece would be about len(head) ** 2 / (2 * PIECE), 30 million bytes.
    assert sum(calls) <= len(head) + 3 * len(calls)


def test_resuming_finds_what_a_full_scan_finds_whatever_the_split(kit: Any) -> None:
    config = kit.QUIET.replace(max_request_line_bytes=64, max_header_bytes=128)
    heads = [
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\nX-A: 1\r\n\r\n",  # bare LF
        b"GET /" + b"a" * 80 + b" HTTP/1.1\r\n\r\n",  # request line too long
        b"GET / HTTP/1.1\r\nX-A: " + b"b" * 200 + b"\r\n\r\n",  # header section too long
    ]

    def outcome(buf: bytes | bytearray, start: int = 0) -> object:
        try:
            return find_head_end(buf, config, start=start)
        except Exception as exc:
            return repr(exc)

    for head in heads:
        for piece in (1, 2, 3, 5, 7):
            buf = bytearray()
            start = 0
            for offset in range(0, len(head), piece):
                buf += head[offset : offset + piece]
                got = outcome(buf, start)
                assert got == outcome(bytes(buf))
                if got != -1:
                    break
                start = len(buf)
