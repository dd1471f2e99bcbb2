"""One client connection: its socket, the bytes received ahead, and its deadline.

The socket is non-blocking throughout. The event loop reads from it only when epoll
says there is something to read; a worker that needs more (a request body) or must
wait to send (a slow reader) waits with ``poll`` for at most the configured timeout.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from typing import Any

_POLLIN = select.POLLIN | select.POLLPRI
_POLLOUT = select.POLLOUT
_RECV_SIZE = 65536


class Connection:
    """A client connection as the server's workers see it (also the body ``Source``)."""

    __slots__ = (
        "addr",
        "body_timeout_s",
        "buf",
        "busy",
        "closed",
        "deadline",
        "fd",
        "head_started",
        "host",
        "lock",
        "parked",
        "registered",
        "send_timeout_s",
        "sock",
    )

    def __init__(
        self,
        sock: socket.socket,
        addr: Any,
        *,
        deadline: float,
        body_timeout_s: float,
        send_timeout_s: float,
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.addr = addr
        self.host: str = addr[0] if isinstance(addr, tuple) else str(addr)
        self.buf = bytearray()
        self.lock = threading.Lock()
        self.closed = False
        self.deadline = deadline
        self.head_started = False
        self.registered = False  # with the engine's epoll
        self.busy = False  # a worker is serving it
        self.parked = False  # left out of polling until the worker serving it is done
        self.body_timeout_s = body_timeout_s
        self.send_timeout_s = send_timeout_s

    def _wait(self, events: int, timeout_s: float) -> None:
        poller = select.poll()
        poller.register(self.fd, events)
        if not poller.poll(timeout_s * 1000.0):
            raise TimeoutError("timed out waiting for the client")

    def recv_wait(self, size: int) -> bytes:
        """Receive up to *size* bytes, waiting at most ``body_timeout_s`` for them."""
        while True:
            try:
                return self.sock.recv(size)
            except BlockingIOError:
                self._wait(_POLLIN, self.body_timeout_s)

    def read_some(self, size: int) -> bytes:
        """Return up to *size* bytes: first those received ahead, then from the socket."""
        buf = self.buf
        if buf:
            data = bytes(buf[:size])
            del buf[:size]
            return data
        return self.recv_wait(min(size, _RECV_SIZE))

    def read_line(self, limit: int) -> bytes:
        """Return one line through its LF, at most *limit* bytes of it, or b"" at EOF."""
        buf = self.buf
        while True:
            end = buf.find(b"\n", 0, limit)
            if end >= 0:
                line = bytes(buf[: end + 1])
                del buf[: end + 1]
                return line
            if len(buf) >= limit:
                line = bytes(buf[:limit])
                del buf[:limit]
                return line
            data = self.recv_wait(_RECV_SIZE)
            if not data:
                line = bytes(buf)
                buf.clear()
                return line
            buf += data

    def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of *data*, waiting at most ``send_timeout_s`` each time the client stalls."""
        sock = self.sock
        try:
            sent = sock.send(data)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        view = memoryview(data)[sent:]
        while view:
            try:
                sent = sock.send(view)
            except BlockingIOError:
                self._wait(_POLLOUT, self.send_timeout_s)
                continue
            view = view[sent:]

    def send_parts(self, parts: list[bytes]) -> None:
        """Send the concatenation of *parts* with one ``sendmsg`` (and no copy) if it fits."""
        try:
            sent = self.sock.sendmsg(parts)
        except BlockingIOError:
            sent = 0
        total = sum(map(len, parts))
        if sent < total:
            self.send_all(b"".join(parts)[sent:])

    def send_file(self, in_fd: int, offset: int, count: int) -> int:
        """Send *count* bytes of the file *in_fd* from *offset* (``os.sendfile``).

        Return the number of bytes sent: fewer than *count* if the file ended first.
        """
        sent = 0
        out_fd = self.fd
        while sent < count:
            try:
                n = os.sendfile(out_fd, in_fd, offset + sent, count - sent)
            except BlockingIOError:
                self._wait(_POLLOUT, self.send_timeout_s)
                continue
            if n == 0:
                break
            sent += n
        return sent

    def close(self) -> None:
        """Close the socket (the caller has taken it out of the event loop)."""
        self.closed = True
        try:
            # Take what the client sent and nobody will read, so that closing does not
            # reset the connection and destroy a response it has not read yet.
            for _ in range(4):
                if not self.sock.recv(_RECV_SIZE):
                    break
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self.sock.close()
