"""``python -m wsgi_simple_server [module:app] --host HOST --port PORT --threads N``."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence
from types import FrameType
from typing import Any

from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._demo import demo_app
from wsgi_simple_server._listen_cli import (
    add_listener_arguments,
    restart_on_sighup,
    server_from_args,
    serving_message,
)


def load_app(spec: str) -> Any:
    """Import ``module:attribute`` (``module`` alone means ``module:application``)."""
    module_name, _, attribute = spec.partition(":")
    module = importlib.import_module(module_name)
    obj: Any = module
    for part in (attribute or "application").split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{spec} is not callable")
    return obj


def _parser() -> argparse.ArgumentParser:
    defaults = ServerConfig()
    parser = argparse.ArgumentParser(
        prog="python -m wsgi_simple_server",
        description="Serve a WSGI application over HTTP/1.1 (demo_app when none is named).",
    )
    parser.add_argument("app", nargs="?", help="the application, as module:name")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to bind (default 8000)")
    parser.add_argument(
        "--threads", type=int, default=defaults.threads, help="worker threads (default %(default)s)"
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log one line per request"
    )
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=defaults.shutdown_timeout_s,
        help="seconds requests in flight get on SIGTERM/SIGINT (default %(default)s)",
    )
    add_listener_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until SIGTERM or SIGINT; return the exit status."""
    args = _parser().parse_args(argv)
    if args.app:
        sys.path.insert(0, "")
        app = load_app(args.app)
    else:
        app = demo_app
    config = ServerConfig(
        threads=args.threads,
        access_log=not args.no_access_log,
        shutdown_timeout_s=args.shutdown_timeout,
    )
    server = server_from_args(args, app, config, host=args.host, port=args.port)
    with server, restart_on_sighup(server):

        def stop(signum: int, frame: FrameType | None) -> None:
            server.request_shutdown()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        print(serving_message(server), flush=True)
        server.serve_forever()
    return 0
