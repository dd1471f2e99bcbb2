"""Per-request cost of ``validator(hello_app)``: wsgi_validate against ``wsgiref.validate``.

Each request is driven through a handler over in-memory streams, with an environ like
a server's: ``wsgi_handlers.SimpleHandler`` when it is installed, and the stdlib's
``wsgiref.handlers.SimpleHandler``, the same handler for both validators. Each table
gives the time per request of the bare application, of each validator around it, and
each validator's own cost (the difference); the ratios compare wsgi_validate with the
stdlib on both. Goal: the validator's own cost at most 0.5x the stdlib's.
"""

import contextlib
import importlib
import io
import wsgiref.handlers
import wsgiref.validate
from collections.abc import Callable, Iterable
from typing import Any

import wsgi_validate
from _timing import best_per_call_us
from wsgi_util import setup_testing_defaults
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment

REQUESTS = 3000
ROUNDS = 5


def _handler_classes() -> list[Any]:
    """wsgi_handlers.SimpleHandler if it is there, and the stdlib's."""
    handlers: list[Any] = []
    with contextlib.suppress(ImportError, AttributeError):
        handlers.append(importlib.import_module("wsgi_handlers").SimpleHandler)
    handlers.append(wsgiref.handlers.SimpleHandler)
    return handlers


def hello_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The smallest conforming application."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"Hello, world!"]


def _base_environ() -> dict[str, str]:
    environ: dict[str, Any] = {}
    setup_testing_defaults(environ)
    return {k: v for k, v in environ.items() if type(v) is str} | {
        "QUERY_STRING": "a=1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": "bench",
        "HTTP_ACCEPT": "*/*",
    }


def _per_request_us(handler_class: Any, app: WSGIApplication, base_env: dict[str, str]) -> float:
    """Return the best mean time of one request through *handler_class*, in µs."""

    def run_once() -> None:
        handler = handler_class(
            io.BytesIO(), io.BytesIO(), io.StringIO(), base_env, multithread=False
        )
        handler.run(app)

    return best_per_call_us(run_once, REQUESTS, ROUNDS)


def _table(handler_class: Any, base_env: dict[str, str]) -> None:
    validators: dict[str, Callable[[WSGIApplication], WSGIApplication]] = {
        "wsgiref.validate": wsgiref.validate.validator,
        "wsgi_validate": wsgi_validate.validator,
    }
    bare = _per_request_us(handler_class, hello_app, base_env)
    timings = {
        name: _per_request_us(handler_class, wrap(hello_app), base_env)
        for name, wrap in validators.items()
    }
    print(f"through {handler_class.__module__}.SimpleHandler, best of {ROUNDS} x {REQUESTS}")
    print(f"{'':18} {'per request µs':>15} {'validator µs':>13}")
    print(f"{'no validator':18} {bare:15.2f} {'':>13}")
    for name, total in timings.items():
        print(f"{name:18} {total:15.2f} {total - bare:13.2f}")
    ours, stdlib = timings["wsgi_validate"], timings["wsgiref.validate"]
    print(f"ratio wsgi_validate / wsgiref.validate, whole request:   {ours / stdlib:.2f}x")
    print(
        "ratio wsgi_validate / wsgiref.validate, validator alone: "
        f"{(ours - bare) / (stdlib - bare):.2f}x (goal <= 0.5x)\n"
    )


def main() -> None:
    """Print one table per handler."""
    base_env = _base_environ()
    for handler_class in _handler_classes():
        _table(handler_class, base_env)


if __name__ == "__main__":
    main()
