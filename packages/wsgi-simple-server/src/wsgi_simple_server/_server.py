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
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from platform import python_implementation
from typing import Any

from wsgi_handlers import BaseHandler, BoundedInput, SimpleHandler
from wsgi_util import FileWrapper, guess_scheme
from wsgi_util.types import WSGIApplication

from wsgi_simple_server._config import DEFAULT_CONFIG, ServerConfig
from wsgi_simple_server._engine import Engine
from wsgi_simple_server._exchange import EnvironBuilder
from wsgi_simple_server._log import log_access

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
    """The handler ``WSGIRequestHandler`` runs: logs the request when it closes."""

    server_software = software_version
    request_handler: BaseHTTPRequestHandler

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
    """

    application: WSGIApplication | None = None
    base_environ: dict[str, Any]
    config: ServerConfig = DEFAULT_CONFIG
    request_queue_size = 1024

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
        if isinstance(server_address, tuple) and ":" in str(server_address[0]):
            self.address_family = socket.AF_INET6
        self._stop_requested = threading.Event()
        self._engine_stopped = threading.Event()
        self._engine_stopped.set()
        self._engine: Engine | None = None
        super().__init__(server_address, RequestHandlerClass, bind_and_activate)

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
        env = self.base_environ = {}
        env["SERVER_NAME"] = self.server_name
        env["GATEWAY_INTERFACE"] = "CGI/1.1"
        env["SERVER_PORT"] = str(self.server_port)
        env["REMOTE_HOST"] = ""
        env["CONTENT_LENGTH"] = ""
        env["SCRIPT_NAME"] = ""

    def get_app(self) -> WSGIApplication | None:
        """Return the application set by ``set_app``."""
        return self.application

    def set_app(self, application: WSGIApplication | None) -> None:
        """Set the application the server runs."""
        self.application = application

    # -- the HTTP/1.1 engine ----------------------------------------------------------

    def _engine_applies(self) -> bool:
        handler = self.RequestHandlerClass
        if not (isinstance(handler, type) and issubclass(handler, WSGIRequestHandler)):
            return False
        if any(getattr(handler, name) is not getattr(WSGIRequestHandler, name) for name in _HOOKS):
            return False
        return all(
            getattr(type(self), name) is getattr(WSGIServer, name)
            for name in ("finish_request", "process_request", "verify_request")
        )

    def _environ_builder(self) -> EnvironBuilder:
        handler = self.RequestHandlerClass
        base: dict[str, Any] = dict(BaseHandler.os_environ)
        base.update(self.base_environ)
        base["SERVER_SOFTWARE"] = getattr(handler, "server_version", server_version)
        base["wsgi.version"] = (1, 0)
        base["wsgi.url_scheme"] = guess_scheme(base)
        base["wsgi.multithread"] = True
        base["wsgi.multiprocess"] = False
        base["wsgi.run_once"] = False
        base["wsgi.input_terminated"] = True
        base["wsgi.file_wrapper"] = FileWrapper
        return EnvironBuilder(base, frozenset(self.base_environ) | _REQUEST_KEYS)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until ``shutdown()``, then stop gracefully.

        The engine stops accepting, closes idle connections, lets requests in flight
        finish for up to ``config.shutdown_timeout_s``, and closes what is left.
        """
        if not self._engine_applies():
            super().serve_forever(poll_interval)
            return
        self._stop_requested.clear()
        self._engine_stopped.clear()
        tick = min(self.config.handoff_s / 2, 0.01)
        reap_every = max(1, round(min(poll_interval, 0.1) / tick))
        try:
            engine = self._engine = Engine(
                self.socket,
                self.get_app,
                self._environ_builder(),
                self.config,
                software_version,
            )
            engine.start()
            try:
                ticks = 0
                while not self._stop_requested.wait(tick):
                    engine.hand_off()
                    ticks += 1
                    if ticks % reap_every == 0:
                        engine.reap()
                        self.service_actions()
            finally:
                engine.stop(self.config.shutdown_timeout_s)
                self._engine = None
                self.socket.setblocking(True)
        finally:
            self._engine_stopped.set()

    def request_shutdown(self) -> None:
        """Ask ``serve_forever`` to stop and return at once (for signal handlers)."""
        self._stop_requested.set()

    def shutdown(self) -> None:
        """Stop ``serve_forever`` and wait until it has returned."""
        if not self._engine_stopped.is_set():
            self._stop_requested.set()
            self._engine_stopped.wait()
            return
        super().shutdown()


class WSGIRequestHandler(BaseHTTPRequestHandler):
    """Serves one request over ``rfile``/``wfile`` with ``ServerHandler``, as wsgiref does."""

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

    def get_stderr(self) -> Any:
        """Return the stream for ``wsgi.errors``: ``sys.stderr``."""
        return sys.stderr

    def handle(self) -> None:
        """Handle a single HTTP request."""
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():  # an error has been sent
            return
        environ = self.get_environ()
        length = environ.get("CONTENT_LENGTH", "")
        stdin: Any = self.rfile
        if length.isdigit():
            stdin = BoundedInput(self.rfile, int(length))
        handler = ServerHandler(stdin, self.wfile, self.get_stderr(), environ, multithread=False)
        handler.request_handler = self  # back-pointer for logging
        app = self.server.get_app()
        if app is None:
            raise TypeError("no application set: call set_app() first")
        handler.run(app)

    def log_message(self, format: str, *args: Any) -> None:
        """Log through the ``wsgi_simple_server.access`` logger (stderr by default)."""
        log_access(self.address_string(), format % args)


# Overriding one of these makes serve_forever serve as the standard library does.
_HOOKS = (
    "handle",
    "handle_one_request",
    "parse_request",
    "get_environ",
    "get_stderr",
    "setup",
    "finish",
    "log_message",
    "log_request",
    "log_error",
    "address_string",
    "send_error",
    "version_string",
)


def make_server(
    host: str,
    port: int,
    app: WSGIApplication,
    server_class: type[WSGIServer] = WSGIServer,
    handler_class: type[BaseHTTPRequestHandler] = WSGIRequestHandler,
    *,
    config: ServerConfig | None = None,
) -> WSGIServer:
    """Create a new WSGI server listening on *host* and *port* for *app*."""
    if config is None:
        server = server_class((host, port), handler_class)
    else:
        server = server_class((host, port), handler_class, config=config)
    server.set_app(app)
    return server
