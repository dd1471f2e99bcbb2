"""The command line's listening sockets, and its graceful restart on SIGHUP.

Where the command line listens, in this order:

1. the sockets systemd passed (``LISTEN_PID`` is this process, ``LISTEN_FDS``): socket
   activation, as gunicorn does it, the addresses on the command line are not bound;
2. every ``--bind ADDRESS`` (repeatable: ``HOST:PORT``, ``[IPV6]:PORT``, ``unix:PATH``,
   ``fd://N``), ``--uds PATH`` (``unix:PATH``, uvicorn's name) and ``--fd N``
   (``fd://N``), in the order given; ``--uds-mode`` is the mode of the Unix socket files;
3. else ``--host`` and ``--port``, through ``make_server``.

SIGHUP restarts the server in place (``restart_on_sighup``): it stops accepting, lets
the requests in flight finish (the graceful shutdown, ``shutdown_timeout_s`` at most),
then executes its own command line again (``os.execve``: the same process id) with the
listening sockets passed on as systemd passes them, so that the new program (new code,
a new ``module:app``) serves them from step 1. The sockets stay open throughout: a
client that connects meanwhile waits in the listen queue and is served by the new
program; none is refused.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._connection import as_tls
from wsgi_simple_server._listeners import (
    BOUND_NAME,
    DEFAULT_UDS_MODE,
    SD_LISTEN_FDS_START,
    is_unix,
    listen_fds_environ,
    parse_bind,
    systemd_listeners,
)
from wsgi_simple_server._server import WSGIServer, make_server

if TYPE_CHECKING:
    from wsgi_util.types import WSGIApplication

try:
    import fcntl
except ImportError:  # Windows: no SIGHUP, no restart
    fcntl = None  # type: ignore[assignment]

_log = logging.getLogger("wsgi_simple_server")


class _AppendAddress(argparse.Action):
    """Append the option's value, checked and written as a ``--bind`` address."""

    def __init__(
        self, option_strings: Sequence[str], dest: str, *, prefix: str, **kwargs: Any
    ) -> None:
        self.prefix = prefix
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        address = self.prefix + str(values)
        try:
            parse_bind(address)
        except ValueError as exc:
            parser.error(f"{option_string} {exc}")
        items = list(getattr(namespace, self.dest, None) or [])
        items.append(address)
        setattr(namespace, self.dest, items)


def _file_mode(text: str) -> int:
    """An octal file mode, as chmod takes it: ``660``, ``0660`` or ``0o660``."""
    digits = text.removeprefix("0o")
    if not digits or len(digits) > 4 or any(c not in "01234567" for c in digits):
        raise argparse.ArgumentTypeError(f"must be an octal file mode such as 660, got {text!r}")
    return int(digits, 8)


def add_listener_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--bind``, ``--uds``, ``--fd`` and ``--uds-mode`` to *parser*.

    The addresses are collected in order in ``args.bind`` (``--uds PATH`` as
    ``unix:PATH``, ``--fd N`` as ``fd://N``), the mode in ``args.uds_mode``.
    """
    group = parser.add_argument_group(
        "listening sockets",
        "Where to listen instead of --host/--port (systemd socket activation, when "
        "LISTEN_FDS is set for this process, comes before all of these).",
    )
    group.add_argument(
        "--bind",
        action=_AppendAddress,
        prefix="",
        default=[],
        metavar="ADDRESS",
        help="listen on HOST:PORT, [IPV6]:PORT, unix:PATH or fd://N; repeatable",
    )
    group.add_argument(
        "--uds",
        action=_AppendAddress,
        prefix="unix:",
        dest="bind",
        metavar="PATH",
        help="listen on a Unix domain socket (the same as --bind unix:PATH)",
    )
    group.add_argument(
        "--fd",
        action=_AppendAddress,
        prefix="fd://",
        dest="bind",
        metavar="N",
        help="listen on the inherited socket at descriptor N (the same as --bind fd://N)",
    )
    group.add_argument(
        "--uds-mode",
        type=_file_mode,
        default=DEFAULT_UDS_MODE,
        metavar="MODE",
        help="file mode of the Unix sockets made, in octal (default: 666)",
    )
    parser.set_defaults(listener_prog=parser.prog)


def _fail(args: argparse.Namespace, message: str) -> NoReturn:
    prog = getattr(args, "listener_prog", "wsgi-simple-server")
    print(f"{prog}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def server_from_args(
    args: argparse.Namespace, app: WSGIApplication, config: ServerConfig, *, host: str, port: int
) -> WSGIServer:
    """The command line's server for *app*: on the sockets systemd passed, else on the
    ``--bind``/``--uds``/``--fd`` addresses, else on *host* and *port*.

    A mistake (an address that cannot be listened on, a descriptor that is not a
    listening socket, a certificate that cannot be read) ends the program: one line on
    stderr, exit status 2.
    """
    try:
        activated = systemd_listeners()
        if activated:
            server = WSGIServer.from_listeners([sock for sock, _ in activated], config=config)
            for sock, name in activated:
                if name == BOUND_NAME and is_unix(sock):  # bound by this server before exec
                    server._socket_files[sock.fileno()] = sock.getsockname()
            _log.info(
                "using the %d listening socket(s) passed in LISTEN_FDS (systemd socket"
                " activation or a restart)%s",
                len(activated),
                "; --bind, --uds and --fd are not used" if args.bind else "",
            )
        elif args.bind:
            server = WSGIServer.from_listeners(args.bind, config=config, uds_mode=args.uds_mode)
        else:
            try:
                server = make_server(host, port, app, config=config)
            except OSError as exc:  # named as --bind's errors name their address
                where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                _fail(args, f"cannot listen on {where}: {_reason(exc)}")
    except (OSError, ValueError) as exc:
        _fail(args, _reason(exc))
    server.set_app(app)
    return server


def _where(sock: socket.socket) -> str:
    address = sock.getsockname()
    if not isinstance(address, tuple):
        return f"unix:{address}"
    return f"{address[0]} port {address[1]}" + (" (TLS)" if as_tls(sock) is not None else "")


def serving_message(server: WSGIServer) -> str:
    """``Serving HTTP on 127.0.0.1 port 8000 ...``, every listening socket named."""
    return f"Serving HTTP on {', '.join(map(_where, server.sockets))} ..."


# -- the graceful restart --------------------------------------------------------------


@contextlib.contextmanager
def restart_on_sighup(server: WSGIServer) -> Iterator[None]:
    """Around ``server.serve_forever()``: SIGHUP restarts the program on its sockets.

    On SIGHUP ``serve_forever`` is asked to return (``request_shutdown``: it stops
    accepting and lets the requests in flight finish); when the block then ends without
    an exception, ``reexec`` runs the program again on the same listening sockets.
    Without SIGHUP (Windows) the block just runs.
    """
    if not hasattr(signal, "SIGHUP") or fcntl is None:
        yield
        return
    requested = threading.Event()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        if not requested.is_set():
            _log.info(
                "SIGHUP: restarting once the requests in flight are done (%g s at most)",
                server.config.shutdown_timeout_s,
            )
        requested.set()
        server.request_shutdown()

    previous = signal.signal(signal.SIGHUP, on_hup)
    # A SIGHUP that came while a restarted program was starting was held back (reexec
    # blocks it across the exec): it is delivered now, to the handler.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
    try:
        yield
    finally:
        if requested.is_set():
            # From here to the new program's handler a SIGHUP is held, not fatal.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        signal.signal(signal.SIGHUP, previous)
    if requested.is_set():
        reexec(server)


def reexec(server: WSGIServer) -> NoReturn:
    """Execute this program's command line again, passing on *server*'s listening sockets.

    The sockets go to descriptors 3, 4, ... with ``LISTEN_PID`` (this process: ``exec``
    keeps it), ``LISTEN_FDS`` and ``LISTEN_FDNAMES`` set (``listen_fds_environ``), as
    systemd passes them; a Unix socket the server bound is named ``BOUND_NAME``, so
    that the new program removes its file when it stops. SIGHUP is blocked across
    the exec (the signal mask is inherited): one that comes while the new program
    starts waits for its handler (``restart_on_sighup`` unblocks it) instead of
    ending the process. The command line is
    ``sys.orig_argv`` run by ``sys.executable``. If the ``exec`` fails the process exits
    with status 1 (its descriptors are no longer what its objects think).
    """
    # Until the new program has its handler, a SIGHUP would end it (the default
    # action): the signal stays blocked across the exec, and pending, until then.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
    sockets = server.sockets
    names = [BOUND_NAME if sock.fileno() in server._socket_files else "unknown" for sock in sockets]
    env = listen_fds_environ(names, os.getpid())
    argv = list(sys.orig_argv)
    _log.info("restarting: %s, with %d listening socket(s)", " ".join(argv), len(sockets))
    for handler in logging.getLogger().handlers + _log.handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    # First above the target range, so that no target descriptor is one still to move.
    first_free = SD_LISTEN_FDS_START + len(sockets)
    moved = [fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, first_free) for sock in sockets]
    for i, fd in enumerate(moved):
        os.dup2(fd, SD_LISTEN_FDS_START + i, inheritable=True)
        os.close(fd)
    try:
        os.execve(sys.executable, argv, env)  # noqa: S606 - this program's own command line
    except OSError as exc:
        os.write(2, f"wsgi-simple-server: the restart failed: {exc}\n".encode())
    os._exit(1)
