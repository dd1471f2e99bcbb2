"""A client that goes away ends the request quietly; close() is called exactly once."""

import io
import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from wsgi_handlers import CLIENT_DISCONNECTS, SimpleHandler

MakeEnviron = Callable[..., dict[str, Any]]


class Body:
    """An iterable response that counts close() calls."""

    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self.chunks = chunks
        self.fail_at = fail_at
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("app failed")
            yield chunk

    def close(self) -> None:
        self.closed += 1


class HangUp(io.BytesIO):
    """An output whose peer is gone after *after* writes."""

    def __init__(self, error: type[OSError], after: int = 0) -> None:
        super().__init__()
        self.error = error
        self.after = after

    def write(self, data: Any) -> int:
        if self.after <= 0:
            raise self.error("peer gone")
        self.after -= 1
        return super().write(data)


def app_returning(body: Body) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Body:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    return app


@pytest.mark.parametrize("error", CLIENT_DISCONNECTS)
@pytest.mark.parametrize("after", [0, 1])
def test_a_disconnect_is_quiet_closes_the_iterable_once_and_logs_one_debug_line(
    error: type[OSError],
    after: int,
    make_environ: MakeEnviron,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = Body([b"a" * 20000, b"b", b"c"])
    errors = io.StringIO()
    handler = SimpleHandler(io.BytesIO(), HangUp(error, after), errors, make_environ())
    with caplog.at_level(logging.DEBUG, logger="wsgi_handlers"):
        handler.run(app_returning(body))
    assert body.closed == 1
    assert errors.getvalue() == ""
    records = [r for r in caplog.records if r.name == "wsgi_handlers"]
    assert len(records) == 1
    assert records[0].levelno == logging.DEBUG
    assert error.__name__ in records[0].getMessage()
    assert handler.close_connection is True


def test_a_disconnect_while_sending_the_error_page_is_quiet(
    make_environ: MakeEnviron,
) -> None:
    body = Body([b"x"], fail_at=0)
    errors = io.StringIO()
    handler = SimpleHandler(io.BytesIO(), HangUp(BrokenPipeError), errors, make_environ())
    handler.run(app_returning(body))  # does not raise
    assert body.closed == 1
    assert "RuntimeError: app failed" in errors.getvalue()  # the app's error is still logged
    assert "BrokenPipeError" not in errors.getvalue()


def test_a_disconnect_while_reading_the_input_is_quiet(make_environ: MakeEnviron) -> None:
    class Reset(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise ConnectionResetError("reset by peer")

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        environ["wsgi.input"].read()
        return []

    errors = io.StringIO()
    out = io.BytesIO()
    SimpleHandler(Reset(), out, errors, make_environ()).run(app)
    assert errors.getvalue() == ""
    assert out.getvalue() == b""


def test_the_iterable_is_closed_once_on_success(make_environ: MakeEnviron) -> None:
    body = Body([b"a", b"b"])
    SimpleHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), make_environ()).run(
        app_returning(body)
    )
    assert body.closed == 1


def test_the_iterable_is_closed_once_when_it_raises(make_environ: MakeEnviron) -> None:
    body = Body([b"a", b"b"], fail_at=1)
    out = io.BytesIO()
    SimpleHandler(io.BytesIO(), out, io.StringIO(), make_environ()).run(app_returning(body))
    assert body.closed == 1


def test_the_iterable_is_closed_once_when_handling_the_error_fails(
    make_environ: MakeEnviron,
) -> None:
    class BrokenLog(SimpleHandler):
        def log_exception(self, exc_info: Any) -> None:
            raise OSError("log disk full")

    body = Body([b"a"], fail_at=0)
    handler = BrokenLog(io.BytesIO(), io.BytesIO(), io.StringIO(), make_environ())
    with pytest.raises(OSError, match="log disk full"):
        handler.run(app_returning(body))
    assert body.closed == 1
    assert handler.result is None  # close() ran


def test_the_iterable_is_closed_once_when_its_close_raises(make_environ: MakeEnviron) -> None:
    class BadClose(Body):
        def close(self) -> None:
            super().close()
            raise RuntimeError("close failed")

    body = BadClose([b"a"])
    errors = io.StringIO()
    handler = SimpleHandler(io.BytesIO(), io.BytesIO(), errors, make_environ())
    handler.run(app_returning(body))
    assert body.closed == 1
    assert "RuntimeError: close failed" in errors.getvalue()
    assert handler.stdout.getvalue().endswith(b"\r\n\r\na")  # type: ignore[attr-defined]
    assert handler.close_connection is True  # a body of unknown length over HTTP/1.0


def test_the_error_page_iterable_is_closed_too(make_environ: MakeEnviron) -> None:
    page = Body([b"sorry"])

    class Custom(SimpleHandler):
        def error_output(self, environ: dict[str, Any], start_response: Any) -> Any:
            start_response("503 Busy", [], sys.exc_info())
            return page

    body = Body([b"a"], fail_at=0)
    out = io.BytesIO()
    Custom(io.BytesIO(), out, io.StringIO(), make_environ()).run(app_returning(body))
    assert (body.closed, page.closed) == (1, 1)
    assert out.getvalue().startswith(b"HTTP/1.0 503 Busy\r\n")
    assert out.getvalue().endswith(b"\r\n\r\nsorry")


def test_other_os_errors_are_not_treated_as_disconnects(make_environ: MakeEnviron) -> None:
    errors = io.StringIO()
    body = Body([b"a"])
    handler = SimpleHandler(io.BytesIO(), HangUp(PermissionError), errors, make_environ())
    handler.run(app_returning(body))  # as in the stdlib: logged, no error page
    assert "PermissionError: peer gone" in errors.getvalue()
    assert body.closed == 1
    assert handler.close_connection is True
