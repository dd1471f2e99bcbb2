"""wsgi-util and wsgi-headers drop into the stdlib's own machinery unchanged: the
reference handler with our ``Headers`` as its ``headers_class`` writes the same bytes,
and apps built on our helpers pass the stdlib's validator."""

import io
import wsgiref.handlers
import wsgiref.headers
import wsgiref.validate
from collections.abc import Iterable

import pytest
from wsgi_headers import Headers
from wsgi_util import FileWrapper, request_uri, setup_testing_defaults, shift_path_info
from wsgi_util.types import StartResponse, WSGIEnvironment


def _app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    segment = shift_path_info(environ)
    headers = Headers([("Content-Type", "text/plain; charset=utf-8")])
    headers.add_header("Content-Disposition", "inline", filename=f"{segment}.txt")
    headers.setdefault("X-Uri", request_uri(environ))
    start_response("200 OK", headers.items())
    wrapper = environ.get("wsgi.file_wrapper", FileWrapper)
    return wrapper(io.BytesIO(f"segment={segment}\n".encode()), 4)  # type: ignore[no-any-return]


def _run(headers_class: type[object], path: str) -> bytes:
    class Handler(wsgiref.handlers.SimpleHandler):
        pass

    Handler.headers_class = headers_class  # type: ignore[assignment]
    environ: WSGIEnvironment = {"SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "q=1"}
    setup_testing_defaults(environ)
    out = io.BytesIO()
    handler = Handler(io.BytesIO(), out, io.StringIO(), environ.copy())
    handler.run(wsgiref.validate.validator(_app))
    return out.getvalue()


@pytest.mark.parametrize("path", ["/docs/intro", "/", "/caf\xe9/x"])
def test_stdlib_handler_writes_the_same_bytes_with_our_headers(path: str) -> None:
    ours = _run(Headers, path)
    theirs = _run(wsgiref.headers.Headers, path)
    assert ours == theirs
    assert b"Content-Disposition: inline; filename=" in ours
    assert b"X-Uri: http://127.0.0.1/" in ours


def test_stdlib_handler_refuses_nothing_our_headers_accept() -> None:
    output = _run(Headers, "/docs")
    head, _, body = output.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n")
    assert body == b"segment=docs\n"
