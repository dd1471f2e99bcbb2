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
from collections.abc import Iterable
from typing import Any

import wsgi_validate
from _timing import best_per_call_us
from wsgi_util import setup_testing_defaults
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment

REQUESTS = 2000
ROUNDS = 7


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


def _runner(handler_class: Any, app: WSGIApplication, base_env: dict[str, str]) -> Any:
    """Return a function serving one request to *app* through *handler_class*."""

    def run_once() -> None:
        handler = handler_class(
            io.BytesIO(), io.BytesIO(), io.StringIO(), base_env, multithread=False
        )
        handler.run(app)

    return run_once


def _table(handler_class: Any, base_env: dict[str, str]) -> None:
    apps: dict[str, WSGIApplication] = {
        "no validator": hello_app,
        "wsgiref.validate": wsgiref.validate.validator(hello_app),
        "wsgi_validate": wsgi_validate.validator(hello_app),
    }
    runners = {name: _runner(handler_class, app, base_env) for name, app in apps.items()}
    # Rounds interleaved, best kept: a burst of load on the shared machine then hits
    # every variant alike instead of one.
    best = dict.fromkeys(runners, float("inf"))
    for _ in range(ROUNDS):
        for name, run_once in runners.items():
            best[name] = min(best[name], best_per_call_us(run_once, REQUESTS, repeat=1))
    bare = best.pop("no validator")
    print(f"through {handler_class.__module__}.SimpleHandler, best of {ROUNDS} x {REQUESTS}")
    print(f"{'':18} {'per request µs':>15} {'validator µs':>13}")
    print(f"{'no validator':18} {bare:15.2f} {'':>13}")
    for name, total in best.items():
        print(f"{name:18} {total:15.2f} {total - bare:13.2f}")
    ours, stdlib = best["wsgi_validate"], best["wsgiref.validate"]
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
