"""The connection loop and the worker pool.

There is no acceptor thread and no queue. The workers take turns as leader: the
leader polls the (level-triggered) epoll instance for a batch of ready sockets and
serves them itself, one after the other (reads, parses, runs the application,
writes); the others wait on a lock, off the run queue, so fast requests are served by
one running thread with no GIL contention and no thread switch on the way. When the
leader spends more than ``handoff_s`` on one request (a slow application, a client
slow to take its response), the time keeper passes the lead to a waiting worker,
which starts with the rest of the batch: at most ``threads`` requests run at once.
A connection costs a worker only while a complete request is being served: idle
keep-alive connections and clients trickling their head cost a dictionary entry each.
The thread that called ``serve_forever`` keeps the time: it passes the lead on, closes
connections past their header or idle deadline, and runs the graceful shutdown.
"""

from __future__ import annotations

import collections
import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._connection import Connection
from wsgi_simple_server._errors import render_error
from wsgi_simple_server._exchange import EnvironBuilder, run_exchange
from wsgi_simple_server._parser import ParseError, find_head_end, parse_head

_IN = select.EPOLLIN
_BATCH = 64
_ACCEPT_BATCH = 64
_CRLF = b"\r\n"


class _Worker:
    """What the time keeper knows of the leading worker."""

    __slots__ = ("busy_since", "demoted")

    def __init__(self) -> None:
        self.busy_since = 0.0
        self.demoted = False


class Engine:
    """Serves the connections of one listening socket with a pool of worker threads."""

    def __init__(
        self,
        listener: socket.socket,
        get_app: Callable[[], Any],
        environ_builder: EnvironBuilder,
        config: ServerConfig,
        server_line: str,
    ) -> None:
        self.listener = listener
        self.get_app = get_app
        self.environ_builder = environ_builder
        self.config = config
        self.server_line = server_line
        self.conns: dict[int, Connection] = {}
        self.stopping = False
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe()
        self._threads: list[threading.Thread] = []
        # One worker at a time polls and serves (the leader); the others wait on the
        # token, off the run queue, so that no readiness event is taken by a thread that
        # then waits for the GIL (which costs the switch interval, 5 ms, per such wait).
        self._token = threading.Lock()
        self._state = threading.Lock()
        self._leader: _Worker | None = None
        # Readiness events taken from epoll and not served yet: the next leader
        # starts with these, so a demoted worker never sits on other clients' events.
        self._pending: collections.deque[int] = collections.deque()
        self._listening = False

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start the workers and begin accepting."""
        self.listener.setblocking(False)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._epoll.register(self.listener.fileno(), _IN)
        self._listening = True
        for i in range(self.config.threads):
            thread = threading.Thread(
                target=self._work, name=f"wsgi-simple-server-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def reap(self) -> None:
        """Close the connections that are past their deadline and not being served."""
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if conn.deadline < now and conn.lock.acquire(blocking=False):
                try:
                    if not conn.closed:
                        self._close(conn)
                finally:
                    conn.lock.release()

    def stop(self, timeout_s: float) -> None:
        """Stop accepting, let requests in flight finish for *timeout_s*, close the rest."""
        self.stopping = True
        if self._listening:
            self._listening = False
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(self.listener.fileno())
        deadline = time.monotonic() + timeout_s
        while True:
            for conn in list(self.conns.values()):
                conn.deadline = 0.0  # idle ones go now; busy ones close after their response
            self.reap()
            if not self.conns or time.monotonic() >= deadline:
                break
            time.sleep(0.01)
        for conn in list(self.conns.values()):
            # Still busy past the timeout: cut the connection under the worker, which
            # then fails its next send and closes the socket itself. (Closing it here
            # could let a new socket reuse the descriptor the worker still writes to.)
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        os.write(self._wake_w, b"x")
        for thread in self._threads:
            thread.join(0.1)
        self._threads.clear()
        self._epoll.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    # -- the workers ----------------------------------------------------------------

    def hand_off(self) -> None:
        """Let a waiting worker poll if the leader has been on one request too long.

        Called by the time-keeping thread every few milliseconds. This is what keeps a
        slow application (or a client slow to take a response) from holding up the
        other connections, while fast requests are all served by one running thread.
        """
        with self._state:
            leader = self._leader
            if (
                leader is not None
                and leader.busy_since
                and time.monotonic() - leader.busy_since > self.config.handoff_s
            ):
                leader.demoted = True
                self._leader = None
                self._token.release()

    def _work(self) -> None:
        me = _Worker()
        while True:
            self._token.acquire()  # followers wait here, off the run queue
            with self._state:
                self._leader = me
            if not self._lead(me):
                return

    def _lead(self, me: _Worker) -> bool:
        """Poll and serve until demoted (return True) or the engine stops (False)."""
        epoll = self._epoll
        listener_fd = self.listener.fileno()
        wake_fd = self._wake_r
        conns = self.conns
        pending = self._pending
        while True:
            if not pending:
                try:
                    events = epoll.poll(-1, _BATCH)
                except (OSError, ValueError):  # the epoll was closed: the engine is gone
                    self._resign()
                    return False
                pending.extend([fd for fd, _ in events])
            try:
                fd = pending.popleft()
            except IndexError:  # pragma: no cover - taken by a worker being demoted
                continue
            if fd == wake_fd:
                pending.appendleft(fd)  # for the next worker, which leaves too
                self._resign()
                return False
            me.busy_since = time.monotonic()
            conn = None
            if fd == listener_fd:
                self._accept()
            elif (conn := conns.get(fd)) is not None and not self._serve_locked(conn):
                conn = None
            with self._state:
                me.busy_since = 0.0
                if conn is not None:
                    conn.busy = False
                    if conn.parked:  # another worker saw it readable meanwhile
                        conn.parked = False
                        if not conn.closed:
                            with contextlib.suppress(OSError, ValueError):
                                self._epoll.modify(conn.fd, _IN)
                if me.demoted:  # another worker polls now; wait for the token again
                    me.demoted = False
                    return True

    def _serve_locked(self, conn: Connection) -> bool:
        """Serve *conn* unless another worker is serving it (then park it, say False)."""
        if not conn.lock.acquire(blocking=False):
            self._park(conn)
            return False
        try:
            if not conn.closed:
                conn.busy = True
                self._serve(conn)
        finally:
            conn.lock.release()
        return True

    def _park(self, conn: Connection) -> None:
        """Stop polling a connection that another worker is serving, until it is done.

        Sockets are level-triggered: a request body or a pipelined request arriving
        while a demoted worker serves the connection would wake the leader again and
        again. The serving worker re-enables it when it finishes.
        """
        with self._state:
            if conn.busy and not conn.closed:
                conn.parked = True
                with contextlib.suppress(OSError, ValueError):
                    self._epoll.modify(conn.fd, 0)

    def _resign(self) -> None:
        with self._state:
            if self._leader is not None:
                self._leader = None
            self._token.release()

    def _accept(self) -> None:
        config = self.config
        deadline = time.monotonic() + config.header_timeout_s
        first: Connection | None = None
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, addr = self.listener.accept()
            except BlockingIOError:
                break
            except OSError:  # e.g. EMFILE: leave the rest in the backlog for a moment
                time.sleep(0.01)
                break
            if len(self.conns) >= config.max_connections or self.stopping:
                sock.close()
                continue
            sock.setblocking(False)
            if sock.family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(
                sock,
                addr,
                deadline=deadline,
                body_timeout_s=config.body_timeout_s,
                send_timeout_s=config.send_timeout_s,
            )
            self.conns[conn.fd] = conn
            if first is None:
                first = conn
            else:
                conn.registered = True
                self._epoll.register(conn.fd, _IN)
        if first is not None:
            # Clients send their request right after connecting: read it now rather
            # than after a trip through epoll (the others are left to the workers).
            with first.lock:
                if not first.closed:
                    self._serve(first)

    def _close(self, conn: Connection) -> None:
        if conn.closed:
            return
        self.conns.pop(conn.fd, None)
        if conn.registered:
            with contextlib.suppress(OSError, ValueError):
                self._epoll.unregister(conn.fd)
        conn.close()

    def _serve(self, conn: Connection) -> None:
        """Read what *conn* has sent and serve every complete request in it."""
        try:
            data = conn.sock.recv(65536)
        except BlockingIOError:
            self._rearm(conn)
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn)
            return
        conn.buf += data
        if self._serve_buffered(conn):
            self._rearm(conn)
        else:
            self._close(conn)

    def _serve_buffered(self, conn: Connection) -> bool:
        """Serve the complete requests in *conn*'s buffer; say whether to keep it open."""
        buf = conn.buf
        config = self.config
        while not self.stopping:
            while buf[:2] == _CRLF:  # RFC 9112 section 2.2: ignore empty lines before a request
                del buf[:2]
            if not buf:
                conn.head_started = False
                return True
            try:
                end = find_head_end(buf, config)
                if end < 0:
                    if not conn.head_started:
                        conn.head_started = True
                        conn.deadline = time.monotonic() + config.header_timeout_s
                    return True
                head = bytes(buf[:end])
                del buf[:end]
                request = parse_head(head, config)
            except ParseError as error:
                self._refuse(conn, error)
                return False
            try:
                keep = run_exchange(self.get_app(), conn, request, self)
            except OSError:
                keep = False
            if not keep:
                return False
            conn.head_started = False
            conn.deadline = time.monotonic() + config.idle_timeout_s
        return False

    def _rearm(self, conn: Connection) -> None:
        """Have *conn* polled (level-triggered: once registered, it stays so)."""
        if not conn.registered:
            try:
                self._epoll.register(conn.fd, _IN)
            except (OSError, ValueError):
                self._close(conn)
                return
            conn.registered = True

    def _refuse(self, conn: Connection, error: ParseError) -> None:
        try:
            conn.send_all(render_error(error, conn.addr, log=self.config.access_log))
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self._close(conn)
