"""A fake server side for the validator's tests: environ, start_response, a driver."""

import io
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Protocol

import pytest
from wsgi_util import setup_testing_defaults
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgi_validate import validator


class Input(io.BytesIO):
    """``wsgi.input`` with a fixed repr, so that messages quoting it can be compared."""

    def __repr__(self) -> str:
        return "<wsgi.input>"


class Errors(io.StringIO):
    """``wsgi.errors`` with a fixed repr."""

    def __repr__(self) -> str:
        return "<wsgi.errors>"


def make_environ(body: bytes = b"", **overrides: Any) -> WSGIEnvironment:
    """Return a conforming environ (QUERY_STRING present); *overrides* replace keys.

    Pass a key as ``None`` to delete it.
    """
    environ: WSGIEnvironment = {
        "QUERY_STRING": "",
        "wsgi.input": Input(body),
        "wsgi.errors": Errors(),
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    setup_testing_defaults(environ)
    for key, value in overrides.items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    return environ


@dataclass
class Exchange:
    """What the fake server saw: the start_response calls and the body bytes."""

    calls: list[tuple[Any, ...]] = field(default_factory=list)
    body: bytes = b""
    closed: bool = False

    @property
    def status(self) -> str:
        return str(self.calls[-1][0])


class FakeServer:
    """The server side of one request, PEP 3333 conforming unless told otherwise.

    ``reraise=False`` makes start_response accept exc_info after the headers were
    sent instead of re-raising it (a server bug the validator reports).
    """

    def __init__(self, *, reraise: bool = True) -> None:
        self.reraise = reraise
        self.exchange = Exchange()
        self.headers_sent = False

    def start_response(self, *args: Any, **kw: Any) -> Callable[[bytes], object]:
        if len(args) == 3 and args[2] is not None and self.headers_sent and self.reraise:
            raise args[2][1].with_traceback(args[2][2])
        self.exchange.calls.append(args)
        return self.write

    def write(self, data: bytes) -> None:
        self.headers_sent = True
        self.exchange.body += data

    def run(self, app: WSGIApplication, environ: WSGIEnvironment) -> Exchange:
        """Call *app*, iterate its body to the end and close it, like a server."""
        result = app(environ, self.start_response)
        try:
            for data in result:
                if data:
                    self.write(data)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
                self.exchange.closed = True
        return self.exchange


class Runner(Protocol):
    def __call__(
        self, app: WSGIApplication, environ: WSGIEnvironment | None = None, **options: Any
    ) -> Exchange: ...


@pytest.fixture
def run() -> Runner:
    """Run ``validator(app, **options)`` through a conforming fake server."""

    def runner(
        app: WSGIApplication, environ: WSGIEnvironment | None = None, **options: Any
    ) -> Exchange:
        return FakeServer().run(validator(app, **options), environ or make_environ())

    return runner


def app_with(
    status: str = "200 OK",
    headers: list[tuple[str, str]] | None = None,
    body: Iterable[bytes] = (b"Hello",),
) -> WSGIApplication:
    """Return an application answering *status*, *headers* and *body*."""
    response_headers = [("Content-Type", "text/plain")] if headers is None else headers

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, list(response_headers))
        return list(body)

    return app


def exc_info() -> tuple[type[BaseException], BaseException, TracebackType]:
    """Return a real exc_info tuple."""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        info = sys.exc_info()
    assert info[0] is not None
    assert info[1] is not None
    assert info[2] is not None
    return info[0], info[1], info[2]


def iterate(items: Iterable[bytes]) -> Iterator[bytes]:
    """Return a plain iterator (no close method) over *items*."""
    return iter(list(items))


class Kit:
    """The helpers, handed to tests by the ``kit`` fixture (importlib mode cannot
    import conftest at run time; type checkers import it under TYPE_CHECKING)."""

    make_environ = staticmethod(make_environ)
    app_with = staticmethod(app_with)
    exc_info = staticmethod(exc_info)
    iterate = staticmethod(iterate)
    FakeServer = FakeServer


@pytest.fixture
def kit() -> type[Kit]:
    """The test helpers."""
    return Kit
