"""An app built from the stack's pieces for running under other servers: validated by
``wsgi_validate`` in report mode, serving files through ``wsgi_util.FileWrapper`` (or
the server's own ``wsgi.file_wrapper``), with its violations readable at
``/violations`` (outside the validator) so a test in another process can see them."""

import json
from collections.abc import Iterable

from frameworks import SERVED_FILE
from wsgi_headers import Headers
from wsgi_util import FileWrapper, request_uri, shift_path_info
from wsgi_util.types import StartResponse, WSGIEnvironment
from wsgi_validate import ValidationReport, validator

report = ValidationReport()


def _inner(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    route = shift_path_info(environ)
    headers = Headers([("Content-Type", "text/plain; charset=utf-8")])
    if route == "file":
        wrapper = FileWrapper if environ["PATH_INFO"] == "/ours" else environ["wsgi.file_wrapper"]
        headers["Content-Length"] = str(SERVED_FILE.stat().st_size)
        start_response("200 OK", headers.items())
        blocks: Iterable[bytes] = wrapper(SERVED_FILE.open("rb"), 4096)
        return blocks
    if route == "echo":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", headers.items())
        return [body, b"|", request_uri(environ).encode()]
    if route == "overread":  # a deliberate violation: reads past CONTENT_LENGTH
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0) + 10)
        start_response("200 OK", headers.items())
        return [body]
    start_response("404 Not Found", headers.items())
    return [b"not found"]


_validated = validator(_inner, report=report, strict_stdlib=False)


def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Serve ``/violations`` (``?clear=1`` empties the report) directly, everything
    else through the validator."""
    if environ.get("PATH_INFO") == "/violations":
        found = [str(v) for v in report.violations]
        if environ.get("QUERY_STRING") == "clear=1":
            report.clear()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(found).encode()]
    return _validated(environ, start_response)
