"""The live server of the tests: an ephemeral loopback port, stopped on exit (the
package tests use ``running`` too: ``tests-integration`` is on their path)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any, TypeVar

from wsgi_simple_server import ServerConfig, WSGIServer, make_server

_S = TypeVar("_S", bound=WSGIServer)


@contextlib.contextmanager
def running(server: _S) -> Iterator[_S]:
    """Run *server*'s ``serve_forever`` in a thread for the duration of the block, then
    shut it down, close it and check the thread is gone (10 s at most)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive(), "serve_forever did not return"


@contextlib.contextmanager
def serving(app: Any, config: ServerConfig) -> Iterator[WSGIServer]:
    """Serve *app* on 127.0.0.1 with *config* in a thread for the duration of the block."""
    with running(make_server("127.0.0.1", 0, app, config=config)) as live:
        yield live
