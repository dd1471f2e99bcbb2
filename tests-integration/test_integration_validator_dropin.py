"""``wsgi_validate.validator`` is a drop-in for ``wsgiref.validate.validator``: five
frameworks, served by ``wsgiref.simple_server``, answer every request the same under
both, and what runs under the stdlib's raises nothing under ours (its new rules that
go beyond PEP 3333 are warnings there)."""

import importlib
import threading
import warnings
import wsgiref.simple_server
import wsgiref.validate
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest
import wsgi_validate
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment

FRAMEWORKS = ["flask", "django", "bottle", "falcon", "pyramid"]
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/json", {}),
    ("HEAD", "/json", {}),
    ("POST", "/form", {"data": {"name": "w\xf6rld"}}),
    ("POST", "/upload", {"content": b"x" * 100}),
    ("POST", "/upload", {"content": b""}),
    ("GET", "/stream", {}),
    ("GET", "/cookies", {"headers": {"Cookie": "a=1; b=2"}}),
    ("GET", "/redirect", {}),
    ("GET", "/file", {}),
    ("HEAD", "/file", {}),
    ("GET", "/file", {"headers": {"Range": "bytes=0-3"}}),
    ("GET", "/echo/%C3%A9t%C3%A9", {}),
    ("GET", "/missing", {}),
]


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _catching(app: WSGIApplication, caught: list[str]) -> WSGIApplication:
    """*app*, with every exception it (or its iterable) raises noted in *caught*."""

    def outer(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            body = app(environ, start_response)
        except BaseException as exc:
            caught.append(repr(exc))
            raise
        return _iterate(body)

    def _iterate(body: Iterable[bytes]) -> Iterator[bytes]:
        try:
            yield from body
        except BaseException as exc:
            caught.append(repr(exc))
            raise
        finally:
            close: Callable[[], object] | None = getattr(body, "close", None)
            if close is not None:
                close()

    return outer


def _statuses(app: WSGIApplication) -> list[int]:
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.server_port}", timeout=10) as http:
            return [http.request(method, path, **kw).status_code for method, path, kw in REQUESTS]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_what_runs_under_wsgiref_validate_runs_under_wsgi_validate(name: str) -> None:
    application = importlib.import_module(f"frameworks.{name}_app").application
    stdlib_caught: list[str] = []
    ours_caught: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warnings are advice; errors are compared
        stdlib = _statuses(_catching(wsgiref.validate.validator(application), stdlib_caught))
        ours = _statuses(_catching(wsgi_validate.validator(application), ours_caught))
    assert ours == stdlib
    assert not [error for error in ours_caught if "AssertionError" in error], ours_caught
