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


class NeverEnds(io.RawIOBase):
    """A stdin like the client's socket that ``python -m http.server --cgi`` hands a
    script: it never ends, so a read would wait for the client; here it fails."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the request has no body: stdin must not be read")


class Streams:
    """Replacement sys.stdin/stdout/stderr with byte buffers behind them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, body: bytes | io.RawIOBase) -> None:
        raw = io.BytesIO(body) if isinstance(body, bytes) else body
        self.stdin = io.TextIOWrapper(io.BufferedReader(raw))
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
    body: bytes | io.RawIOBase = b"",
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
    # Without CONTENT_LENGTH a web server gives no body; the stdlib would read any.
    body = b"hello" if "CONTENT_LENGTH" in environ else b""
    got = run_cgi(monkeypatch, ours, app, environ, body)
    expected = run_cgi(monkeypatch, theirs, app, environ, body)
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


@pytest.mark.parametrize("length", [None, ""])
def test_without_content_length_there_is_no_body_and_stdin_is_never_read(
    monkeypatch: pytest.MonkeyPatch, length: str | None
) -> None:
    # RFC 3875 section 4.1.2; python -m http.server --cgi sets CONTENT_LENGTH="" for a
    # GET and gives the script the client's socket, which ends only when the client
    # gives up.
    environ = cgi_environ() if length is None else cgi_environ(CONTENT_LENGTH=length)
    out, err = run_cgi(monkeypatch, CGIHandler, echo, environ, NeverEnds())
    assert out.endswith(b"\r\n\r\n/x|"), err
    assert seen["wsgi.input"].read(10) == b""
    assert "wsgi.input_terminated" not in seen


@pytest.mark.parametrize("length", [None, ""])
@pytest.mark.parametrize("transfer_encoding", ["chunked", "gzip, Chunked"])
def test_a_chunked_body_without_content_length_is_read_to_eof_and_terminated(
    monkeypatch: pytest.MonkeyPatch, length: str | None, transfer_encoding: str
) -> None:
    environ = cgi_environ(REQUEST_METHOD="POST", HTTP_TRANSFER_ENCODING=transfer_encoding)
    if length is not None:
        environ["CONTENT_LENGTH"] = length
    out, _ = run_cgi(monkeypatch, CGIHandler, echo, environ, b"chunked body")
    assert out.endswith(b"\r\n\r\n/x|chunked body")
    assert seen["wsgi.input_terminated"] is True


def test_content_length_wins_over_a_transfer_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # RFC 3875 section 4.1.2: the length is the body's after the server removed the
    # transfer-coding.
    environ = cgi_environ(
        REQUEST_METHOD="POST", CONTENT_LENGTH="5", HTTP_TRANSFER_ENCODING="chunked"
    )
    out, _ = run_cgi(monkeypatch, CGIHandler, echo, environ, b"hello and more")
    assert out.endswith(b"|hello")
    assert "wsgi.input_terminated" not in seen


@pytest.mark.parametrize("length", ["0", "-1", "abc", "1e3", " 12", "12 ", "+5", "\u0661"])
@pytest.mark.parametrize("transfer_encoding", [None, "chunked"])
def test_a_zero_or_malformed_content_length_reads_nothing(
    monkeypatch: pytest.MonkeyPatch, length: str, transfer_encoding: str | None
) -> None:
    environ = cgi_environ(REQUEST_METHOD="POST", CONTENT_LENGTH=length)
    if transfer_encoding is not None:
        environ["HTTP_TRANSFER_ENCODING"] = transfer_encoding
    out, err = run_cgi(monkeypatch, CGIHandler, echo, environ, NeverEnds())
    assert out.endswith(b"\r\n\r\n/x|"), err
    assert "wsgi.input_terminated" not in seen


def test_iis_handler_reads_the_body_by_the_same_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    out, err = run_cgi(
        monkeypatch, IISCGIHandler, echo, cgi_environ(CONTENT_LENGTH=""), NeverEnds()
    )
    assert out.endswith(b"\r\n\r\n/x|"), err
    environ = cgi_environ(REQUEST_METHOD="POST", HTTP_TRANSFER_ENCODING="chunked")
    out, _ = run_cgi(monkeypatch, IISCGIHandler, echo, environ, b"abc")
    assert out.endswith(b"/x|abc")
    assert seen["wsgi.input_terminated"] is True


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
