"""The connection loop and the worker pool.

There is no acceptor thread and no queue. The workers take turns as leader: the
leader waits on the selector for a batch of ready sockets and serves them itself, one
after the other (reads, parses, runs the application, writes); the others wait on a
lock, off the run queue, so fast requests are served by one running thread with no
GIL contention and no thread switch on the way. When the leader spends more than
``handoff_s`` on one request (a slow application, a client slow to take its
response), the time keeper passes the lead to a waiting worker, which starts with the
rest of the batch: at most ``threads`` requests run at once. A connection costs a
worker only while a complete request is being served: idle keep-alive connections,
clients trickling their head and connections lingering before their close cost a
dictionary entry each. The thread that called ``serve_forever`` keeps the time: it
passes the lead on, closes connections past their deadline, and runs the graceful
shutdown.

The selector is the ``selectors`` class that ``ServerConfig.selector`` names
(``DefaultSelector``: epoll on Linux, kqueue on BSD and macOS, else poll or select).
All of them are level-triggered: a socket with unread bytes is reported again at each
wait, which is what lets a connection be left registered between requests. epoll,
kqueue and /dev/poll keep the registrations in the kernel, so a socket registered by
one worker while the leader waits is watched at once; poll and select copy the
registrations when the wait begins, so a worker that registers a socket during a wait
wakes the leader (a byte on the wake socket) to have it counted.

A connection the server closes while the client may still be sending (a response
sent without reading all of the upload, an error page, ``Connection: close``) is
closed as RFC 9112 section 9.6 asks: once the whole response is sent, the server
shuts its sending side, then reads and discards what arrives until the client closes,
for ``linger_timeout_s`` and ``max_linger_bytes`` at most, and only then closes. (Closing
a socket with unread bytes makes TCP send a reset, and a reset can destroy the response
before the client has read it.) The lingering is done by the event loop, not by a
worker. A client that asked for the close itself and sent no body has nothing more to
send, and its connection is closed at once.

A TLS listener (``httpd.socket = context.wrap_socket(httpd.socket, server_side=True)``,
the standard library's recipe for HTTPS) is served with handshakes that hold no
worker: the engine accepts on the TCP socket underneath (``ssl.SSLSocket.accept`` would
do a blocking handshake), wraps each connection with the listener's context and
``do_handshake_on_connect=False``, and drives the handshake from the event loop,
polling the socket for what it waits for (readable, or writable). The header deadline
(``header_timeout_s``) runs from the accept, handshake included; a handshake that fails
(a plain HTTP client on the TLS port, a client refusing the certificate) closes the
connection with a debug log line. Then the connection is served as a plain one, except
that after each read the bytes the ``ssl`` object holds decrypted (``pending()``, which
no selector sees) are served before it goes back to the selector. Lingering sends TLS
``close_notify`` (RFC 8446 section 6.1), shuts the TCP sending side and discards what
arrives as raw bytes; every other close sends ``close_notify`` too, when the socket
takes it at once. Requests on a TLS listener have ``wsgi.url_scheme`` ``"https"`` and
``HTTPS`` ``"on"`` (PEP 3333; RFC 9110 section 4.2.2). Which way a connection is
served is chosen once per listener: a plain listener's path has no TLS step.

A worker thread that dies anyway (an exception escaping the loop, ``BaseException``
included) is logged through the ``wsgi_simple_server`` logger and replaced, so the
pool keeps its size; the connection it was serving is closed.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import logging
import selectors
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._connection import (
    EVENT_READ,
    EVENT_WRITE,
    RECV_BLOCKED,
    RECV_NEEDS_WRITE,
    Connection,
    TLSConnection,
    as_tls,
)
from wsgi_simple_server._exchange import EnvironBuilder, Hooks, run_exchange
from wsgi_simple_server._log import AccessLog, access_lines
from wsgi_simple_server._parser import ParseError, find_head_end, parse_head
from wsgi_simple_server._proxy import ProxyProtocolError, parse_proxy_header, trusted_peers

if TYPE_CHECKING:
    import ssl

logger = logging.getLogger("wsgi_simple_server")

_READ = EVENT_READ
_ACCEPT_BATCH = 64
_RECV_SIZE = 65536
_CRLF = b"\r\n"
_INET = (socket.AF_INET, socket.AF_INET6)
# Selectors whose registrations live in the kernel: a change made while another thread
# waits takes effect at once, without waking it.
_KERNEL_SELECTORS = tuple(
    getattr(selectors, name)
    for name in ("EpollSelector", "KqueueSelector", "DevpollSelector")
    if hasattr(selectors, name)
)
# POSIX select() watches descriptors below FD_SETSIZE only (Windows' has no such bound).
_SELECT_FD_LIMIT = 1024
_RESPAWN_DELAY_S = 0.05
# How long after its accept a connection that has not sent a request yet is waited for
# by a graceful stop (a client sends its request right after connecting; one that sends
# nothing for this long is an idle pre-connection, closed at once).
_FIRST_REQUEST_GRACE_S = 1.0
_AF_UNIX = getattr(socket, "AF_UNIX", None)
# The client address of a connection on a Unix domain socket, which has no network
# address: nginx's $remote_addr for such a peer, as a (host, port) pair, so that
# REMOTE_ADDR, the access log and the request handler's hooks read it as they read an
# IP peer's.
UNIX_PEER = ("unix:", 0)


def _accept_unix(accept: Callable[[], tuple[socket.socket, Any]]) -> tuple[socket.socket, Any]:
    sock, _ = accept()  # the peer's path: "" for the usual unnamed client socket
    return sock, UNIX_PEER


class Drained(NamedTuple):
    """What a graceful stop found: requests in flight, idle connections, requests cut."""

    in_flight: int  # requests being served when the stop began
    idle: int  # open connections no request was running on
    cut: int  # connections still busy when the shutdown timeout ran out


class _Worker:
    """What the time keeper knows of the leading worker."""

    __slots__ = ("busy_since", "demoted", "leading")

    def __init__(self) -> None:
        self.busy_since = 0.0
        self.demoted = False
        self.leading = False  # holds the token (and has not been demoted)


class _Listener:
    """A listening socket of the engine, and how its connections are opened."""

    __slots__ = ("accept", "environ_builder", "fd", "open_connection", "sock")

    def __init__(
        self,
        sock: socket.socket,
        environ_builder: EnvironBuilder,
        accept: Callable[[], tuple[socket.socket, Any]],
        open_connection: Callable[[socket.socket, Any, float], Connection | None],
    ) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.environ_builder = environ_builder
        self.accept = accept
        self.open_connection = open_connection


class Engine:
    """Serves the connections of its listening sockets with a pool of worker threads.

    *listeners* pairs each listening socket with the environ builder of the requests
    that arrive on it (its ``SERVER_NAME``/``SERVER_PORT``; ``wsgi.url_scheme`` is set
    to ``"https"`` here for a TLS listener). One pool and one event loop serve them all.
    A client of a Unix domain socket has the address ``UNIX_PEER`` (``REMOTE_ADDR``
    ``"unix:"``).
    """

    def __init__(
        self,
        listeners: Sequence[tuple[socket.socket, EnvironBuilder]],
        get_app: Callable[[], Any],
        config: ServerConfig,
        *,
        server_software: str,
        hooks: Hooks,
        verify: Callable[[socket.socket, Any], bool] | None = None,
    ) -> None:
        if not listeners:
            raise ValueError("an engine needs at least one listening socket")
        self.get_app = get_app
        self.config = config
        self.conns: dict[int, Connection] = {}
        self._listeners: dict[int, _Listener] = {}
        for sock, environ_builder in listeners:
            listener = _Listener(sock, environ_builder, sock.accept, self._connection)
            if (tls := as_tls(sock)) is not None:
                # A TLS listener's connections have a handshake first and are read
                # record by record. The TCP accept: SSLSocket.accept would do a
                # blocking handshake.
                listener.accept = functools.partial(socket.socket.accept, tls)
                listener.open_connection = functools.partial(self._tls_connection, tls)
                environ_builder.base["wsgi.url_scheme"] = "https"
                environ_builder.base["HTTPS"] = "on"
            if sock.family == _AF_UNIX:
                listener.accept = functools.partial(_accept_unix, listener.accept)
            self._listeners[listener.fd] = listener
        self.stopping = False
        self._selector = config.selector_class()()
        self._wake_on_change = not isinstance(self._selector, _KERNEL_SELECTORS)
        self._fd_limit = sys.maxsize
        if isinstance(self._selector, selectors.SelectSelector) and sys.platform != "win32":
            self._fd_limit = _SELECT_FD_LIMIT
        # Wakes the leader: to stop, or (poll, select) to watch a new registration.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._waiting = False  # the leader is in (or about to enter) selector.select()
        self._exiting = False  # the workers are to leave
        self._threads: list[threading.Thread] = []
        # One worker at a time polls and serves (the leader); the others wait on the
        # token, off the run queue, so that no readiness event is taken by a thread that
        # then waits for the GIL (which costs the switch interval, 5 ms, per such wait).
        self._token = threading.Lock()
        # Guards the leader, the selector's registrations and the connections' flags.
        self._state = threading.Lock()
        self._leader: _Worker | None = None
        # Readiness events taken from the selector and not served yet: the next leader
        # starts with these, so a demoted worker never sits on other clients' events.
        self._pending: collections.deque[int] = collections.deque()
        self._listening = False
        # Held while a batch of connections is accepted (see stop).
        self._accepting = threading.Lock()
        # What the exchanges need of the server: its name for the Server field, and
        # the request handler's hooks.
        self.server_software = server_software
        self.hooks = hooks
        self.access_log = AccessLog(config.access_log_format)
        # The server's verify_request(socket, client_address), asked once per
        # connection before it is served (None: every connection is served).
        self._verify = verify
        # Behind a proxy: whose forwarding fields are believed, and whose connections
        # start with a PROXY protocol header (None: no connection does).
        self.forwarded_allow = trusted_peers(config.forwarded_allow_ips)
        self._proxy_allow = trusted_peers(config.proxy_allow_ips) if config.proxy_protocol else None

    # -- life cycle -----------------------------------------------------------------

    def runs_on_current_thread(self) -> bool:
        """Whether the calling thread is one of the engine's workers (an application)."""
        return threading.current_thread() in self._threads

    def start(self) -> None:
        """Start the workers and begin accepting."""
        self._selector.register(self._wake_r.fileno(), _READ)
        for fd, listener in self._listeners.items():
            listener.sock.setblocking(False)
            self._selector.register(fd, _READ)
        self._listening = True
        threads: list[threading.Thread] = []
        try:
            with self._state:
                threads.extend(self._spawn(index) for index in range(self.config.threads))
                self._threads = threads
        except BaseException:  # e.g. "can't start new thread": the started ones leave
            self._exiting = True
            self._wake()
            for thread in threads:
                thread.join(1)
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()
            raise
        access_lines.hold()  # access log lines are written by batch: see _poll, reap and stop

    def reap(self) -> None:
        """Close the connections that are past their deadline and not being served,
        and write the access log lines still pending (a worker busy on a batch of
        requests writes its lines only when it polls again)."""
        access_lines.flush()
        now = time.monotonic()
        for conn in list(self.conns.values()):
            if conn.deadline < now and conn.lock.acquire(blocking=False):
                try:
                    if not conn.closed:
                        self._close(conn)
                finally:
                    conn.lock.release()

    def stop(self, timeout_s: float) -> Drained:
        """Stop accepting, let requests in flight finish for *timeout_s*, close the rest.

        The listening sockets are left open and what waits in their listen queues is
        not accepted: a server started on the same sockets (the restart on SIGHUP)
        answers it. In flight are the requests being served, those whose head is
        arriving, and the first request of a connection accepted less than
        ``_FIRST_REQUEST_GRACE_S`` ago; each is answered with ``Connection: close``.
        Idle keep-alive connections are closed at once. Connections lingering before
        their close (their responses sent) are not waited for: they are closed once
        the requests in flight are done. Return how many requests were in flight,
        idle connections were closed, and requests were cut.
        """
        self.stopping = True
        self._stop_listening()
        with self._accepting:  # a batch being accepted is taken in first
            pass
        open_conns = [conn for conn in list(self.conns.values()) if not conn.lingering]
        busy = sum(conn.busy for conn in open_conns)
        deadline = time.monotonic() + timeout_s
        while True:
            in_flight = 0
            now = time.monotonic()
            for conn in list(self.conns.values()):
                if conn.lingering:
                    continue
                in_flight += 1
                # A request whose head is arriving, or a connection just accepted that
                # has not sent its first request yet (clients send it right after
                # connecting), keeps its header deadline: it is a request in flight.
                # Idle ones go now; busy ones after their response.
                if not (conn.head_started or now < conn.first_request_by):
                    conn.deadline = 0.0
            if not in_flight or time.monotonic() >= deadline:
                break
            # The time keeper's work goes on: a request that takes long does not hold
            # up the others (whose first requests are in flight too) behind it.
            self.hand_off()
            self.reap()
            time.sleep(0.01)
        # Cut off: the requests still running or arriving (a connection that has sent
        # nothing yet is closed as an idle one).
        cut = sum(
            1
            for conn in list(self.conns.values())
            if not conn.lingering and (conn.busy or conn.head_started)
        )
        # From here on a worker closes a connection it is done with (rather than have
        # it polled or lingering), and the workers leave once their request is done.
        self._exiting = True
        self._wake()
        # The lingering ones have their responses sent: they go now too, with what
        # they have sent read off first, so that the close is a FIN and not a reset.
        self._close_idle(discard=True)
        for conn in list(self.conns.values()):
            # Still busy past the timeout: cut the connection under the worker, which
            # then fails its next send and closes the socket itself. (Closing it here
            # could let a new socket reuse the descriptor the worker still writes to.)
            # The TCP socket's shutdown: a TLS socket's would drop the ssl object the
            # worker is using.
            with contextlib.suppress(OSError):
                socket.socket.shutdown(conn.sock, socket.SHUT_RDWR)
        with self._state:
            threads = self._threads[:]
            self._threads.clear()
        for thread in threads:
            thread.join(0.1)
        self._close_idle(discard=False)  # those a worker finished with meanwhile
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
        access_lines.release()  # and every access log line is written
        return Drained(busy, len(open_conns) - busy, cut)

    def _stop_listening(self) -> None:
        """Take the listening sockets out of the selector; what waits in their listen
        queues stays there (for the next server on the same sockets)."""
        with self._state:
            if not self._listening:
                return
            self._listening = False
            for fd in self._listeners:
                with contextlib.suppress(KeyError, OSError, ValueError):
                    self._selector.unregister(fd)

    def _close_idle(self, *, discard: bool) -> None:
        """Close every connection no worker is serving (lingering ones drained first)."""
        for conn in list(self.conns.values()):
            if conn.lock.acquire(blocking=False):
                try:
                    if discard and conn.lingering and not conn.closed:
                        self._discard(conn)
                    self._close(conn)
                finally:
                    conn.lock.release()

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
                leader.leading = False
                self._leader = None
                self._token.release()

    def _spawn(self, index: int) -> threading.Thread:
        thread = threading.Thread(
            target=self._work, args=(index,), name=f"wsgi-simple-server-{index}", daemon=True
        )
        thread.start()
        return thread

    def _work(self, index: int) -> None:
        me = _Worker()
        try:
            while True:
                self._token.acquire()  # followers wait here, off the run queue
                with self._state:
                    self._leader = me
                    me.leading = True
                if not self._lead(me):
                    return
        except BaseException:  # the pool must not shrink, whatever went wrong
            logger.exception("worker thread %d died; starting another", index)
            self._replace(me, index)

    def _replace(self, me: _Worker, index: int) -> None:
        """Give up the lead *me* may hold and start a worker in its place.

        The new worker starts ``_RESPAWN_DELAY_S`` later, so that a fault that kills
        every worker at once does not spin and flood the log.
        """
        with self._state:
            if self._leader is me:
                self._leader = None
            if me.leading:
                me.leading = False
                self._token.release()
        time.sleep(_RESPAWN_DELAY_S)
        with self._state:
            if not self._exiting and index < len(self._threads):
                self._threads[index] = self._spawn(index)

    def _lead(self, me: _Worker) -> bool:
        """Poll and serve until demoted (return True) or the engine stops (False)."""
        listeners = self._listeners
        wake_fd = self._wake_r.fileno()
        conns = self.conns
        pending = self._pending
        while True:
            if not pending and not self._poll(pending):
                self._resign(me)
                return False
            try:
                fd = pending.popleft()
            except IndexError:  # taken by a worker being demoted, or nothing ready
                continue
            if fd == wake_fd:
                if self._exiting:
                    pending.appendleft(fd)  # for the next worker, which leaves too
                    self._resign(me)
                    return False
                self._drain_wake()
                continue
            me.busy_since = time.monotonic()
            if (conn := conns.get(fd)) is None:
                if (listener := listeners.get(fd)) is not None:
                    conn = self._accept(listener)
            elif not self._serve_locked(conn):
                conn = None
            if self._served(me, conn):
                return True

    def _poll(self, pending: collections.deque[int]) -> bool:
        """Wait for ready sockets and queue them; say False if the engine stops."""
        if self._exiting:
            return False
        access_lines.flush()  # the access log lines of the batch served, before the wait
        self._waiting = True
        try:
            ready = self._selector.select()
        except (OSError, ValueError):
            # select(): a socket closed as the wait began; it is unregistered already,
            # so the next wait goes without it. Or the engine is gone.
            return not self._exiting
        finally:
            self._waiting = False
        pending.extend([key.fd for key, _ in ready])
        return True

    def _served(self, me: _Worker, conn: Connection | None) -> bool:
        """Note that *me* is done with *conn*; say whether *me* was demoted meanwhile."""
        with self._state:
            me.busy_since = 0.0
            if conn is not None:
                conn.busy = False
                if conn.parked:  # another worker saw it readable meanwhile
                    conn.parked = False
                    if not conn.closed and not self._register(conn):
                        conn.deadline = 0.0  # reap closes it
            if me.demoted:  # another worker polls now; wait for the token again
                me.demoted = False
                return True
        return False

    def _serve_locked(self, conn: Connection) -> bool:
        """Serve *conn* unless another worker is serving it (then park it, say False)."""
        if not conn.lock.acquire(blocking=False):
            self._park(conn)
            return False
        try:
            if not conn.closed:
                conn.busy = True
                if type(conn) is TLSConnection:
                    self._serve_tls(conn)
                else:
                    self._serve(conn)
        except BaseException:
            self._close(conn)  # in an unknown state: the worker's end is its end
            raise
        finally:
            conn.lock.release()
        return True

    def _park(self, conn: Connection) -> None:
        """Stop polling a connection that another worker is serving, until it is done.

        Sockets are level-triggered: a request body or a pipelined request arriving
        while a demoted worker serves the connection would wake the leader again and
        again. The serving worker registers it again when it finishes.
        """
        with self._state:
            if conn.busy and not conn.closed:
                conn.parked = True
                self._unregister(conn)

    def _resign(self, me: _Worker) -> None:
        with self._state:
            if self._leader is me:
                self._leader = None
            me.leading = False
            self._token.release()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full buffer is a pending wake already
            self._wake_w.send(b"x")

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass

    # -- registrations (with self._state held) ----------------------------------------

    def _register(self, conn: Connection) -> bool:
        """Have *conn* polled; say False if its socket cannot be."""
        if conn.registered:
            return True
        try:
            self._selector.register(conn.fd, conn.events)
        except KeyError:  # registered already
            pass
        except (OSError, ValueError):
            return False
        conn.registered = True
        if self._waiting and self._wake_on_change:
            self._wake()
        return True

    def _modify(self, conn: Connection, events: int) -> bool:
        """Have registered *conn* polled for *events*; say False if its socket cannot be."""
        try:
            self._selector.modify(conn.fd, events)
        except (KeyError, OSError, ValueError):
            return False
        conn.events = events
        if self._waiting and self._wake_on_change:
            self._wake()
        return True

    def _unregister(self, conn: Connection) -> None:
        if conn.registered:
            conn.registered = False
            with contextlib.suppress(KeyError, OSError, ValueError):
                self._selector.unregister(conn.fd)

    # -- connections ------------------------------------------------------------------

    def _serve_ready(self, conn: Connection) -> None:
        """Serve a connection that is ready (a TLS one by ``_serve_tls``)."""
        if type(conn) is TLSConnection:
            self._serve_tls(conn)
        else:
            self._serve(conn)

    def _accept(self, listener: _Listener) -> Connection | None:
        """Accept a batch and serve its first connection; return that one (still
        ``busy``, as ``_serve_locked`` leaves it, for ``_served``), or None."""
        # Under the accept lock: a stop that begins waits for the batch to be taken in
        # (its connections in self.conns), and no batch after it accepts anything.
        with self._accepting:
            first = self._accept_batch(listener)
        if first is not None:
            # Clients send their request (or ClientHello) right after connecting: read
            # it now rather than after a trip through the selector (the others are left
            # to the workers). Busy meanwhile: a graceful stop counts its request as
            # one in flight, not as an idle connection.
            with first.lock:
                if not first.closed:
                    first.busy = True
                    try:
                        self._serve_ready(first)
                    except BaseException:
                        self._close(first)
                        raise
        return first

    def _accept_batch(self, listener: _Listener) -> Connection | None:
        """Accept what waits on *listener* (a batch at most); return the first one."""
        config = self.config
        now = time.monotonic()
        deadline = now + config.header_timeout_s
        accept, open_connection = listener.accept, listener.open_connection
        environ_builder = listener.environ_builder
        first: Connection | None = None
        for _ in range(_ACCEPT_BATCH):
            if self.stopping:  # what is left in the listen queue waits for the next server
                # and the listeners leave the selector now, rather than be reported
                # readable again until stop() takes them out.
                self._stop_listening()
                break
            try:
                sock, addr = accept()
            except BlockingIOError:
                break
            except OSError:  # e.g. EMFILE: leave the rest in the backlog for a moment
                time.sleep(0.01)
                break
            if len(self.conns) >= config.max_connections or sock.fileno() >= self._fd_limit:
                sock.close()
                continue
            if (conn := open_connection(sock, addr, deadline)) is None:
                continue
            conn.first_request_by = now + _FIRST_REQUEST_GRACE_S
            conn.environ_builder = environ_builder
            if self._proxy_allow is not None:
                conn.proxy_pending = self._proxy_allow.trusts_peer(addr)
            self.conns[conn.fd] = conn
            if first is None:
                first = conn
                continue
            with self._state:
                registered = self._register(conn)
            if not registered:
                self._close(conn)
        return first

    def _connection(self, sock: socket.socket, addr: Any, deadline: float) -> Connection | None:
        """The connection of an accepted socket, or None (the socket closed) if refused."""
        if not self._verified(sock, addr):
            sock.close()
            return None
        sock.setblocking(False)
        if sock.family in _INET:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        config = self.config
        return Connection(
            sock,
            addr,
            deadline=deadline,
            body_timeout_s=config.body_timeout_s,
            send_timeout_s=config.send_timeout_s,
            use_sendmsg=config.use_sendmsg,
            use_sendfile=config.use_sendfile,
        )

    def _tls_connection(
        self, listener: ssl.SSLSocket, sock: socket.socket, addr: Any, deadline: float
    ) -> Connection | None:
        """The connection of a socket accepted on a TLS listener, its handshake to come.

        The socket is wrapped with the listener's context (``server_side=True``,
        ``do_handshake_on_connect=False``, the listener's ``suppress_ragged_eofs``)
        before ``verify_request`` sees it, so that the hook gets an ``ssl.SSLSocket``
        as in the standard library, but one whose handshake is still to come (its
        ``getpeercert()`` raises ``ValueError``). A refused or failed one is closed
        (None).
        """
        if sock.family in _INET:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls_sock = listener.context.wrap_socket(
                sock,
                server_side=True,
                do_handshake_on_connect=False,
                # An attribute of every SSLSocket that typeshed does not declare.
                suppress_ragged_eofs=getattr(listener, "suppress_ragged_eofs", True),
            )
        except OSError as exc:  # e.g. the client is gone already
            logger.debug("TLS connection from %s not opened: %s", addr, exc)
            sock.close()
            return None
        if not self._verified(tls_sock, addr):
            tls_sock.close()
            return None
        tls_sock.setblocking(False)
        config = self.config
        return TLSConnection(
            tls_sock,
            addr,
            deadline=deadline,
            body_timeout_s=config.body_timeout_s,
            send_timeout_s=config.send_timeout_s,
        )

    def _verified(self, sock: socket.socket, addr: Any) -> bool:
        """Ask the server's ``verify_request``; a hook that fails refuses the connection."""
        verify = self._verify
        if verify is None:
            return True
        try:
            return bool(verify(sock, addr))
        except Exception:
            logger.exception("verify_request failed; the connection is refused")
            return False

    def _close(self, conn: Connection) -> None:
        if conn.closed:
            return
        self.conns.pop(conn.fd, None)
        with self._state:
            self._unregister(conn)  # before the close, which frees the descriptor
        conn.close()

    def _linger(self, conn: Connection) -> None:
        """Close *conn* once the client has taken the response (RFC 9112 section 9.6).

        The response is all sent (sends block until then): shut the sending side, so
        the client sees the end of the response, and leave the connection to the event
        loop, which reads and discards what the client still sends and closes it at
        EOF, past ``max_linger_bytes`` or at ``linger_timeout_s`` from now (``reap``).
        Closing at once would answer those bytes with a TCP reset, and a reset can
        destroy the response before the client has read it.
        """
        if conn.closed:
            return
        if self._exiting or conn.client_done:  # nothing polls any more, or will come
            self._close(conn)
            return
        try:
            conn.shutdown_write()  # TLS: close_notify first, then raw bytes are discarded
        except OSError:  # the client is gone already
            self._close(conn)
            return
        config = self.config
        conn.buf.clear()
        conn.scanned = 0
        conn.lingering = True
        conn.linger_left = config.max_linger_bytes
        conn.deadline = time.monotonic() + config.linger_timeout_s
        self._discard(conn)  # what has arrived already, maybe the client's EOF too
        if not conn.closed:
            self._await(conn, _READ)  # TLS: it may have been polled for writing

    def _discard(self, conn: Connection) -> None:
        """Read and drop what a lingering connection sends; close it at EOF or past budget."""
        try:
            data = conn.sock.recv(_RECV_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            conn.linger_left -= len(data)
            if conn.linger_left > 0:
                return
        self._close(conn)

    def _serve(self, conn: Connection) -> None:
        """Read what *conn* has sent and serve every complete request in it."""
        if conn.lingering:
            self._discard(conn)
            if not conn.closed:
                self._rearm(conn)
            return
        try:
            data = conn.sock.recv(_RECV_SIZE)
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
            self._linger(conn)

    def _serve_tls(self, conn: Connection) -> None:
        """``_serve`` for a connection accepted on a TLS listener.

        Until its handshake is done, go on with it (``Connection.handshake``) and poll
        for what it waits for. Then read as ``_serve`` does, with two differences
        (the ``ssl`` documentation's "Notes on non-blocking sockets"): a read may
        have to wait for the socket to be writable (a record to send first), and the
        bytes the ``ssl`` object holds decrypted after a read (``pending()``) are
        served before the connection goes back to the selector, which cannot see them.
        A lingering connection has no ``ssl`` object any more and is ``_serve``'s.
        """
        if conn.proxy_pending and not self._proxy_header_before_tls(conn):
            return
        if not conn.established and not self._handshake(conn):
            return
        if conn.lingering:
            self._serve(conn)
            return
        while True:
            try:
                data = conn.sock.recv(_RECV_SIZE)
            except RECV_BLOCKED:
                events = _READ
                break
            except RECV_NEEDS_WRITE:
                events = EVENT_WRITE
                break
            except OSError:
                data = b""
            if not data:
                self._close(conn)
                return
            conn.buf += data
            if not self._serve_buffered(conn):
                self._linger(conn)
                return
            if not conn.pending():
                events = _READ
                break
        self._await(conn, events)

    def _handshake(self, conn: Connection) -> bool:
        """Go on with *conn*'s TLS handshake; say whether it is done.

        Not done: *conn* is polled for what the handshake waits for, or closed if it
        failed (a debug log line, no traceback: a client speaking plain HTTP to the
        TLS port, or refusing the certificate, is the client's business).
        """
        try:
            wait = conn.handshake()
        except OSError as exc:  # ssl.SSLError included
            logger.debug("TLS handshake with %s failed: %s", conn.host, exc)
            self._close(conn)
            return False
        if wait:
            self._await(conn, wait)
            return False
        return True

    def _serve_buffered(self, conn: Connection) -> bool:
        """Serve the complete requests in *conn*'s buffer; say whether to keep it open.

        The search for the end of a head resumes where the last one stopped
        (``conn.scanned``), so a head that arrives in many pieces is scanned once.
        """
        buf = conn.buf
        config = self.config
        if conn.proxy_pending:
            taken = self._proxy_header(conn, buf)
            if not taken:
                return taken == 0  # None: invalid, the connection closes
            del buf[:taken]
        # Once the engine is stopping, the request being read is still served (its
        # response says "Connection: close", so it is the last one).
        while True:
            while buf[:2] == _CRLF:  # RFC 9112 section 2.2: ignore empty lines before a request
                del buf[:2]
                conn.scanned = 0
            if not buf:
                conn.head_started = False
                return True
            try:
                end = find_head_end(buf, config, start=conn.scanned)
                if end < 0:
                    conn.scanned = len(buf)
                    if not conn.head_started:
                        conn.head_started = True
                        conn.deadline = time.monotonic() + config.header_timeout_s
                    return True
                conn.scanned = 0
                conn.first_request_by = 0.0
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
                # A client that said "close" and sent no body has nothing more to send
                # (RFC 9112 section 9.6): such a connection is closed without lingering.
                conn.client_done = not (request.keep_alive or request.has_body or buf)
                return False
            conn.head_started = False
            conn.deadline = time.monotonic() + config.idle_timeout_s

    # -- the PROXY protocol -----------------------------------------------------------

    def _proxy_header(self, conn: Connection, data: bytes | bytearray) -> int | None:
        """Read the PROXY protocol header at the start of *data* (what *conn* has
        sent so far) and take its client address; return its length in bytes, 0 if it
        is still incomplete, None if it is invalid (a warning is logged).

        The caller takes the bytes off. The connection's deadline stays the one set at
        the accept (``header_timeout_s``): a proxy that never completes its header is
        closed by ``reap``, as a client that never completes its request head.
        """
        try:
            header = parse_proxy_header(data)
        except ProxyProtocolError as exc:
            logger.warning("connection from %s closed: %s", conn.host, exc)
            return None
        if header is None:
            return 0
        conn.proxy_pending = False
        if isinstance(header.source, tuple):  # a Unix socket's path is no address
            conn.set_client(header.source)
        return header.length

    def _proxy_header_before_tls(self, conn: Connection) -> bool:
        """Read the PROXY protocol header that precedes a TLS handshake (in clear, on
        the TCP socket); say whether to go on with the connection now.

        The bytes are peeked, and only the header's own are taken off the socket: the
        ClientHello behind it is the ``ssl`` object's to read. The bytes of a header
        still incomplete are all its own: they are taken, and wait in ``conn.buf``.
        """
        try:
            data = socket.socket.recv(conn.sock, _RECV_SIZE + 16, socket.MSG_PEEK)
        except BlockingIOError:
            self._await(conn, _READ)
            return False
        except OSError:
            data = b""
        taken = self._proxy_header(conn, conn.buf + data) if data else None
        if taken is None:
            self._close(conn)
            return False
        with contextlib.suppress(OSError):  # bytes peeked already: they are there
            socket.socket.recv(conn.sock, taken - len(conn.buf) if taken else len(data))
        if not taken:
            conn.buf += data
            self._await(conn, _READ)
            return False
        conn.buf.clear()
        return True

    def _rearm(self, conn: Connection) -> None:
        """Have *conn* polled (level-triggered: once registered, it stays so)."""
        if not conn.registered:
            with self._state:
                if not self._exiting and (conn.parked or self._register(conn)):
                    return  # a parked one is registered when it is unparked
            self._close(conn)

    def _await(self, conn: Connection, events: int) -> None:
        """Have *conn* polled for *events* (``_rearm`` for a TLS connection, whose
        handshake or reads may wait for the socket to be writable)."""
        if conn.registered and conn.events == events:
            return
        with self._state:
            if not self._exiting:
                if conn.registered:
                    if self._modify(conn, events):
                        return
                else:
                    conn.events = events  # a parked one is registered so when unparked
                    if conn.parked or self._register(conn):
                        return
        self._close(conn)

    def _refuse(self, conn: Connection, error: ParseError) -> None:
        """Send the error response of a request that cannot be served (the caller lingers)."""
        with contextlib.suppress(OSError):
            conn.send_all(self.hooks.render_error(error, conn.addr))
