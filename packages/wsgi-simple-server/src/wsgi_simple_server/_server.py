"""``WSGIServer``, ``WSGIRequestHandler``, ``ServerHandler`` and ``make_server``.

The classes keep the standard library's shape: ``WSGIServer`` is an
``http.server.HTTPServer`` and ``WSGIRequestHandler`` a ``BaseHTTPRequestHandler``
whose ``handle()`` serves one request over ``rfile``/``wfile`` exactly as
``wsgiref.simple_server`` does, so subclasses and test doubles written for it keep
working, and so does ``handle_request()``.

``serve_forever()`` is where the server goes further: with the stock request handler
(or a subclass that overrides none of the request-level hooks) it runs the HTTP/1.1
engine (persistent connections, a worker pool, strict parsing, limits and timeouts)
whose HTTP/1.0 responses are the standard library's bytes. With any other handler
class it serves as the standard library does, one request per connection, in turn.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import socket
import socketserver
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from platform import python_implementation
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from wsgi_handlers import BaseHandler, BoundedInput, SimpleHandler
from wsgi_util import FileWrapper, guess_scheme
from wsgi_util.types import ErrorStream, WSGIApplication

from wsgi_simple_server._body import BodyError
from wsgi_simple_server._config import DEFAULT_CONFIG, ServerConfig
from wsgi_simple_server._connection import Connection, as_tls
from wsgi_simple_server._engine import Engine
from wsgi_simple_server._errors import render_error
from wsgi_simple_server._exchange import EnvironBuilder, Exchange, FileSource, spool_chunked
from wsgi_simple_server._listeners import (
    DEFAULT_UDS_MODE,
    open_listener,
    parse_bind,
    tls_context,
)
from wsgi_simple_server._log import AccessLog, error_logger, log_access
from wsgi_simple_server._parser import ParseError, Request, body_framing, origin_form
from wsgi_simple_server._proxy import (
    ProxyProtocolError,
    apply_forwarded,
    read_proxy_header,
    trusted_peers,
)

if TYPE_CHECKING:
    import ssl

_log = logging.getLogger("wsgi_simple_server")

__version__ = "0.2"

server_version = "WSGIServer/" + __version__
sys_version = python_implementation() + "/" + sys.version.split()[0]
software_version = server_version + " " + sys_version

# The variables the request handler sets; a header whose CGI name is one of them is
# not passed on (the standard library's ``if k in env: continue``).
_REQUEST_KEYS = frozenset(
    {
        "SERVER_PROTOCOL",
        "SERVER_SOFTWARE",
        "REQUEST_METHOD",
        "PATH_INFO",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
    }
)


class ServerHandler(SimpleHandler):
    """The handler ``WSGIRequestHandler`` runs: logs the request when it closes.

    Unlike the standard library's, its environ does not start with a copy of the
    process's environment variables (``os_environ`` is empty); ``WSGIRequestHandler``
    gives it ``BaseHandler.os_environ`` when the server's ``config.copy_os_environ``
    says so.
    """

    server_software = software_version
    request_handler: BaseHTTPRequestHandler
    os_environ: MutableMapping[str, str] = {}  # noqa: RUF012 - read-only, as in wsgi_cgi

    def log_exception(
        self,
        exc_info: tuple[type[BaseException], BaseException, TracebackType]
        | tuple[None, None, None],
    ) -> None:
        """Log an application's error on the ``wsgi_simple_server.error`` logger, with
        its traceback, as the HTTP/1.1 engine does (by default both are written to the
        current ``sys.stderr``, where ``wsgiref`` prints the traceback). A request
        handler class whose ``get_stderr`` is overridden gets the traceback on its own
        stream instead, as in the standard library.
        """
        handler = self.request_handler
        if getattr(type(handler), "get_stderr", None) is not WSGIRequestHandler.get_stderr:
            SimpleHandler.log_exception(self, exc_info)
            return
        error_logger.error(
            "Error in the application serving %r for %s",
            getattr(handler, "requestline", ""),
            handler.client_address[0] if handler.client_address else "",
            exc_info=exc_info,
        )

    def close(self) -> None:
        """Log the request (status code and body size), then close as usual."""
        try:
            status = self.status or "-"
            self.request_handler.log_request(status.split(" ", 1)[0], self.bytes_sent)
        finally:
            SimpleHandler.close(self)


class WSGIServer(HTTPServer):
    """An ``HTTPServer`` that runs a WSGI application (PEP 3333).

    Beyond the standard library: ``config`` (a ``ServerConfig``) sets the limits,
    timeouts and pool size of ``serve_forever``; an IPv6 address (``"::"``) gives an
    IPv6 socket, dual-stack when the platform allows; ``request_shutdown()`` asks
    ``serve_forever`` to stop without waiting (safe from a signal handler).

    Several listening sockets: ``add_listener`` adds one (a Unix domain socket, another
    address, an inherited descriptor) and ``from_listeners`` makes a server on given
    ones; one worker pool serves them all. ``socket`` stays the first of ``sockets``.
    The config's ``backlog`` and ``reuse_port`` apply to the sockets the server binds,
    and its ``certfile`` makes every listening socket speak TLS (``ssl_context``).
    """

    application: WSGIApplication | None = None
    base_environ: dict[str, Any]
    config: ServerConfig = DEFAULT_CONFIG
    request_queue_size = 1024
    ssl_context: ssl.SSLContext | None = None
    """The TLS context made from the config's ``certfile`` and kin (None: plain HTTP)."""

    def __init__(
        self,
        server_address: Any,
        RequestHandlerClass: Callable[..., Any],  # noqa: N803 - the stdlib's name
        bind_and_activate: bool = True,
        *,
        config: ServerConfig | None = None,
    ) -> None:
        if config is not None:
            self.config = config
        config = self.config
        if config.backlog is not None:
            # listen() takes a C int (and the kernel caps it at its own maximum anyway).
            self.request_queue_size = min(config.backlog, 2**31 - 1)
        if config.reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise ValueError("reuse_port: SO_REUSEPORT is not available on this platform")
            self.allow_reuse_port = True
        self.ssl_context = tls_context(config)  # ValueError for an unreadable certificate
        if isinstance(server_address, tuple) and ":" in str(server_address[0]):
            self.address_family = socket.AF_INET6
        self._stop_requested = threading.Event()
        # Set by request_shutdown: a plain attribute, as a signal handler may set it
        # while the main thread it interrupted holds _stop_requested's lock.
        self._stop_flagged = False
        self._engine_stopped = threading.Event()
        self._engine_stopped.set()
        self._engine_ran = False  # serve_forever has served through the engine
        self._engine: Engine | None = None
        self._more_sockets: list[socket.socket] = []
        # Descriptor -> the Unix socket file the server made, removed by server_close.
        self._socket_files: dict[int, str] = {}
        super().__init__(server_address, RequestHandlerClass, bind_and_activate)
        if self.ssl_context is not None:
            self.socket = self._tls(self.socket)

    @classmethod
    def from_listeners(
        cls,
        listeners: Iterable[socket.socket | str],
        RequestHandlerClass: Callable[..., Any] | None = None,  # noqa: N803 - the stdlib's name
        *,
        config: ServerConfig | None = None,
        uds_mode: int = DEFAULT_UDS_MODE,
    ) -> Self:
        """Make a server on *listeners*: listening sockets, or addresses to listen on.

        Each is a socket already listening (bound by the caller, inherited, passed by
        systemd), or an address as ``--bind`` takes it: ``HOST:PORT``, ``[IPV6]:PORT``,
        ``unix:PATH`` (its file made with *uds_mode*), ``fd://N`` (see ``add_listener``).
        The first becomes ``socket``, ``server_address`` and ``server_name``/
        ``server_port`` (for a Unix socket its path, ``"localhost"`` and the scheme's
        default port, 80 or 443). *RequestHandlerClass* defaults to ``WSGIRequestHandler``.
        Raise ``ValueError`` for no listener, a bad address or one given twice,
        ``OSError`` if one cannot be listened on (the ones opened already are closed).
        """
        items = list(listeners)
        if not items:
            raise ValueError("a server needs at least one listening socket")
        handler = WSGIRequestHandler if RequestHandlerClass is None else RequestHandlerClass
        if config is None:
            server = cls(("127.0.0.1", 0), handler, bind_and_activate=False)
        else:
            server = cls(("127.0.0.1", 0), handler, bind_and_activate=False, config=config)
        server.socket.close()  # the one socketserver made, never bound
        try:
            first = server._open(items[0], uds_mode)
            server.socket = first
            server.address_family = first.family
            server.server_address = first.getsockname()
            server.server_name, server.server_port = server_name_and_port(first)
            server.setup_environ()
            for item in items[1:]:
                server.add_listener(item, uds_mode=uds_mode)
        except BaseException:
            server.server_close()
            raise
        return server

    @property
    def sockets(self) -> list[socket.socket]:
        """The listening sockets: ``socket`` first, then those ``add_listener`` added."""
        return [self.socket, *self._more_sockets]

    def add_listener(
        self, listener: socket.socket | str, *, uds_mode: int = DEFAULT_UDS_MODE
    ) -> socket.socket:
        """Listen on one more socket as well; return it (wrapped for TLS, if the config
        sets ``certfile``).

        *listener* is a listening socket (the server closes it in ``server_close``) or an
        address: ``HOST:PORT`` or ``[IPV6]:PORT`` (bound with the config's ``backlog``
        and ``reuse_port``; an IPv6 one listens on IPv6 only), ``unix:PATH`` (a Unix
        domain socket, its file made with *uds_mode*, a stale file replaced, removed
        by ``server_close``) or ``fd://N`` (the listening socket inherited as descriptor
        N). Its requests have the ``SERVER_NAME`` and ``SERVER_PORT`` of that socket.
        Raise ``ValueError`` for a bad address or one listened on already (the same
        descriptor or socket, or another socket on the same address), ``OSError`` if it
        cannot be listened on, ``RuntimeError`` while ``serve_forever`` runs (add
        listeners before it).
        """
        if not self._engine_stopped.is_set():
            raise RuntimeError("add listeners before serve_forever, not while it runs")
        sock = self._open(listener, uds_mode)
        self._more_sockets.append(sock)
        return sock

    def _open(self, listener: socket.socket | str, uds_mode: int) -> socket.socket:
        # A socket served twice would be closed twice (the second close hitting another
        # file, or EBADF): the same descriptor, or the same address, is refused.
        taken = {s.fileno(): s for s in self.sockets if s.fileno() >= 0}
        if isinstance(listener, str):
            bind = parse_bind(listener)
            if bind.kind == "fd" and bind.fd in taken:
                raise ValueError(f"{listener!r}: descriptor {bind.fd} is a listener already")
            sock = open_listener(
                bind,
                backlog=self.request_queue_size,
                reuse_port=bool(self.allow_reuse_port),
                uds_mode=uds_mode,
            )
        elif isinstance(listener, socket.socket):
            if listener.fileno() in taken:
                raise ValueError(f"{listener!r} is a listener already")
            bind, sock = None, listener
        else:
            raise TypeError(f"a listener is a socket or an address string, not {listener!r}")
        address = (sock.family, sock.getsockname())
        if any((s.family, s.getsockname()) == address for s in taken.values()):
            if bind is not None and bind.kind == "fd":
                sock.detach()  # the descriptor stays the caller's, as adopt_socket leaves it
            elif bind is not None:
                sock.close()
            raise ValueError(f"{listener!r}: a listener is on {address[1]!r} already")
        if bind is not None and bind.kind == "unix":
            self._socket_files[sock.fileno()] = bind.path
        return self._tls(sock)

    def _tls(self, sock: socket.socket) -> socket.socket:
        """*sock* wrapped with ``ssl_context`` (as it is without one, or if it is TLS)."""
        if self.ssl_context is None or as_tls(sock) is not None:
            return sock
        return self.ssl_context.wrap_socket(sock, server_side=True)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection and make it ready for its request head (the standard
        library's loop: ``handle_request()``, and ``serve_forever`` with a socket-level
        override).

        As the engine does, each step is bounded by ``config.header_timeout_s`` (the
        connection's timeout, kept for reading the request head): the PROXY protocol
        header of a peer in ``proxy_allow_ips`` is read from the TCP socket, in clear,
        and its client address returned; then a TLS listener's connection has its
        handshake (which ``ssl.SSLSocket.accept`` does with no timeout, so that one
        stalled client held up the server). Raise ``ConnectionAbortedError`` (the
        connection closed, logged) when a step fails: ``socketserver`` goes on to the
        next connection. An override that does not call this one reads no PROXY header.
        """
        config = self.config
        tls = as_tls(self.socket)
        conn, addr = socket.socket.accept(self.socket)  # TCP, without the handshake
        try:
            conn.settimeout(config.header_timeout_s)
            if config.proxy_protocol and trusted_peers(config.proxy_allow_ips).trusts_peer(addr):
                header = read_proxy_header(conn.recv)  # no byte past the header
                if isinstance(header.source, tuple):  # a Unix socket's path is no address
                    addr = header.source
            if tls is not None:
                conn = tls.context.wrap_socket(
                    conn, server_side=True, do_handshake_on_connect=False
                )
                conn.do_handshake()
        except (ProxyProtocolError, OSError) as exc:
            conn.close()
            level = logging.WARNING if isinstance(exc, ProxyProtocolError) else logging.DEBUG
            _log.log(level, "connection from %s closed: %s", addr, exc)
            raise ConnectionAbortedError(f"connection from {addr} closed: {exc}") from exc
        return conn, addr

    def server_close(self) -> None:
        """Close every listening socket, and remove the Unix socket files it made."""
        for sock in self.sockets:
            path = self._socket_files.pop(sock.fileno(), None)
            sock.close()
            if path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
        self._more_sockets.clear()

    def server_bind(self) -> None:
        """Bind, and store the server name and the base environ (``setup_environ``)."""
        if self.address_family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            # Serve IPv4 clients too, as "::" means on dual-stack hosts.
            with contextlib.suppress(OSError):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        HTTPServer.server_bind(self)
        self.setup_environ()

    def setup_environ(self) -> None:
        """Set up ``base_environ``, the variables every request shares."""
        self.base_environ = server_environ(self.server_name, self.server_port)

    def get_app(self) -> WSGIApplication | None:
        """Return the application set by ``set_app``."""
        return self.application

    def set_app(self, application: WSGIApplication | None) -> None:
        """Set the application the server runs."""
        self.application = application

    # -- the HTTP/1.1 engine ----------------------------------------------------------

    def stdlib_path_reason(self) -> str | None:
        """Why ``serve_forever`` serves as the standard library does, or None.

        Only overrides that take the socket itself do that: on the request handler
        ``__init__`` (which serves the socket), ``handle``, ``handle_one_request``,
        ``setup``, ``finish`` or ``parse_request``; on the server ``get_request``,
        ``finish_request``, ``shutdown_request``, ``close_request`` or a
        ``process_request`` other than ``socketserver``'s ``ThreadingMixIn``/
        ``ForkingMixIn`` (whose work the engine's pool does). Every other hook is
        called by the engine.
        """
        handler = self.RequestHandlerClass
        if not (isinstance(handler, type) and issubclass(handler, WSGIRequestHandler)):
            return f"the request handler {handler!r} is not a WSGIRequestHandler"
        for name in _SOCKET_HOOKS:
            if getattr(handler, name) is not getattr(WSGIRequestHandler, name):
                return f"{handler.__qualname__}.{name} is overridden"
        server_class = type(self)
        for name in _SERVER_SOCKET_HOOKS:
            method = getattr(server_class, name)
            if method is not getattr(WSGIServer, name) and method not in _POOLED_PROCESS_REQUEST:
                return f"{server_class.__qualname__}.{name} is overridden"
        return None

    def _environ_builder(self, sock: socket.socket) -> EnvironBuilder:
        shared = self.base_environ
        if sock is not self.socket:  # another listener: its own name and port
            name, port = server_name_and_port(sock)
            shared = {**shared, "SERVER_NAME": name, "SERVER_PORT": str(port)}
        software = getattr(self.RequestHandlerClass, "server_version", server_version)
        return environ_builder(shared, self.config, server_software=software, multiprocess=False)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until ``shutdown()``, then stop gracefully.

        The engine stops accepting, closes idle connections, lets requests in flight
        finish for up to ``config.shutdown_timeout_s``, and closes what is left.
        """
        reason = self.stdlib_path_reason()
        if reason is not None:
            if self._more_sockets:
                raise RuntimeError(
                    "only the HTTP/1.1 engine serves several listening sockets, and "
                    f"this server cannot use it: {reason}"
                )
            _log.warning(
                "serving one request at a time, as wsgiref.simple_server does, "
                "without keep-alive or the worker pool: %s",
                reason,
            )
            super().serve_forever(poll_interval)
            return
        self._engine_stopped.clear()
        self._engine_ran = True
        tick = min(self.config.handoff_s / 2, 0.01)
        reap_every = max(1, round(min(poll_interval, 0.1) / tick))
        try:
            engine = self._engine = Engine(
                [(sock, self._environ_builder(sock)) for sock in self.sockets],
                self.get_app,
                self.config,
                server_software=software_version,
                hooks=RequestHooks(self),
                # Asked per connection only when a subclass overrides it.
                verify=None
                if type(self).verify_request is WSGIServer.verify_request
                else self.verify_request,
            )
            engine.start()
            try:
                ticks = 0
                while not self._stop_flagged and not self._stop_requested.wait(tick):
                    engine.hand_off()
                    ticks += 1
                    if ticks % reap_every == 0:
                        engine.reap()
                        self.service_actions()
            finally:
                drained = engine.stop(self.config.shutdown_timeout_s)
                self._engine = None
                _log.info(
                    "stopped: %d request(s) in flight finished, %d cut off at the %g s"
                    " shutdown timeout, %d idle connection(s) closed",
                    max(drained.in_flight - drained.cut, 0),
                    drained.cut,
                    self.config.shutdown_timeout_s,
                    drained.idle,
                )
                for sock in self.sockets:
                    sock.setblocking(True)
        finally:
            # Cleared here, not on entry: a stop asked for before serving began (a
            # signal during start-up) is kept, and serving can start again afterwards.
            self._stop_flagged = False
            self._stop_requested.clear()
            self._engine_stopped.set()

    def request_shutdown(self) -> None:
        """Ask ``serve_forever`` to stop and return at once (for signal handlers).

        It takes no lock: a signal handler runs on the main thread, maybe while that
        thread holds a lock inside ``serve_forever``, and setting an ``Event`` there
        would wait for it forever. ``serve_forever`` sees the request within a tick.
        """
        self._stop_flagged = True

    def shutdown(self) -> None:
        """Stop ``serve_forever`` and wait until it has returned.

        Called by an application (from a worker thread, as a ``/quit`` route does with
        a ``ThreadingMixIn`` server under the standard library), it asks for the stop
        and returns at once: the request that called it still gets its response, and
        ``serve_forever`` returns when it is done (waiting here would wait for itself).
        """
        if not self._engine_stopped.is_set():
            self._stop_requested.set()
            engine = self._engine
            if engine is not None:
                engine.stopping = True  # responses from now on say Connection: close
            if engine is None or not engine.runs_on_current_thread():
                self._engine_stopped.wait()
            return
        if self._engine_ran:
            return  # stopped already (the standard library's shutdown would wait forever)
        super().shutdown()


class WSGIRequestHandler(BaseHTTPRequestHandler):
    """Serves one request over ``rfile``/``wfile`` with ``ServerHandler``, as wsgiref does.

    ``server`` is typed ``WSGIServer`` (typeshed: ``socketserver.BaseServer``): the
    handler reads its ``base_environ`` and ``get_app()``, so it only runs under one,
    and code reading ``self.server`` needs no cast.
    """

    server_version = "WSGIServer/" + __version__
    server: WSGIServer

    def get_environ(self) -> dict[str, Any]:
        """Return the CGI variables of the request (without the ``wsgi.`` ones).

        As the standard library does, except that a header whose name holds ``_``
        is dropped (it would merge into the variable of its dashed twin), and
        repeated ``Cookie`` fields are joined with ``"; "``.
        """
        env = self.server.base_environ.copy()
        env["SERVER_PROTOCOL"] = self.request_version
        env["SERVER_SOFTWARE"] = self.server_version
        env["REQUEST_METHOD"] = self.command
        if "?" in self.path:
            path, query = self.path.split("?", 1)
        else:
            path, query = self.path, ""
        env["PATH_INFO"] = urllib.parse.unquote(path, "iso-8859-1")
        env["QUERY_STRING"] = query
        host = self.address_string()
        if host != self.client_address[0]:
            env["REMOTE_HOST"] = host
        env["REMOTE_ADDR"] = self.client_address[0]
        if self.headers.get("content-type") is None:
            env["CONTENT_TYPE"] = self.headers.get_content_type()
        else:
            env["CONTENT_TYPE"] = self.headers["content-type"]
        length = self.headers.get("content-length")
        if length:
            env["CONTENT_LENGTH"] = length
        for name, value in self.headers.items():
            if "_" in name:
                continue
            key = name.replace("-", "_").upper()
            if key in env:
                continue  # CONTENT_LENGTH, CONTENT_TYPE and the like
            key = "HTTP_" + key
            if key in env:
                env[key] += ("; " if key == "HTTP_COOKIE" else ",") + value.strip()
            else:
                env[key] = value.strip()
        return env

    def get_stderr(self) -> ErrorStream:
        """Return the stream for ``wsgi.errors``: ``sys.stderr``."""
        return sys.stderr

    def handle(self) -> None:
        """Handle a single HTTP request.

        As the engine reads it: the request target in its origin form (an absolute-form
        target's authority becomes the Host field; a target the engine refuses is
        answered 400, except for raw non-ASCII bytes, read as the standard library
        reads them), the body framed by Content-Length or
        decoded from the chunked coding (``CONTENT_LENGTH`` then gives its size), the
        forwarding fields of a trusted proxy last. The PROXY protocol header and the TLS
        handshake come before, in ``WSGIServer.get_request``, whose
        ``config.header_timeout_s`` bounds the head as well.
        """
        config: ServerConfig = getattr(self.server, "config", DEFAULT_CONFIG)
        chunked = self._read_head(config)
        if chunked is None:  # answered, or closed
            return
        if self.timeout is None and isinstance(self.connection, socket.socket):
            # The head is in: from now on the body's and the response's timeouts (a
            # handler's own ``timeout`` attribute, set by ``setup``, is left as it is).
            self.connection.settimeout(max(config.body_timeout_s, config.send_timeout_s))
        stdin: Any = None
        spool: Any = None
        if chunked:
            try:
                stdin, spool, size = spool_chunked(FileSource(self.rfile), config.max_body_bytes)
            except BodyError as exc:
                self.close_connection = True
                self.send_error(exc.status, exc.message)
                return
            except (ConnectionError, TimeoutError):
                self.close_connection = True
                return
        try:
            environ = self.get_environ()
            environ["wsgi.input_terminated"] = True
            if as_tls(self.connection) is not None:  # as the engine says it (PEP 3333)
                environ["wsgi.url_scheme"] = "https"
                environ["HTTPS"] = "on"
            apply_forwarded(
                environ,
                self.client_address,
                trusted_peers(config.forwarded_allow_ips),
                config.trusted_proxy_headers,
            )
            if spool is not None:
                # Decoded: the application must not decode it again, and its size is known.
                environ.pop("HTTP_TRANSFER_ENCODING", None)
                environ["CONTENT_LENGTH"] = str(size)
            else:
                length = environ.get("CONTENT_LENGTH", "")
                # RFC 9112 section 6.3: a request without Content-Length has no body here
                # (the standard library handed the raw socket over: read() waited forever).
                stdin = BoundedInput(self.rfile, int(length) if length.isdigit() else 0)
            handler = ServerHandler(
                stdin, self.wfile, self.get_stderr(), environ, multithread=False
            )
            handler.request_handler = self  # back-pointer for logging
            if config.copy_os_environ:
                handler.os_environ = BaseHandler.os_environ
            app = self.server.get_app()
            if app is None:
                raise TypeError("no application set: call set_app() first")
            handler.run(app)
        finally:
            if spool is not None:
                spool.close()

    def _read_head(self, config: ServerConfig) -> bool | None:
        """Read and check the request head; say whether its body is chunked, or None
        when the request was answered with an error or the connection is to close."""
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = ""
                self.request_version = ""
                self.command = ""
                self.send_error(414)
                return None
            if not self.parse_request():  # an error has been sent
                return None
        except TimeoutError:
            _log.debug("connection from %s closed: no request head in time", self.client_address)
            self.close_connection = True
            return None
        try:
            # Raw non-ASCII bytes are read as the standard library reads them (CPython's
            # own tests ask it of wsgiref): the engine answers them with 400.
            self.path, host = origin_form(self.command, self.path, obs_text=True)
            _, chunked = body_framing(self.request_version, self.headers.items(), config)
        except ParseError as exc:
            self.close_connection = True
            self.send_error(exc.status, exc.message, exc.explain)
            return None
        if host is not None:
            del self.headers["Host"]
            self.headers["Host"] = host
        return chunked

    def log_message(self, format: str, *args: Any) -> None:
        """Log through the ``wsgi_simple_server.access`` logger (stderr by default),
        unless the server's ``config.access_log`` is false."""
        if getattr(self.server, "config", DEFAULT_CONFIG).access_log:
            log_access(self.address_string(), format % args)


# Overriding one of these makes serve_forever serve as the standard library does:
# they take the socket itself.
_SOCKET_HOOKS = ("__init__", "handle", "handle_one_request", "setup", "finish", "parse_request")
_SERVER_SOCKET_HOOKS = (
    "get_request",
    "finish_request",
    "process_request",
    "shutdown_request",
    "close_request",
)
# socketserver's concurrency mixins: the engine's pool does what they would.
_POOLED_PROCESS_REQUEST = tuple(
    getattr(socketserver, mixin).process_request
    for mixin in ("ThreadingMixIn", "ForkingMixIn")
    if hasattr(socketserver, mixin)
)


def _overridden(handler_class: type, names: tuple[str, ...]) -> bool:
    return any(
        getattr(handler_class, name) is not getattr(WSGIRequestHandler, name) for name in names
    )


class RequestHooks:
    """The request handler's hooks, called by the engine as the standard library would.

    For each request that needs one, an instance of the server's request handler
    class is made without a socket (``__new__``) and given the attributes its hooks
    read: ``server``, ``client_address``, ``requestline``, ``command``, ``path``,
    ``request_version``, ``close_connection`` and, for ``get_environ``, ``headers``
    (an ``http.client.HTTPMessage``). When a group of hooks is not overridden the
    engine's own code does the same work, and none of this is paid for.
    """

    def __init__(self, server: WSGIServer) -> None:
        self.server = server
        handler: type[WSGIRequestHandler] = server.RequestHandlerClass  # type: ignore[assignment]
        self.handler_class = handler
        self.custom_environ = _overridden(handler, ("get_environ", "get_stderr"))
        self.custom_log = _overridden(
            handler, ("log_request", "log_message", "address_string", "log_date_time_string")
        )
        self.custom_error = self.custom_log or _overridden(
            handler, ("send_error", "log_error", "version_string", "date_time_string")
        )
        # Where the stock error pages log their request (None: the access log is off).
        config = server.config
        self.access_log = AccessLog(config.access_log_format) if config.access_log else None

    def view(self, request: Request, conn: Connection) -> WSGIRequestHandler:
        """An instance of the handler class for *request* on *conn* (its ``request``
        and ``connection`` are the socket; it reads and writes nothing itself)."""
        handler = self.handler_class.__new__(self.handler_class)
        handler.server = self.server
        handler.client_address = conn.addr
        handler.request = handler.connection = conn.sock
        handler.requestline = request.requestline
        handler.raw_requestline = (request.requestline + "\r\n").encode("iso-8859-1")
        handler.command = request.method
        # The origin form: an absolute-form target's authority is already the Host field.
        handler.path = request.path + ("?" + request.query if request.query else "")
        handler.request_version = request.version
        handler.close_connection = not request.keep_alive
        return handler

    def environ(self, request: Request, conn: Connection) -> tuple[dict[str, Any], Any]:
        """``get_environ()`` and ``get_stderr()`` of a handler view for *request*."""
        handler = self.view(request, conn)
        headers = http.client.HTTPMessage()
        for name, value in request.headers:
            headers[name] = value
        handler.headers = headers
        return handler.get_environ(), handler.get_stderr()

    def log_request(self, exchange: Exchange) -> None:
        """``log_request(code, size)`` of a handler view, as ``ServerHandler.close`` calls it."""
        code = (exchange.status or "500").split(" ", 1)[0]
        try:
            self.view(exchange.request, exchange.conn).log_request(code, exchange.bytes_sent)
        except Exception:
            _log.exception("the request handler's log_request failed")

    def render_error(self, error: ParseError, client_address: Any) -> bytes:
        """The error page for *error*, by the handler class when it overrides a hook of it."""
        log = self.access_log
        if not self.custom_error:
            return render_error(error, client_address, access_log=log)
        try:
            return render_error(
                error, client_address, handler_class=self.handler_class, server=self.server
            )
        except Exception:
            _log.exception("the request handler's send_error failed; the stock page is sent")
            return render_error(error, client_address, access_log=log)


def server_environ(server_name: str, server_port: int) -> dict[str, Any]:
    """The CGI variables ``wsgiref``'s ``WSGIServer.setup_environ`` gives every request."""
    return {
        "SERVER_NAME": server_name,
        "GATEWAY_INTERFACE": "CGI/1.1",
        "SERVER_PORT": str(server_port),
        "REMOTE_HOST": "",
        "CONTENT_LENGTH": "",
        "SCRIPT_NAME": "",
    }


def environ_builder(
    shared: Mapping[str, Any],
    config: ServerConfig,
    *,
    server_software: str,
    multiprocess: bool,
) -> EnvironBuilder:
    """The environ builder of the requests on one listening socket (PEP 3333).

    *shared* holds the server's variables (``server_environ``: ``SERVER_NAME``,
    ``SERVER_PORT``, ...); the process environment comes first only when
    ``config.copy_os_environ`` says so; ``wsgi.url_scheme`` is ``"https"`` when those
    say HTTPS (the engine sets it for a TLS listener).
    """
    base: dict[str, Any] = dict(BaseHandler.os_environ) if config.copy_os_environ else {}
    base.update(shared)
    base["SERVER_SOFTWARE"] = server_software
    base["wsgi.version"] = (1, 0)
    base["wsgi.url_scheme"] = guess_scheme(base)
    base["wsgi.multithread"] = True
    base["wsgi.multiprocess"] = multiprocess
    base["wsgi.run_once"] = False
    base["wsgi.input_terminated"] = True
    base["wsgi.file_wrapper"] = FileWrapper
    return EnvironBuilder(base, frozenset(shared) | _REQUEST_KEYS)


def server_name_and_port(sock: socket.socket) -> tuple[str, int]:
    """``SERVER_NAME`` and ``SERVER_PORT`` of the requests arriving on *sock*.

    For TCP, the fully qualified name of the address and the port (as
    ``HTTPServer.server_bind`` sets ``server_name`` and ``server_port``); for a Unix
    domain socket, which only local clients reach, ``"localhost"`` and the default
    port of the scheme (443 for TLS, else 80), so that a URL rebuilt from them without
    a ``Host`` field (PEP 3333, "URL Reconstruction") is still a URL.
    """
    address = sock.getsockname()
    if isinstance(address, tuple):
        return socket.getfqdn(address[0]), int(address[1])
    return "localhost", 80 if as_tls(sock) is None else 443


_S = TypeVar("_S", bound=WSGIServer)


@overload
def make_server(
    host: str,
    port: int,
    app: WSGIApplication,
    *,
    handler_class: type[BaseHTTPRequestHandler] = ...,
    config: ServerConfig | None = ...,
) -> WSGIServer: ...
@overload
def make_server(
    host: str,
    port: int,
    app: WSGIApplication,
    server_class: type[_S],
    handler_class: type[BaseHTTPRequestHandler] = ...,
    *,
    config: ServerConfig | None = ...,
) -> _S: ...
@overload
def make_server(
    host: str,
    port: int,
    app: WSGIApplication,
    *,
    server_class: type[_S],
    handler_class: type[BaseHTTPRequestHandler] = ...,
    config: ServerConfig | None = ...,
) -> _S: ...
def make_server(
    host: str,
    port: int,
    app: WSGIApplication,
    server_class: type[WSGIServer] = WSGIServer,
    handler_class: type[BaseHTTPRequestHandler] = WSGIRequestHandler,
    *,
    config: ServerConfig | None = None,
) -> WSGIServer:
    """Create a new WSGI server listening on *host* and *port* for *app*.

    Returns an instance of *server_class* (typed as such, as typeshed types
    ``wsgiref.simple_server.make_server``). *config* (keyword-only) is passed on to
    the server class; without it the class's own ``config`` applies.
    """
    if config is None:
        server = server_class((host, port), handler_class)
    else:
        server = server_class((host, port), handler_class, config=config)
    server.set_app(app)
    return server
