"""A gunicorn worker class that serves with this package's engine.

``gunicorn -k wsgi_simple_server.workers.ThreadedWorker -w 4 --threads 8 app:app``
runs the application under gunicorn's arbiter (worker processes, reloads on
``SIGHUP``, recycling after ``--max-requests``, the ``--timeout`` watchdog, the
logging set-up), and each worker process serves HTTP/1.1 with the engine of
``WSGIServer.serve_forever``: one event loop and a pool of ``--threads`` threads over
the sockets the arbiter hands it (TCP, IPv6, Unix, TLS when ``--certfile`` is given).

gunicorn is an optional dependency: ``pip install 'wsgi-simple-server[gunicorn]'``.
Importing this module without it raises ``ImportError`` naming that extra.

What each gunicorn setting does here is documented in the deployment guide
(``deployment/gunicorn.md``) and in ``server_config``.

``wsgi-simple-server --workers N`` runs the same arbiter and worker class in its own
process (``run_arbiter``), with the command line's settings: see ``run_arbiter``.
"""

from __future__ import annotations

import datetime
import itertools
import logging
import math
import os
import socket
import ssl
import sys
import threading
import time
from typing import Any

try:
    import gunicorn
    from gunicorn import sock as gunicorn_sock
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter
    from gunicorn.config import KNOWN_SETTINGS
    from gunicorn.errors import AppImportError, HaltServer
    from gunicorn.workers.base import Worker
except ImportError as exc:  # pragma: no cover - exercised by tools/check_install_alone.py
    raise ImportError(
        "wsgi_simple_server.workers runs under gunicorn, which is not installed: "
        "install the extra, pip install 'wsgi-simple-server[gunicorn]'",
        name=exc.name,
    ) from exc

from wsgi_util.types import WSGIApplication

from wsgi_simple_server._app_loader import AppLoadError, load_app
from wsgi_simple_server._cli import Command, _prog, _url, _version
from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._connection import Connection
from wsgi_simple_server._demo import demo_app
from wsgi_simple_server._engine import Engine
from wsgi_simple_server._errors import render_error
from wsgi_simple_server._exchange import EnvironBuilder, Exchange
from wsgi_simple_server._listen_cli import server_from_args, serving_message
from wsgi_simple_server._parser import ParseError, Request
from wsgi_simple_server._server import (
    WSGIServer,
    environ_builder,
    server_environ,
    server_name_and_port,
    software_version,
)

__all__ = ["ThreadedWorker", "server_config"]

# gunicorn's own bounds on its request limits (gunicorn.http.message): a request line
# of 8190 bytes at most, 32768 header fields at most, 8190 bytes a field when the
# setting is 0; 0 for the request line means "unlimited", which gunicorn bounds at 1 MiB.
_MAX_REQUEST_LINE = 8190
_UNLIMITED_REQUEST_LINE = 1 << 20
_MAX_HEADERS = 32768
_DEFAULT_FIELD_SIZE = 8190
# How often the keeper thread sends the heartbeat, closes expired connections and
# checks that the arbiter is still its parent.
_MAINTENANCE_S = 0.1
# How much sooner than gunicorn's --graceful-timeout a stopping worker cuts off the
# requests still in flight (a fifth of it when that is less).
_KILL_MARGIN_S = 1.0
# --keep-alive 0 (no persistent connections) has no equivalent in the engine yet.
_MIN_KEEPALIVE_S = 1.0

_log = logging.getLogger("wsgi_simple_server")


def server_config(cfg: Any) -> ServerConfig:
    """Return the engine's ``ServerConfig`` for gunicorn's configuration *cfg*.

    *cfg* is a ``gunicorn.config.Config`` (typed ``Any``: gunicorn ships no type
    information). The mapping (gunicorn setting -> setting here):

    - ``threads`` -> ``threads`` (the pool of each worker process);
    - ``worker_connections`` -> ``max_connections``;
    - ``keepalive`` (seconds) -> ``idle_timeout_s`` (``0``, no keep-alive, is taken
      as one second: the engine keeps every connection it can);
    - ``graceful_timeout`` -> ``shutdown_timeout_s`` (the worker's stop ends a little
      sooner, before the arbiter kills it);
    - ``limit_request_line`` -> ``max_request_line_bytes`` (gunicorn counts the line
      without its CRLF, and bounds it as gunicorn does: 8190 at most, ``0`` is 1 MiB);
    - ``limit_request_fields`` -> ``max_header_count`` (``0`` or more than 32768: 32768);
    - ``limit_request_field_size`` -> ``max_header_bytes``: gunicorn's own bound on the
      whole header section, ``fields * (field_size + 2) + 4`` (``0``: 8190 a field);
      a single field is not limited on its own;
    - ``forwarded_allow_ips`` -> ``forwarded_allow_ips`` (the peers whose
      forwarding fields are believed, as the engine applies them), with
      ``trusted_proxy_headers`` what gunicorn reads from them: ``x-forwarded-for``,
      and ``x-forwarded-proto`` while ``secure_scheme_headers`` holds gunicorn's
      ``X-FORWARDED-PROTO: https`` (its other scheme fields, ``X-Forwarded-Protocol``
      and ``X-Forwarded-Ssl``, are not read, and neither is ``forwarder_headers``:
      no field sets ``SCRIPT_NAME`` or ``PATH_INFO`` here);
    - ``proxy_protocol`` (``True``, or ``v1``, ``v2``, ``auto`` in gunicorn 24 and
      later; ``off`` or ``False``) -> ``proxy_protocol`` (the engine reads either
      version), and ``proxy_allow_ips`` -> ``proxy_allow_ips``;
    - the access log is gunicorn's (``access_log`` is off here).
    """
    line = cfg.limit_request_line
    fields = cfg.limit_request_fields
    if not 0 < fields <= _MAX_HEADERS:
        fields = _MAX_HEADERS
    field_size = cfg.limit_request_field_size
    if field_size <= 0:
        field_size = _DEFAULT_FIELD_SIZE
    changes: dict[str, Any] = {
        "threads": cfg.threads,
        "max_connections": cfg.worker_connections,
        "idle_timeout_s": float(cfg.keepalive) or _MIN_KEEPALIVE_S,
        "max_request_line_bytes": (
            min(line, _MAX_REQUEST_LINE) if line > 0 else _UNLIMITED_REQUEST_LINE
        )
        + 2,
        "max_header_count": fields,
        "max_header_bytes": fields * (field_size + 2) + 4,
        "access_log": False,
        "forwarded_allow_ips": _addresses(cfg.forwarded_allow_ips),
        "trusted_proxy_headers": _trusted_proxy_headers(cfg.secure_scheme_headers),
        "proxy_protocol": cfg.proxy_protocol not in (False, None, "off"),
        "proxy_allow_ips": _addresses(cfg.proxy_allow_ips),
    }
    if cfg.graceful_timeout > 0:
        changes["shutdown_timeout_s"] = float(cfg.graceful_timeout)
    return ServerConfig(**changes)


def _trusted_proxy_headers(secure_scheme_headers: object) -> str:
    """``trusted_proxy_headers`` for gunicorn's ``secure_scheme_headers`` (a dict of
    upper-case field names and the value that means HTTPS)."""
    names = ["x-forwarded-for"]
    if isinstance(secure_scheme_headers, dict):
        https = {str(k).upper(): str(v).lower() for k, v in secure_scheme_headers.items()}
        if https.get("X-FORWARDED-PROTO") == "https":
            names.append("x-forwarded-proto")
    return ",".join(names)


def _addresses(value: object) -> str:
    """gunicorn's address list (a list of strings, or a comma-separated string) as the
    comma-separated string of ``ServerConfig``."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list | tuple):
        raise TypeError(f"an address list must be a list or a string, got {value!r}")
    return ",".join(str(item) for item in value)


def _tls_context(cfg: Any) -> ssl.SSLContext:
    """The server's TLS context from gunicorn's settings, as gunicorn's workers make it.

    ``gunicorn.sock.ssl_context`` reads ``certfile``, ``keyfile``, ``ca_certs``,
    ``cert_reqs`` and ``ciphers`` and honours the ``ssl_context`` server hook. ALPN
    offers ``http/1.1`` only: this worker does not speak HTTP/2.
    """
    context: ssl.SSLContext = gunicorn_sock.ssl_context(cfg)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _use_gunicorn_error_log(error_log: logging.Logger) -> None:
    """Send this package's error messages to gunicorn's error log (``--error-logfile``,
    ``--log-level``), with gunicorn's handlers and format, as uvicorn's worker does."""
    for name in ("wsgi_simple_server", "wsgi_simple_server.error"):
        logger = logging.getLogger(name)
        logger.handlers = list(error_log.handlers)
        logger.setLevel(error_log.level)
        logger.propagate = False


class _GunicornRequest:
    """What gunicorn's access log (``Logger.atoms``) and ``post_request`` read of a request."""

    __slots__ = ("headers", "method", "path", "query", "uri", "version")

    def __init__(self, request: Request) -> None:
        self.method = request.method
        self.uri = request.target
        self.path = request.path
        self.query = request.query
        self.headers = request.headers
        major, _, minor = request.version.partition("/")[2].partition(".")
        self.version = (int(major or 1), int(minor or 0))


class _GunicornResponse:
    """What gunicorn's access log and ``post_request`` read of a response."""

    __slots__ = ("headers", "sent", "status", "status_code")

    def __init__(self, exchange: Exchange) -> None:
        self.status = exchange.status or "500 Internal Server Error"
        self.status_code = int(self.status[:3])
        self.headers = exchange.headers or []
        self.sent = exchange.bytes_sent


class _GunicornHooks:
    """The engine's per-request hooks under gunicorn: count the requests (for
    ``--max-requests``), write gunicorn's access log line, call ``post_request``, and
    report refused requests as gunicorn's workers do.

    When none of those three is configured (``wsgi-simple-server --workers``: the
    command line configures none) the engine logs as it does in one process: the
    access log is the ``ServerConfig``'s, the one ``WSGIServer`` writes.
    """

    custom_environ = False

    def __init__(self, worker: ThreadedWorker) -> None:
        self.worker = worker
        self.served = itertools.count(1)  # next() is atomic: no lock needed
        cfg = worker.cfg
        # gunicorn's stock logger skips a line when no access log is configured; a
        # custom logger class (statsd, ...) sees every request.
        self.access = bool(getattr(worker.log, "access_log_enabled", True))
        post_request = cfg.post_request
        self.post_request = None if post_request is _default_hook("post_request") else post_request
        # Whether every request answered comes to log_request.
        self.custom_log = bool(
            self.access or self.post_request is not None or worker.max_requests < sys.maxsize
        )

    def environ(self, request: Request, conn: Connection) -> tuple[dict[str, Any], Any]:
        """The CGI variables of *request* and its ``wsgi.errors`` (the engine builds
        them itself while ``custom_environ`` is false)."""
        environ = conn.environ_builder.build(request, conn, None)
        del environ["wsgi.input"]
        return environ, environ["wsgi.errors"]

    def log_request(self, exchange: Exchange) -> None:
        """Count the request; log it through gunicorn's ``log.access``; stop the worker
        gracefully once it has served ``max_requests``."""
        worker = self.worker
        if next(self.served) >= worker.max_requests and worker.alive:
            worker.log.info("Autorestarting worker after current request.")
            worker.stop_soon()
        if not (self.access or self.post_request):
            return
        try:
            request = _GunicornRequest(exchange.request)
            response = _GunicornResponse(exchange)
            environ = exchange.environ
            environ.setdefault("RAW_URI", request.uri)  # gunicorn's "%(r)s" reads it
            if self.access:
                elapsed = datetime.timedelta(seconds=time.perf_counter() - exchange.begun)
                worker.log.access(response, request, environ, elapsed)
            if self.post_request is not None:
                self.post_request(worker, request, environ, response)
        except Exception:
            worker.log.exception("Exception in the access log or the post_request hook")

    def render_error(self, error: ParseError, client_address: Any) -> bytes:
        """The error page for a request that cannot be served; logged as gunicorn's
        workers log invalid requests (a warning in the error log), or under the
        command line as ``WSGIServer`` logs it (in the access log, if it is on)."""
        worker = self.worker
        if worker.command_line:
            engine = worker._engine
            log = engine.access_log if engine is not None and worker.config.access_log else None
            return render_error(error, client_address, access_log=log)
        host = client_address[0] if isinstance(client_address, tuple) else client_address
        self.worker.log.warning("Invalid request from ip=%s: %s", host, error.message)
        return render_error(error, client_address, access_log=None)


def _default_hook(name: str) -> object:
    """gunicorn's default for the server hook setting *name* (a no-op function)."""
    for setting in KNOWN_SETTINGS:
        if setting.name == name:
            return setting.default
    return None


class ThreadedWorker(Worker):  # type: ignore[misc]  # gunicorn ships no type information
    """A gunicorn worker: ``gunicorn -k wsgi_simple_server.workers.ThreadedWorker``.

    Serves the arbiter's listening sockets with the engine of ``WSGIServer`` (one event
    loop, ``--threads`` worker threads). The main thread keeps time: it passes the
    lead to a waiting thread when a request runs long, closes expired connections,
    sends gunicorn's heartbeat (``notify``) every 0.1 s and stops when the arbiter is
    gone. So ``--timeout`` restarts a worker whose process is stuck, not one whose
    application thread is: as with gunicorn's ``gthread`` worker, a request that never
    returns holds one thread of the pool, not the heartbeat.

    Signals are gunicorn's worker signals: ``SIGTERM`` stops gracefully (no new
    connections; requests in flight finish within ``--graceful-timeout``, answered
    with ``Connection: close``); ``SIGQUIT`` and ``SIGINT`` exit at once; ``SIGUSR1``
    reopens the log files. After ``max_requests`` requests (``--max-requests`` plus
    up to ``--max-requests-jitter``) the worker stops gracefully and the arbiter
    starts another.

    Under ``wsgi-simple-server --workers N`` (``run_arbiter``) the worker serves with
    the ``ServerConfig`` the command line built, not one made from gunicorn's
    settings, and logs as the command line set the logging up.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.command_line = isinstance(self.app, _CommandLineApplication)
        self.config: ServerConfig = (
            self.app.command.config if self.command_line else server_config(self.cfg)
        )
        self._engine: Engine | None = None

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        """Warn about settings this worker cannot honour (called by the arbiter)."""
        if cfg.keepalive == 0:
            log.warning(
                "--keep-alive 0: %s keeps idle connections for %s s (it cannot turn "
                "persistent connections off)",
                cls.__name__,
                _MIN_KEEPALIVE_S,
            )

    def init_process(self) -> None:
        """Route this package's error log to gunicorn's (unless the command line set the
        logging up), then load the app and run."""
        if not self.command_line:
            _use_gunicorn_error_log(self.log.error_log)
        super().init_process()

    def stop_soon(self) -> None:
        """Begin the graceful stop: responses from now on say ``Connection: close``."""
        self.alive = False
        if self._engine is not None:
            self._engine.stopping = True

    def run(self) -> None:
        """Serve until stopped by a signal, ``max_requests`` or the arbiter's death."""
        listeners = [self._listener(sock) for sock in self.sockets]
        engine = self._engine = Engine(
            listeners,
            lambda: self.wsgi,
            self.config,
            server_software=software_version,
            hooks=_GunicornHooks(self),
        )
        engine.start()
        tick = min(self.config.handoff_s / 2, 0.01)
        self._keep_time(engine, tick, until_stopped=None)
        # The stop runs on another thread so that this one goes on passing the lead
        # and sending the heartbeat while requests in flight finish. SIGQUIT or SIGINT
        # meanwhile exit at once (SystemExit from gunicorn's handler, on this thread).
        # Shorter than the arbiter waits before it kills the process (it counts from
        # its own signal): a request that outlasts the stop is cut off, and the
        # worker exits by itself, its log written, rather than by SIGKILL.
        graceful_s = max(self.cfg.graceful_timeout, 0)
        timeout_s = min(
            self.config.shutdown_timeout_s, graceful_s - min(_KILL_MARGIN_S, graceful_s / 5)
        )
        stopper = threading.Thread(
            target=engine.stop,
            args=(timeout_s,),
            name="wsgi-simple-server-stop",
            daemon=True,
        )
        stopper.start()
        self._keep_time(engine, tick, until_stopped=stopper)
        for listener, _ in listeners:
            listener.close()

    def _keep_time(
        self, engine: Engine, tick: float, *, until_stopped: threading.Thread | None
    ) -> None:
        """Pass the lead on, reap, send the heartbeat; until *until_stopped* ends, or
        (None) until the worker is to stop."""
        maintenance = 0.0
        while until_stopped.is_alive() if until_stopped is not None else self.alive:
            engine.hand_off()
            now = time.monotonic()
            if now >= maintenance:
                maintenance = now + _MAINTENANCE_S
                self.notify()
                if until_stopped is None:
                    engine.reap()
                    if self.ppid != os.getppid():
                        self.log.info("Parent changed, shutting down: %s", self)
                        self.stop_soon()
            time.sleep(tick)

    def _listener(self, listener: Any) -> tuple[socket.socket, EnvironBuilder]:
        """Our listening socket for one of gunicorn's (TLS-wrapped when configured)."""
        sock: socket.socket = getattr(listener, "sock", listener)
        if self.cfg.is_ssl:
            sock = _tls_context(self.cfg).wrap_socket(
                sock,
                server_side=True,
                do_handshake_on_connect=False,
                suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
            )
        # As under gunicorn, wsgi.multiprocess is true when there is more than one worker.
        shared = server_environ(*server_name_and_port(sock))
        return sock, environ_builder(
            shared, self.config, server_software=software_version, multiprocess=self.cfg.workers > 1
        )


# -- wsgi-simple-server --workers N ------------------------------------------------------


def run_arbiter(command: Command) -> int:
    """Serve *command* (``wsgi-simple-server --workers N``) with gunicorn's arbiter.

    The listening sockets are opened here as the one-process command line opens them
    (``server_from_args``: ``--host``/``--port``, ``--bind``, ``--uds``, ``--fd``,
    systemd socket activation, ``--uds-mode``, ``backlog``, ``reuse_port``; a mistake
    is one line on stderr and exit status 2) and handed to the arbiter as ``fd://N``
    binds. The arbiter then runs in this process (as ``gunicorn`` would) with
    ``command.workers`` processes of ``ThreadedWorker``, each of which serves with
    ``command.config`` itself and imports the application (``module:app``, a factory
    called once a process). TLS goes to gunicorn's ``certfile``, ``keyfile``,
    ``ca_certs``, ``cert_reqs`` and ``ciphers``; ``shutdown_timeout_s`` (rounded up to
    whole seconds) to ``graceful_timeout``; ``--log-level`` to ``loglevel``.
    gunicorn's configuration file, ``GUNICORN_CMD_ARGS`` and control socket are not
    used.

    Signals are the arbiter's: ``SIGTERM`` stops gracefully, ``SIGINT`` and
    ``SIGQUIT`` at once, ``SIGHUP`` replaces the workers (new code), ``SIGTTIN`` and
    ``SIGTTOU`` add and remove one; ``SIGUSR2`` (gunicorn's binary upgrade) is
    refused with a warning. Return the exit status: 0 after a stop by signal, 2 when
    the application cannot be loaded (each worker that tried prints the command
    line's one-line error), the arbiter's otherwise.
    """
    listener = server_from_args(
        command.listen_args, demo_app, command.config, host=command.host, port=command.port
    )
    arbiter_pid = os.getpid()
    status: object = 0
    try:
        _CommandLineApplication(command, listener).run()
    except SystemExit as exc:
        if os.getpid() != arbiter_pid:
            raise  # a worker process is ending: it never returns here
        status = exc.code
    finally:
        if os.getpid() == arbiter_pid:
            listener.server_close()  # and the Unix socket files it made
    if status == Arbiter.APP_LOAD_ERROR:
        return 2
    if status is None or isinstance(status, int):
        return status or 0
    print(status, file=sys.stderr)  # sys.exit("message"), as the interpreter would
    return 1


class _CommandLineApplication(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn's view of a ``Command``: its settings, its hook, its application."""

    def __init__(self, command: Command, listener: WSGIServer) -> None:
        self.command = command
        self.listener = listener
        # Duplicates for the arbiter, which closes the descriptors it is given.
        self.fds = [os.dup(sock.fileno()) for sock in listener.sockets]
        super().__init__(prog=_prog())

    def load_config(self) -> None:
        """Set gunicorn's settings from the command (again on ``SIGHUP``)."""
        command, config = self.command, self.command.config
        settings: dict[str, object] = {
            "bind": [f"fd://{fd}" for fd in self.fds],
            "workers": command.workers,
            "worker_class": f"{__name__}.{ThreadedWorker.__name__}",
            "threads": config.threads,
            "graceful_timeout": math.ceil(config.shutdown_timeout_s),
            "loglevel": command.log_level or "info",
            "certfile": config.certfile,
            "keyfile": config.keyfile,
            "ca_certs": config.ca_certs,
            "cert_reqs": config.cert_reqs,
            "ciphers": config.ciphers,
            "default_proc_name": command.app or "wsgi_simple_server:demo_app",
            "when_ready": self.when_ready,
        }
        if "control_socket_disable" in self.cfg.settings:  # gunicorn 25.1 and later
            settings["control_socket_disable"] = True
        for name, value in settings.items():
            self.cfg.set(name, value)

    def when_ready(self, arbiter: Any) -> None:
        """Log what runs where, as the one-process command line does (gunicorn calls
        this once the arbiter listens, before it starts the workers)."""
        command = self.command
        _log.info(
            "%s: application %s, %d worker processes (gunicorn %s), %d worker threads "
            "each, %s event loop",
            _version(),
            command.app or "wsgi_simple_server:demo_app",
            command.workers,
            gunicorn.__version__,
            command.config.threads,
            command.config.selector_class().__name__,
        )
        _log.info("listening at %s", ", ".join(map(_url, self.listener.sockets)))
        # On stdout, as http.server prints it (scripts wait for this line).
        print(serving_message(self.listener), flush=True)

    def load(self) -> WSGIApplication:
        """Import the application (in each worker process); ``AppImportError`` with
        the command line's one-line message if it cannot be."""
        command = self.command
        if command.app is None:
            return demo_app
        sys.path.insert(0, os.path.abspath(command.app_dir))
        try:
            return load_app(command.app, factory=command.factory)
        except AppLoadError as exc:
            raise AppImportError(f"{_prog()}: error: {exc}") from None

    def run(self) -> None:
        """Run the arbiter until it exits (``SystemExit``)."""
        try:
            _CommandLineArbiter(self).run()
        except RuntimeError as exc:  # as BaseApplication.run reports it
            print(f"{_prog()}: error: {exc}", file=sys.stderr, flush=True)
            sys.exit(1)


class _CommandLineArbiter(Arbiter):  # type: ignore[misc]  # gunicorn ships no type information
    """gunicorn's arbiter over the command line's sockets."""

    LISTENERS: list[Any]  # gunicorn.sock.BaseSocket objects
    stopping = False

    def stop(self, graceful: bool = True) -> None:
        """Close the arbiter's copies of the sockets without removing any socket file
        (gunicorn removes every Unix socket's, one passed in included: the command line
        removes those it made), then stop the workers as gunicorn does."""
        self.stopping = True
        gunicorn_sock.close_sockets(self.LISTENERS, unlink=False)
        self.LISTENERS = []
        super().stop(graceful)

    def reap_workers(self) -> None:
        """Reap the workers that exited, as gunicorn does; but while stopping, a second
        worker that could not load the application does not interrupt the stop
        (gunicorn raises ``HaltServer`` again from ``halt``, out of the arbiter)."""
        try:
            super().reap_workers()
        except HaltServer:
            if not self.stopping:
                raise

    def handle_usr2(self) -> None:
        """Refuse gunicorn's binary upgrade: the new program would bind the command
        line's addresses again, beside this one."""
        self.log.warning("SIGUSR2 ignored: send SIGHUP to start new workers with new code")
