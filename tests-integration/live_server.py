"""The live server of the integration tests: an ephemeral loopback port, stopped on exit."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from wsgi_simple_server import ServerConfig, WSGIServer, make_server


@contextlib.contextmanager
def serving(app: Any, config: ServerConfig) -> Iterator[WSGIServer]:
    """Serve *app* on 127.0.0.1 with *config* in a thread for the duration of the block."""
    with make_server("127.0.0.1", 0, app, config=config) as live:
        thread = threading.Thread(target=live.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            yield live
        finally:
            live.shutdown()
            thread.join(timeout=10)
