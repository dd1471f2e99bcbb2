"""Helpers shared by the wsgi-handlers tests."""

import io
import re
from collections.abc import Callable, Iterable
from typing import Any

import pytest

App = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_DATE_LINE = re.compile(rb"Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n")


def base_environ(**extra: str) -> dict[str, Any]:
    """A minimal CGI environ for one GET request over HTTP/1.0."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.0",
    }
    environ.update(extra)
    return environ


def run_handler(
    handler_class: Any, app: App, environ: dict[str, Any] | None = None, **attrs: Any
) -> tuple[bytes, str, Any]:
    """Run *app* through ``handler_class`` over in-memory streams.

    Returns (output bytes with the Date line masked, wsgi.errors text, handler).
    """
    out = io.BytesIO()
    err = io.StringIO()
    handler = handler_class(io.BytesIO(b""), out, err, environ or base_environ())
    for name, value in attrs.items():
        setattr(handler, name, value)
    handler.run(app)
    return mask_date(out.getvalue()), err.getvalue(), handler


def mask_date(raw: bytes) -> bytes:
    """Replace a well-formed Date line by a fixed one."""
    return _DATE_LINE.sub(b"Date: <masked>\r\n", raw)


RunHandler = Callable[..., tuple[bytes, str, Any]]


@pytest.fixture
def environ() -> dict[str, Any]:
    """A fresh minimal environ."""
    return base_environ()


@pytest.fixture
def make_environ() -> Callable[..., dict[str, Any]]:
    """``base_environ`` (tests cannot import conftest under importlib mode)."""
    return base_environ


@pytest.fixture
def run() -> RunHandler:
    """``run_handler``."""
    return run_handler
