"""CGIHandler and IISCGIHandler in-process: the stdlib's output, a bounded wsgi.input."""

import inspect
import io
import os
import sys
import wsgiref.handlers as ref
from collections.abc import Callable, Iterable
from typing import Any

import pytest
import wsgi_cgi
from wsgi_cgi import CGIHandler, IISCGIHandler
from wsgi_handlers import BaseCGIHandler, BaseHandler, BoundedInput

seen: dict[str, Any] = {}


class Streams:
    """Replacement sys.stdin/stdout/stderr with byte buffers behind them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
        self.stdin = io.TextIOWrapper(io.BufferedReader(io.BytesIO(body)))
        self.out = io.BytesIO()
        self.stdout = io.TextIOWrapper(self.out)
        self.stderr = io.StringIO()
        monkeypatch.setattr(sys, "stdin", self.stdin)
        monkeypatch.setattr(sys, "stdout", self.stdout)
        monkeypatch.setattr(sys, "stderr", self.stderr)


def cgi_environ(**extra: str) -> dict[str, str]:
    environ = {
        "GATEWAY_INTERFACE": "CGI/1.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/app.cgi",
        "PATH_INFO": "/x",
        "QUERY_STRING": "a=1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "test/1",
    }
    environ.update(extra)
    return environ


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    seen.clear()
    seen.update(environ)
    body = environ["wsgi.input"].read()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1")])
    return [environ["PATH_INFO"].encode("latin-1"), b"|", body]


def failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    raise RuntimeError("app failure")


def run_cgi(
    monkeypatch: pytest.MonkeyPatch,
    handler_class: Any,
    app: Any,
    environ: dict[str, str],
    body: bytes = b"",
) -> tuple[bytes, str]:
    with monkeypatch.context() as m:
        streams = Streams(m, body)
        m.setattr(os, "environ", dict(environ))
        handler_class().run(app)
        return streams.out.getvalue(), streams.stderr.getvalue()


@pytest.mark.parametrize(
    ("ours", "theirs"), [(CGIHandler, ref.CGIHandler), (IISCGIHandler, ref.IISCGIHandler)]
)
@pytest.mark.parametrize("app", [echo, failing])
@pytest.mark.parametrize(
    "environ",
    [
        cgi_environ(),
        cgi_environ(PATH_INFO="/app.cgi/x"),
        cgi_environ(PATH_INFO="/app.cgix"),
        cgi_environ(PATH_INFO="/caf\xc3\xa9"),
        cgi_environ(REQUEST_METHOD="POST", CONTENT_LENGTH="5"),
    ],
)
def test_output_is_the_stdlibs(
    monkeypatch: pytest.MonkeyPatch, ours: Any, theirs: Any, app: Any, environ: dict[str, str]
) -> None:
    got = run_cgi(monkeypatch, ours, app, environ, b"hello")
    expected = run_cgi(monkeypatch, theirs, app, environ, b"hello")
    assert got[0] == expected[0]
    if app is failing:
        assert got[1].splitlines()[-1] == expected[1].splitlines()[-1]


def test_the_output_starts_with_a_status_header(monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = run_cgi(monkeypatch, CGIHandler, echo, cgi_environ())
    assert out == (b"Status: 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\n\r\n/x|")


def test_the_error_page_and_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = run_cgi(monkeypatch, CGIHandler, failing, cgi_environ())
    assert out == (
        b"Status: 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 59\r\n\r\n"
        b"A server error occurred.  Please contact the administrator."
    )
    assert err.endswith("RuntimeError: app failure\n")


def test_cgi_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    run_cgi(monkeypatch, CGIHandler, echo, cgi_environ())
    assert (seen["wsgi.run_once"], seen["wsgi.multithread"], seen["wsgi.multiprocess"]) == (
        True,
        False,
        True,
    )
    assert seen["wsgi.url_scheme"] == "http"


def test_https_is_detected_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    run_cgi(monkeypatch, CGIHandler, echo, cgi_environ(HTTPS="on"))
    assert seen["wsgi.url_scheme"] == "https"


def test_os_environ_is_empty_so_import_time_variables_do_not_leak(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert CGIHandler.os_environ == {}
    assert IISCGIHandler.os_environ == {}
    monkeypatch.setitem(BaseHandler.os_environ, "LEAKED_AT_IMPORT", "1")
    run_cgi(monkeypatch, CGIHandler, echo, cgi_environ())
    assert "LEAKED_AT_IMPORT" not in seen


def test_the_request_environ_is_transcoded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "utf-8")
    run_cgi(monkeypatch, CGIHandler, echo, cgi_environ(PATH_INFO="/caf\xe9"))
    assert seen["PATH_INFO"] == "/caf\xc3\xa9"


def test_wsgi_input_is_bounded_by_content_length(monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = run_cgi(
        monkeypatch,
        CGIHandler,
        echo,
        cgi_environ(REQUEST_METHOD="POST", CONTENT_LENGTH="5"),
        b"hello, and more than the body",
    )
    assert out.endswith(b"\r\n\r\n/x|hello")
    assert isinstance(seen["wsgi.input"], BoundedInput)
    assert "wsgi.input_terminated" not in seen


def test_without_content_length_the_input_is_read_to_eof_and_terminated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out, _ = run_cgi(
        monkeypatch, CGIHandler, echo, cgi_environ(REQUEST_METHOD="POST"), b"chunked body"
    )
    assert out.endswith(b"\r\n\r\n/x|chunked body")
    assert seen["wsgi.input_terminated"] is True


def test_an_empty_content_length_means_no_length(monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = run_cgi(monkeypatch, CGIHandler, echo, cgi_environ(CONTENT_LENGTH=""), b"abc")
    assert out.endswith(b"|abc")
    assert seen["wsgi.input_terminated"] is True


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "\u0661"])
def test_a_malformed_content_length_reads_nothing(
    monkeypatch: pytest.MonkeyPatch, length: str
) -> None:
    out, _ = run_cgi(monkeypatch, CGIHandler, echo, cgi_environ(CONTENT_LENGTH=length), b"abc")
    assert out.endswith(b"\r\n\r\n/x|")


@pytest.mark.parametrize(
    ("script", "path", "expected"),
    [
        ("/app.cgi", "/app.cgi/x/y", "/x/y"),
        ("/app.cgi", "/app.cgi", ""),
        ("/app.cgi", "/app.cgix", "/app.cgix"),
        ("/app.cgi", "/other", "/other"),
        ("", "/x", "/x"),
    ],
)
def test_iis_strips_the_repeated_script_name(
    monkeypatch: pytest.MonkeyPatch, script: str, path: str, expected: str
) -> None:
    run_cgi(monkeypatch, IISCGIHandler, echo, cgi_environ(SCRIPT_NAME=script, PATH_INFO=path))
    assert seen["PATH_INFO"] == expected


def test_public_names_and_signatures_match_the_stdlib() -> None:
    assert set(wsgi_cgi.__all__) == {"CGIHandler", "IISCGIHandler", "read_environ"}
    for name in wsgi_cgi.__all__:
        ours = inspect.signature(getattr(wsgi_cgi, name))
        theirs = inspect.signature(getattr(ref, name))
        assert list(ours.parameters) == list(theirs.parameters)
    for name in ("CGIHandler", "IISCGIHandler"):
        ours_cls, theirs_cls = getattr(wsgi_cgi, name), getattr(ref, name)
        assert issubclass(ours_cls, BaseCGIHandler)
        assert [n for n in dir(theirs_cls) if not hasattr(ours_cls, n)] == []
        for attr in ("wsgi_run_once", "origin_server", "os_environ", "wsgi_multithread"):
            assert getattr(ours_cls, attr) == getattr(theirs_cls, attr), (name, attr)
