"""One client connection: its socket, the bytes received ahead, and its deadline.

The socket is non-blocking throughout. The event loop reads from it only when its
selector says there is something to read; a worker that needs more (a request body)
or must wait to send (a slow reader) waits on that one socket for at most the
configured timeout (``poll``, or ``select`` where there is no ``poll``).

``socket.sendmsg`` and ``os.sendfile`` are used where the platform has them and the
socket is a plain one (not TLS, whose bytes must go through the ``ssl`` module), and
the configuration allows them; a plain send loop does the same work otherwise.

A connection accepted on a TLS listener is a ``TLSConnection``: an ``ssl.SSLSocket``
made with ``do_handshake_on_connect=False``, whose handshake the event loop drives
(``handshake``), so that no worker waits for a client's ClientHello. Its reads and
writes are those of a plain connection, with the two differences the ``ssl`` module
documents for non-blocking sockets ("Notes on non-blocking sockets" in the ``ssl``
documentation): an operation that cannot go on raises ``ssl.SSLWantReadError`` or
``ssl.SSLWantWriteError`` rather than ``BlockingIOError`` (and a read may have to wait
for the socket to be writable, or a write for it to be readable), and bytes already
decrypted wait inside the ``ssl`` object (``pending``), where no selector sees them.
Its close sends a TLS ``close_notify`` alert first (RFC 8446 section 6.1), so that a
client can tell the end of a response delimited by the close from a truncation (RFC
9112 section 9.8).
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import socket
import threading
from typing import TYPE_CHECKING, Any

from wsgi_handlers import SendfileUnsupportedError, sendfile_all

if TYPE_CHECKING:
    from wsgi_simple_server._exchange import EnvironBuilder

try:
    import ssl
except ImportError:  # a Python built without OpenSSL: no socket is a TLS socket
    _HAS_SSL = False
    # What a non-blocking TLS socket raises when it must wait (never raised here).
    _WANT_READ: tuple[type[OSError], ...] = ()
    _WANT_WRITE: tuple[type[OSError], ...] = ()
else:
    _HAS_SSL = True
    _WANT_READ = (ssl.SSLWantReadError,)
    _WANT_WRITE = (ssl.SSLWantWriteError,)

_RECV_SIZE = 65536
# The selector events a connection waits for (TLS: a read may need the socket writable).
EVENT_READ = selectors.EVENT_READ
EVENT_WRITE = selectors.EVENT_WRITE
# An operation on a non-blocking socket that must wait for it to be readable (plain
# sockets raise BlockingIOError; TLS ones ssl.SSLWantReadError), or writable.
RECV_BLOCKED: tuple[type[OSError], ...] = (BlockingIOError, *_WANT_READ)
SEND_BLOCKED: tuple[type[OSError], ...] = (BlockingIOError, *_WANT_WRITE)
# What a TLS socket raises when it must wait for the other direction: a read that has
# a record to write first (ssl.SSLWantWriteError), or a write that has one to read.
RECV_NEEDS_WRITE = _WANT_WRITE
SEND_NEEDS_READ = _WANT_READ
SEND_WAITS = SEND_BLOCKED + SEND_NEEDS_READ
_FILE_BLOCK = 65536
_LONGEST_WAIT_S = (2**31 - 1) / 1000
_HAS_SENDMSG = hasattr(socket.socket, "sendmsg")
_HAS_SENDFILE = hasattr(os, "sendfile")

if hasattr(select, "poll"):
    _POLLIN = select.POLLIN | select.POLLPRI
    _POLLOUT = select.POLLOUT

    def _wait_fd(fd: int, write: bool, timeout_s: float) -> bool:
        """Wait until *fd* is writable (or readable) for *timeout_s* seconds at most."""
        poller = select.poll()
        poller.register(fd, _POLLOUT if write else _POLLIN)
        return bool(poller.poll(timeout_s * 1000.0))

else:  # Windows: its select() takes sockets of any number, unlike POSIX's FD_SETSIZE.

    def _wait_fd(fd: int, write: bool, timeout_s: float) -> bool:
        """Wait until *fd* is writable (or readable) for *timeout_s* seconds at most."""
        fds = [fd]
        readable, writable, failed = select.select(
            [] if write else fds, fds if write else [], fds, timeout_s
        )
        return bool(readable or writable or failed)


if hasattr(os, "pread"):
    _pread = os.pread
else:  # Windows

    def _pread(fd: int, size: int, offset: int) -> bytes:
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, size)


def as_tls(sock: socket.socket) -> ssl.SSLSocket | None:
    """Return *sock* if it is a TLS socket (``ssl.SSLContext.wrap_socket``), else None."""
    return sock if _HAS_SSL and isinstance(sock, ssl.SSLSocket) else None


def _is_plain(sock: socket.socket) -> bool:
    """Say whether *sock* sends its bytes as they are (a TLS socket does not)."""
    return as_tls(sock) is None


class Connection:
    """A client connection as the server's workers see it (also the body ``Source``)."""

    __slots__ = (
        "addr",
        "body_timeout_s",
        "buf",
        "busy",
        "client_done",
        "closed",
        "deadline",
        "environ_builder",
        "established",
        "events",
        "fd",
        "first_request_by",
        "head_started",
        "host",
        "linger_left",
        "lingering",
        "lock",
        "parked",
        "proxy_pending",
        "registered",
        "scanned",
        "send_timeout_s",
        "sendfile_ok",
        "sendmsg_ok",
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
        use_sendmsg: bool = True,
        use_sendfile: bool = True,
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.addr = addr
        self.host: str = addr[0] if isinstance(addr, tuple) else str(addr)
        self.buf = bytearray()
        self.scanned = 0  # bytes of buf already searched for the end of a request head
        self.lock = threading.Lock()
        self.closed = False
        self.deadline = deadline  # time.monotonic() seconds
        self.head_started = False
        # Until then (time.monotonic()) a graceful stop waits for its first request;
        # 0.0 once a request head has arrived (set by the engine).
        self.first_request_by = 0.0
        self.registered = False  # with the engine's selector
        self.events = EVENT_READ  # what it is (or is to be) registered for
        self.established = True  # its TLS handshake is done (a plain one has none)
        self.busy = False  # a worker is serving it
        # The environ of its requests, from the listener it came from (set by the engine).
        self.environ_builder: EnvironBuilder = None  # type: ignore[assignment]
        self.parked = False  # left out of polling until the worker serving it is done
        self.lingering = False  # being closed: what arrives is read and discarded
        self.client_done = False  # the client will send nothing more: no need to linger
        self.linger_left = 0  # bytes that may still be discarded while lingering
        self.proxy_pending = False  # a PROXY protocol header is to come first
        self.body_timeout_s = body_timeout_s
        self.send_timeout_s = send_timeout_s
        plain = _is_plain(sock)
        self.sendmsg_ok = use_sendmsg and _HAS_SENDMSG and plain
        self.sendfile_ok = use_sendfile and _HAS_SENDFILE and plain

    def set_client(self, addr: tuple[str, int]) -> None:
        """Take *addr* (a PROXY protocol header's source) as the client's address."""
        self.addr = addr
        self.host = addr[0]

    def _wait(self, write: bool, timeout_s: float) -> None:
        # poll() takes a C int of milliseconds: a longer timeout (a setting of 1e9 s for
        # "never") waits this long, about 24 days, rather than raise OverflowError.
        if not _wait_fd(self.fd, write, min(timeout_s, _LONGEST_WAIT_S)):
            raise TimeoutError("timed out waiting for the client")

    def recv_wait(self, size: int) -> bytes:
        """Receive up to *size* bytes, waiting at most ``body_timeout_s`` for them."""
        while True:
            try:
                return self.sock.recv(size)
            except RECV_BLOCKED:
                self._wait(False, self.body_timeout_s)
            except RECV_NEEDS_WRITE:
                self._wait(True, self.body_timeout_s)

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
        except SEND_WAITS:
            sent = 0
        if sent == len(data):
            return
        # A TLS write that had to wait is retried with the same bytes, as OpenSSL asks
        # (SSL_write(3)): the view starts where the last send that returned ended.
        view = memoryview(data)[sent:]
        while view:
            try:
                sent = sock.send(view)
            except SEND_BLOCKED:
                self._wait(True, self.send_timeout_s)
                continue
            except SEND_NEEDS_READ:
                self._wait(False, self.send_timeout_s)
                continue
            view = view[sent:]

    def send_parts(self, parts: list[bytes]) -> None:
        """Send the concatenation of *parts*, with one ``sendmsg`` (and no copy) if it fits."""
        if not self.sendmsg_ok:
            self.send_all(b"".join(parts))
            return
        try:
            sent = self.sock.sendmsg(parts)
        except BlockingIOError:
            sent = 0
        total = sum(map(len, parts))
        if sent < total:
            self.send_all(b"".join(parts)[sent:])

    def send_file(self, in_fd: int, offset: int, count: int) -> int:
        """Send *count* bytes of the file *in_fd* from byte *offset* on.

        With ``os.sendfile`` where it can join the two files, by reading and sending
        otherwise. The file's own position is left alone (unless the platform lacks
        ``os.pread``). Return the number of bytes sent: fewer than *count* if the file
        ended first.
        """
        if not self.sendfile_ok:
            return self._copy_file(in_fd, offset, count)
        try:
            return sendfile_all(
                self.fd, in_fd, offset, count, lambda: self._wait(True, self.send_timeout_s)
            )
        except SendfileUnsupportedError:
            return self._copy_file(in_fd, offset, count)

    def _copy_file(self, in_fd: int, offset: int, count: int) -> int:
        sent = 0
        while sent < count:
            data = _pread(in_fd, min(count - sent, _FILE_BLOCK), offset + sent)
            if not data:
                break
            self.send_all(data)
            sent += len(data)
        return sent

    # -- the TLS steps (a plain connection has none) ------------------------------------

    def handshake(self) -> int:
        """Go on with the TLS handshake; return 0 once it is done, else the selector
        events (``EVENT_READ`` or ``EVENT_WRITE``) to wait for before calling again.

        Raise ``OSError`` (``ssl.SSLError`` included) if it fails. A plain connection
        has no handshake: 0.
        """
        return 0

    def pending(self) -> int:
        """Bytes received and decrypted but not read yet (TLS), which no selector
        reports; 0 for a plain connection."""
        return 0

    def shutdown_write(self) -> None:
        """Shut the sending side: the client reads the end of the stream.

        Raise ``OSError`` if the client is gone.
        """
        self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Close the socket (the caller has taken it out of the event loop).

        A connection that may hold unread request bytes lingers first (the engine's
        ``_linger``, RFC 9112 section 9.6); this is the last step.
        """
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()


class TLSConnection(Connection):
    """A connection accepted on a TLS listener: its handshake, its close_notify.

    The socket is made by the listener's ``ssl.SSLContext`` with ``server_side=True``
    and ``do_handshake_on_connect=False``; the event loop calls ``handshake`` each
    time the socket is ready until it says 0, and serves the connection only then.
    Sending and receiving are the base class's (which know the TLS exceptions);
    ``sendmsg`` and ``os.sendfile`` are off, as for every socket that is not plain.
    """

    __slots__ = ("notified", "tls")

    def __init__(
        self,
        sock: ssl.SSLSocket,
        addr: Any,
        *,
        deadline: float,
        body_timeout_s: float,
        send_timeout_s: float,
    ) -> None:
        super().__init__(
            sock,
            addr,
            deadline=deadline,
            body_timeout_s=body_timeout_s,
            send_timeout_s=send_timeout_s,
            use_sendmsg=False,
            use_sendfile=False,
        )
        self.tls = sock  # the same socket, typed as what it is
        self.established = False
        self.notified = False  # close_notify sent, or not to be sent any more

    def handshake(self) -> int:
        """Go on with the TLS handshake (``ssl.SSLSocket.do_handshake``, non-blocking).

        Return 0 once it is done, else the selector events to wait for; raise
        ``OSError`` (``ssl.SSLError`` included) if it fails: a client speaking plain
        HTTP to the TLS port, a certificate the client refuses, a reset.
        """
        try:
            self.tls.do_handshake()
        except _WANT_READ:
            return EVENT_READ
        except _WANT_WRITE:
            return EVENT_WRITE
        self.established = True
        return 0

    def pending(self) -> int:
        """Bytes of the records read so far that are decrypted but not read yet."""
        return self.tls.pending()

    def shutdown_write(self) -> None:
        """Send close_notify (RFC 8446 section 6.1), then shut the TCP sending side.

        The ``ssl`` object is dropped with the shutdown (``ssl.SSLSocket.shutdown``):
        what the client still sends is read raw, to be discarded, not decrypted.
        """
        self._close_notify()
        self.tls.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Send close_notify if it has not been sent, then close the socket."""
        self._close_notify()
        super().close()

    def _close_notify(self) -> None:
        """Send the close_notify alert once, if the handshake is done and the socket
        takes it now (a full send buffer or a gone client means a close without it).

        ``ssl.SSLSocket.unwrap`` sends the alert, then asks for the client's, which
        a non-blocking socket does not wait for (``ssl.SSLWantReadError``).
        """
        if self.established and not self.notified:
            self.notified = True
            with contextlib.suppress(OSError, ValueError):
                self.tls.unwrap()
