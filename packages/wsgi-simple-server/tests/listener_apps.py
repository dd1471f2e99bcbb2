"""Applications the listener tests run in server subprocesses (``module:name``)."""

from __future__ import annotations

import os
from collections.abc import Callable


def environ_app(
    environ: dict[str, object], start_response: Callable[[str, list[tuple[str, str]]], object]
) -> list[bytes]:
    """The process id, LISTEN_FDS in os.environ and in the request's environ, the peer."""
    body = " ".join(
        [
            str(os.getpid()),
            os.environ.get("LISTEN_FDS", "-"),
            str(environ.get("LISTEN_FDS", "-")),
            str(environ["REMOTE_ADDR"]),
        ]
    ).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
