"""Per-request cost of ``validator(hello_app)``: wsgi_validate against ``wsgiref.validate``.

Each request is driven through the same handler (``wsgi_handlers.SimpleHandler`` when
it exists, else the stdlib's ``wsgiref.handlers.SimpleHandler``) over in-memory
streams, with an environ like a server's. The table gives the time per request of
the bare application, of each validator around it, and each validator's own cost
(the difference); the ratio compares wsgi_validate with the stdlib on both.
"""

import io
import time
import wsgiref.validate
from collections.abc import Callable, Iterable
from typing import Any

import wsgi_validate
from wsgi_util import setup_testing_defaults
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment

try:
    from wsgi_handlers import SimpleHandler  # type: ignore[attr-defined,unused-ignore]
except ImportError:
    from wsgiref.handlers import SimpleHandler

REQUESTS = 4000
ROUNDS = 5


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


def _per_request_us(app: WSGIApplication, base_env: dict[str, str]) -> float:
    """Return the best mean time of one request through the handler, in µs."""

    def run_once() -> None:
        handler = SimpleHandler(
            io.BytesIO(), io.BytesIO(), io.StringIO(), base_env, multithread=False
        )
        handler.run(app)

    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(REQUESTS):
            run_once()
        best = min(best, (time.perf_counter() - start) / REQUESTS)
    return best * 1e6


def main() -> None:
    """Print the table."""
    base_env = _base_environ()
    validators: dict[str, Callable[[WSGIApplication], WSGIApplication]] = {
        "wsgiref.validate": wsgiref.validate.validator,
        "wsgi_validate": wsgi_validate.validator,
    }
    bare = _per_request_us(hello_app, base_env)
    timings = {name: _per_request_us(wrap(hello_app), base_env) for name, wrap in validators.items()}
    print(f"handler: {SimpleHandler.__module__}.SimpleHandler, {REQUESTS} requests x {ROUNDS}")
    print(f"{'':18} {'per request µs':>15} {'validator µs':>13}")
    print(f"{'no validator':18} {bare:15.2f} {'':>13}")
    for name, total in timings.items():
        print(f"{name:18} {total:15.2f} {total - bare:13.2f}")
    ours, stdlib = timings["wsgi_validate"], timings["wsgiref.validate"]
    print(f"ratio wsgi_validate / wsgiref.validate, whole request:   {ours / stdlib:.2f}x")
    print(
        "ratio wsgi_validate / wsgiref.validate, validator alone: "
        f"{(ours - bare) / (stdlib - bare):.2f}x (goal <= 0.5x)"
    )


if __name__ == "__main__":
    main()
