"""``--reload``: run the server in a child process, restart it when a source file changes.

The reloader listens itself and hands its listening sockets to each server process
(descriptors named in ``_WSGI_SIMPLE_SERVER_RELOADER_FDS``, served as ``fd://N``), so
the addresses stay open across restarts: a client that connects meanwhile waits in the
listen queue. Files are watched with ``watchfiles`` (the ``reload`` extra). A server
process whose reloader is gone stops by itself.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path, PurePath

from wsgi_simple_server._server import WSGIServer

# Set in the server process a reloader starts: the listening sockets it inherits.
_FDS_VARIABLE = "_WSGI_SIMPLE_SERVER_RELOADER_FDS"

_log = logging.getLogger("wsgi_simple_server")


def is_reloader_child() -> bool:
    """Whether this process is a server process a reloader started."""
    return _FDS_VARIABLE in os.environ


def inherited_listeners() -> list[str] | None:
    """The sockets a reloader handed on, as ``fd://N`` (None if there are none).

    The variable is removed, so that processes the application starts do not see it.
    """
    fds = os.environ.pop(_FDS_VARIABLE, None)
    return None if fds is None else [f"fd://{fd}" for fd in fds.split(",")]


def exit_with_parent(server: WSGIServer) -> None:
    """Stop the server if the reloader that started it goes away (no orphan)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _log.warning("the reloader (process %d) is gone: stopping", parent)
        server.request_shutdown()

    threading.Thread(target=watch, name="wsgi-simple-server-parent-watch", daemon=True).start()


class _ServerProcess:
    """The server process a reloader runs: *args* on the listening sockets *fds*."""

    def __init__(self, args: Sequence[str], fds: tuple[int, ...], stop_timeout_s: float) -> None:
        self.args = list(args)
        self.env = dict(os.environ, **{_FDS_VARIABLE: ",".join(map(str, fds))})
        self.fds = fds
        self.stop_timeout_s = stop_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self.exit_logged = False

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, env=self.env, pass_fds=self.fds)  # noqa: S603
        self.exit_logged = False
        _log.info("reloader: started server process %d", self.process.pid)

    def stop(self) -> None:
        """Stop it gracefully (SIGTERM); kill it if it takes more than ``stop_timeout_s``."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_exit(self) -> None:
        """Log once that it ended (its code does not import, say) if it did."""
        if self.process is None or self.exit_logged or self.process.poll() is None:
            return
        _log.warning(
            "reloader: server process %d exited with status %d; waiting for a change to restart it",
            self.process.pid,
            self.process.returncode,
        )
        self.exit_logged = True


def run_reloader(
    listener: WSGIServer,
    args: Sequence[str],
    *,
    dirs: Sequence[str],
    includes: Sequence[str],
    excludes: Sequence[str],
    stop_timeout_s: float,
) -> int:
    """Run the command *args* as the server on *listener*'s sockets; restart it on changes.

    A file under *dirs* whose name matches a glob of *includes* and none of *excludes*
    (``watchfiles``' default filter applied first: no ``__pycache__``, ``.git``...)
    restarts the server process, and so does SIGHUP; SIGTERM and SIGINT stop it, then
    return 0. A server process is stopped with SIGTERM, killed after *stop_timeout_s*.
    Raise ``ImportError`` without ``watchfiles``.
    """
    import watchfiles  # noqa: PLC0415 - an optional dependency

    default_filter = watchfiles.DefaultFilter()

    def watched(change: watchfiles.Change, path: str) -> bool:
        name = PurePath(path)
        return (
            default_filter(change, path)
            and any(name.match(glob) for glob in includes)
            and not any(name.match(glob) for glob in excludes)
        )

    stop, hangup = threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    signal.signal(signal.SIGHUP, lambda signum, frame: hangup.set())
    paths = [str(Path(d).resolve()) for d in dirs]
    _log.info("reloader: watching %s for %s", ", ".join(paths), ", ".join(includes))
    server = _ServerProcess(args, tuple(s.fileno() for s in listener.sockets), stop_timeout_s)
    server.start()
    try:
        for changes in watchfiles.watch(
            *paths,
            watch_filter=watched,
            stop_event=stop,
            yield_on_timeout=True,  # every second at least: see whether it exited
            rust_timeout=1000,
            raise_interrupt=False,
        ):
            if changes or hangup.is_set():
                names = sorted({os.path.relpath(path) for _, path in changes})
                reason = f"{', '.join(names)} changed" if names else "SIGHUP"
                _log.info("reloader: %s: restarting", reason)
                hangup.clear()
                server.stop()
                server.start()
            else:
                server.log_exit()
    finally:
        server.stop()
    _log.info("reloader: stopped")
    return 0
