"""Error pages, rendered by ``http.server`` itself so they match the standard library's."""

from __future__ import annotations

import io
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from wsgi_simple_server._log import AccessEntry, AccessLog, log_access
from wsgi_simple_server._parser import ParseError

_STDLIB_LOG = AccessLog()


class _ErrorPage(BaseHTTPRequestHandler):
    """A request handler used only for its ``send_error``; it owns no socket."""

    server_version = "WSGIServer/0.2"
    access_log: AccessLog | None = _STDLIB_LOG

    def log_message(self, format: str, *args: Any) -> None:
        if self.access_log is not None:
            log_access(self.client_address[0], format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """The request's line on the access log, in its format, with its fields."""
        if self.access_log is None:
            return
        if isinstance(code, HTTPStatus):
            code = code.value
        host = self.client_address[0]
        environ = {
            "REMOTE_ADDR": host,
            "REQUEST_METHOD": self.command,
            "SERVER_PROTOCOL": self.request_version,
        }
        target = self.requestline.split(" ")[1:2]
        if target:  # as the request line gives them (not decoded: the request was refused)
            environ["PATH_INFO"], _, environ["QUERY_STRING"] = target[0].partition("?")
        length = int(size) if isinstance(size, int) or size.isdigit() else None
        self.access_log.entry(AccessEntry(host, self.requestline, str(code), length, None, environ))


def render_error(
    error: ParseError,
    client_address: Any,
    *,
    access_log: AccessLog | None = _STDLIB_LOG,
    handler_class: type[BaseHTTPRequestHandler] | None = None,
    server: Any = None,
) -> bytes:
    """Return the bytes of the error response for *error*, and log it.

    The page, the headers and their order, and the log lines are those of
    ``BaseHTTPRequestHandler.send_error`` in the state the standard library would be
    in when it refuses the same request, except that a status line is always sent.
    HTTP/1.1 requests get an ``HTTP/1.1`` status line. The request's line goes to
    *access_log* (None: nothing is logged). With *handler_class* (a request handler class
    whose ``send_error``, ``log_error``, ``log_message``, ``version_string`` or the
    like a user overrode) the page is rendered and logged by an instance of it, with
    ``server`` set, as the standard library would.
    """
    page: Any
    if handler_class is None:
        page = _ErrorPage.__new__(_ErrorPage)
        page.access_log = access_log
    else:
        page = handler_class.__new__(handler_class)
        page.server = server
    page.wfile = io.BytesIO()
    page.client_address = client_address
    # Where the standard library takes a broken request for HTTP/0.9 it sends the page
    # with no status line and no headers: a client could not even see the status. Here
    # every error has its status line (HTTP/1.0 when the version is unknown).
    page.request_version = (
        "HTTP/1.0" if error.request_version == "HTTP/0.9" else error.request_version
    )
    page.requestline = error.requestline
    # A HEAD request gets no body, even when its request line is broken past the method.
    page.command = error.command or error.requestline.split(" ", 1)[0]
    page.close_connection = True
    if error.request_version == "HTTP/1.1":
        page.protocol_version = "HTTP/1.1"
    page.send_error(error.status, error.message, error.explain)
    data: bytes = page.wfile.getvalue()
    return data
