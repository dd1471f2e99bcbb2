"""Per-request cost of ``SimpleHandler(...).run(app)``: wsgi_handlers against wsgiref.

A hello-world application, in-memory streams, the stdlib and this package side by
side in one process; each figure is the best of several rounds (the machine is
shared), in microseconds per request. Goal: at most 0.8x the stdlib's time.
"""

import io
import time
import wsgiref.handlers
from collections.abc import Callable, Iterable
from typing import Any

import wsgi_handlers

_BODY = b"Hello, world!"


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The benchmarked application."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [_BODY]


def hello_generator(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The same, as a generator of two chunks (no length known)."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    yield b"Hello, "
    yield b"world!"


_ENVIRON = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_NAME": "localhost",
    "SERVER_PORT": "8000",
    "SERVER_PROTOCOL": "HTTP/1.0",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "localhost:8000",
}


def per_request_us(handler_class: Any, app: Any, requests: int) -> float:
    """Microseconds per ``handler_class(...).run(app)``."""
    new_input = io.BytesIO
    output = io.BytesIO
    errors = io.StringIO()
    environ = _ENVIRON
    start = time.perf_counter()
    for _ in range(requests):
        handler_class(new_input(), output(), errors, environ).run(app)
    return (time.perf_counter() - start) / requests * 1e6


def main() -> None:
    """Print the table."""
    requests = 20_000
    rounds = 5
    print(f"{'case':<28}{'wsgiref us':>12}{'ours us':>10}{'ratio':>8}")
    for label, app in (("hello, 1-element list", hello), ("hello, generator", hello_generator)):
        ref: list[float] = []
        ours: list[float] = []
        for _ in range(rounds):  # interleaved, so drift hits both alike
            ref.append(per_request_us(wsgiref.handlers.SimpleHandler, app, requests))
            ours.append(per_request_us(wsgi_handlers.SimpleHandler, app, requests))
        best_ref, best_ours = min(ref), min(ours)
        print(f"{label:<28}{best_ref:>12.2f}{best_ours:>10.2f}{best_ours / best_ref:>8.2f}")


if __name__ == "__main__":
    main()
