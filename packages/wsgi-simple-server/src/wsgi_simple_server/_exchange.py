"""One request and its response on a connection: environ in, application run, bytes out.

This is the server's hot path. It follows ``wsgiref.handlers.BaseHandler`` step for
step where the standard library has a behaviour (the status line, ``Date`` then
``Server`` then the application's headers then ``Content-Length`` for a one-block
body, the ``500`` page, the checks ``start_response`` makes and their messages) and
adds HTTP/1.1 where it had none: chunked responses when the length is unknown, no
body for HEAD, 1xx, 204 and 304, persistent connections. It is written for speed: the
environ starts as a copy of a prepared dict, the head goes out in the same ``send``
as a one-block body, and nothing is formatted that is not sent.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import unquote

from wsgi_handlers import check_header, check_status, format_date_time
from wsgi_util import FileWrapper

from wsgi_simple_server._body import BodyError, BodyInput, ChunkedInput, ContentLengthInput
from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._connection import Connection
from wsgi_simple_server._errors import render_error
from wsgi_simple_server._log import access_logger, log_access
from wsgi_simple_server._parser import ParseError, Request

ERROR_STATUS = "500 Internal Server Error"
ERROR_HEADERS = [("Content-Type", "text/plain")]
ERROR_BODY = b"A server error occurred.  Please contact the administrator."
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_BODY_STATUSES = frozenset({204, 304})
_SPOOL_BYTES = 1 << 20  # a chunked request body larger than this waits on disk
_SPOOL_BLOCK = 65536

_date_second = -1
_date_line = ""


def _date_header() -> str:
    global _date_second, _date_line  # noqa: PLW0603 - a one-second cache
    now = int(time.time())
    if now != _date_second:
        _date_line = f"Date: {format_date_time(now)}\r\n"
        _date_second = now
    return _date_line


# (name, value) pairs already checked: an application sends the same few again and again.
_checked_fields: set[object] = set()


def _check_field(field: Any) -> None:
    name, value = field
    _str_type(name, "Header name")
    _str_type(value, "Header value")
    check_header(name, value, full=True)
    if type(field) is tuple and len(_checked_fields) < 4096:
        _checked_fields.add(field)


def _str_type(value: object, title: str) -> str:
    if type(value) is str:
        return value
    raise AssertionError(f"{title} must be of type str (got {value!r})")


def _scan(headers: list[tuple[str, str]]) -> tuple[bool, bool, bool]:
    """Say whether *headers* hold Content-Length, Date and Server."""
    have_length = have_date = have_server = False
    for name, _ in headers:
        lname = name.lower()
        if lname == "content-length":
            have_length = True
        elif lname == "date":
            have_date = True
        elif lname == "server":
            have_server = True
    return have_length, have_date, have_server


class EnvironBuilder:
    """Turns a parsed request into a WSGI environ, from a dict prepared once."""

    def __init__(self, base: dict[str, Any], cgi_keys: frozenset[str]) -> None:
        self.base = base
        self._cgi_keys = cgi_keys
        # header name -> its environ key, or "" for a name that is never passed on
        self._keys: dict[str, str] = {}

    def _key(self, name: str) -> str:
        key = name.replace("-", "_").upper()
        # A name with "_" would collide with its dashed twin (CVE-2015-0219 and kin):
        # it is dropped. CGI variables the server sets are not overridden either.
        result = "" if "_" in name or key in self._cgi_keys else "HTTP_" + key
        if len(self._keys) < 1024:
            self._keys[name] = result
        return result

    def build(self, request: Request, conn: Connection, wsgi_input: Any) -> dict[str, Any]:
        """Return the environ of *request* received on *conn*."""
        env = self.base.copy()
        path = request.path
        env["SERVER_PROTOCOL"] = request.version
        env["REQUEST_METHOD"] = request.method
        env["PATH_INFO"] = unquote(path, "iso-8859-1") if "%" in path else path
        env["QUERY_STRING"] = request.query
        env["REMOTE_ADDR"] = conn.host
        env["wsgi.input"] = wsgi_input
        env["wsgi.errors"] = sys.stderr
        if request.content_length is not None:
            env["CONTENT_LENGTH"] = str(request.content_length)
        keys = self._keys
        fields: dict[str, str] = {}
        content_type: str | None = None
        for name, value in request.headers:
            key = keys.get(name)
            if key is None:
                key = self._key(name)
            if not key:
                if content_type is None and name.lower() == "content-type":
                    content_type = value
                continue
            if key in fields:
                fields[key] += "; " + value if key == "HTTP_COOKIE" else "," + value
            else:
                fields[key] = value
        # BaseHTTPRequestHandler reports text/plain for a request without Content-Type.
        env["CONTENT_TYPE"] = "text/plain" if content_type is None else content_type
        env.update(fields)
        return env


class Site(Protocol):
    """What an exchange needs from the server that runs it."""

    environ_builder: EnvironBuilder
    config: ServerConfig
    server_line: str
    stopping: bool


class Exchange:
    """Runs the application for one request and writes its response."""

    __slots__ = (
        "bytes_sent",
        "chunked",
        "close_after",
        "conn",
        "continue_sent",
        "headers",
        "headers_sent",
        "request",
        "site",
        "status",
        "suppress_body",
    )

    def __init__(self, conn: Connection, request: Request, site: Site) -> None:
        self.conn = conn
        self.request = request
        self.site = site
        self.status: str | None = None
        self.headers: list[tuple[str, str]] | None = None
        self.headers_sent = False
        self.chunked = False
        self.close_after = not request.keep_alive
        self.bytes_sent = 0
        self.suppress_body = request.method == "HEAD"
        self.continue_sent = False

    # -- the WSGI callables ---------------------------------------------------------

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """The ``start_response`` callable of PEP 3333, with the standard library's checks."""
        if exc_info:
            try:
                if self.headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.headers is not None:
            raise AssertionError("Headers already set!")
        check_status(_str_type(status, "Status"))
        if type(headers) is not list:
            raise AssertionError("Headers must be a list of tuples")
        checked = _checked_fields
        for field in headers:
            if field not in checked:
                _check_field(field)
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """The ``write`` callable, and how each block of the body goes out."""
        if type(data) is not bytes:
            raise AssertionError(f"write() argument must be a bytes instance, got {data!r}")
        if not self.status:
            raise AssertionError("write() before start_response()")
        if not self.headers_sent:
            self.bytes_sent = len(data)
            self._send(self._head(None), data)
            return
        self.bytes_sent += len(data)
        self._send(b"", data)

    # -- the response ---------------------------------------------------------------

    def send_continue(self) -> None:
        """Send ``100 Continue`` unless the response has started."""
        if not self.continue_sent and not self.headers_sent:
            self.continue_sent = True
            self.conn.send_all(_CONTINUE)

    def _head(self, length: int | None) -> bytes:
        """Build the status line and header section; decide the framing."""
        status = self.status
        headers = self.headers
        if status is None or headers is None:  # pragma: no cover - checked by callers
            raise AssertionError("write() before start_response()")
        self.headers_sent = True
        request = self.request
        parts = [request.version, " ", status, "\r\n"]
        have_length, have_date, have_server = _scan(headers)
        if not have_date:
            parts.append(_date_header())
        if not have_server:
            parts.append(self.site.server_line)
        for name, value in headers:
            parts += (name, ": ", value, "\r\n")
        code = int(status[:3])
        if code < 200 or code in _NO_BODY_STATUSES:
            self.suppress_body = True
        elif not have_length:
            self._frame(parts, length)
        if self.site.stopping:
            self.close_after = True  # a graceful shutdown is under way
        if self.close_after:
            if request.http11:
                parts.append("Connection: close\r\n")
        elif not request.http11:
            parts.append("Connection: keep-alive\r\n")
        parts.append("\r\n")
        return "".join(parts).encode("iso-8859-1")

    def _frame(self, parts: list[str], length: int | None) -> None:
        """Frame a body the application gave no Content-Length for."""
        if length is not None:
            parts += ("Content-Length: ", str(length), "\r\n")
        elif self.request.http11:
            if not self.suppress_body:
                parts.append("Transfer-Encoding: chunked\r\n")
                self.chunked = True
        else:
            self.close_after = True  # an HTTP/1.0 body of unknown length ends at close

    def _send(self, head: bytes, data: bytes) -> None:
        if self.suppress_body or not data:
            if head:
                self.conn.send_all(head)
            return
        if self.chunked:
            self.conn.send_parts([head, b"%x\r\n" % len(data), data, b"\r\n"])
        elif head:
            self.conn.send_parts([head, data])
        else:
            self.conn.send_all(data)

    def finish(self, result: Iterable[bytes]) -> None:
        """Send the application's *result* and end the response."""
        if not self.headers_sent:
            if type(result) is list and len(result) == 1:
                self._send_only_block(result[0])
                return
            if type(result) is FileWrapper and self.status and self._sendfile(result):
                return
        blocks: int | None
        try:
            blocks = len(result)  # type: ignore[arg-type]
        except TypeError:
            blocks = None
        for data in result:
            if blocks == 1 and not self.headers_sent:
                self._send_only_block(data)
            else:
                self.write(data)
        if not self.headers_sent:
            if not self.status:
                raise AssertionError("write() before start_response()")
            self._send(self._head(0), b"")
        elif self.chunked:
            self.conn.send_all(b"0\r\n\r\n")

    def _send_only_block(self, data: bytes) -> None:
        """Send the one block of a body, with the head, its length known."""
        if type(data) is not bytes:
            raise AssertionError(f"write() argument must be a bytes instance, got {data!r}")
        if not self.status:
            raise AssertionError("write() before start_response()")
        self.bytes_sent = len(data)
        self._send(self._head(len(data)), data)

    def _sendfile(self, wrapper: FileWrapper) -> bool:
        """Send a ``wsgi.file_wrapper`` over a regular file with ``os.sendfile``.

        Return False, having sent nothing, when the wrapped object is not a regular
        file with a ``fileno()`` and a ``tell()``. The response gets a Content-Length
        (the rest of the file, or the application's own if smaller).
        """
        filelike: Any = wrapper.filelike
        try:
            in_fd = filelike.fileno()
            size = os.fstat(in_fd)
            offset = filelike.tell()
        except (AttributeError, OSError, ValueError, TypeError):
            return False
        if not stat.S_ISREG(size.st_mode) or type(offset) is not int:
            return False
        count = max(size.st_size - offset, 0)
        for name, value in self.headers or ():
            if name.lower() == "content-length" and value.isdigit():
                count = min(count, int(value))
        head = self._head(count)
        self.conn.send_all(head)
        if not self.suppress_body:
            self.bytes_sent = self.conn.send_file(in_fd, offset, count)
            if self.bytes_sent != count:  # the file shrank: the framing is broken
                self.close_after = True
        return True

    def error_output(self) -> None:
        """Send the ``500`` response of ``BaseHandler.error_output``."""
        self.start_response(ERROR_STATUS, ERROR_HEADERS[:], sys.exc_info())
        self.close_after = True
        self.finish([ERROR_BODY])


def run_exchange(app: Any, conn: Connection, request: Request, site: Site) -> bool:
    """Serve *request* on *conn*; return whether the connection can carry another one."""
    config = site.config
    exchange = Exchange(conn, request, site)
    spool: Any = None
    if request.chunked:
        spooled = _spool_chunked_body(exchange, conn, request, config)
        if spooled is None:
            return False
        wsgi_input, spool = spooled
    else:
        wsgi_input = _make_input(exchange, conn, request, config)
    environ = site.environ_builder.build(request, conn, wsgi_input)
    if spool is not None:
        # The body is decoded now: an application must not decode it again (Bottle does).
        environ.pop("HTTP_TRANSFER_ENCODING", None)
    try:
        if not _run_app(app, environ, exchange, config.access_log):
            return False
    finally:
        if spool is not None:
            spool.close()
    if config.access_log and access_logger.isEnabledFor(logging.INFO):
        code = (exchange.status or "500").split(" ", 1)[0]
        log_access(conn.host, f'"{request.requestline}" {code} {exchange.bytes_sent}')
    if exchange.close_after:
        return False
    # A spooled body has left the connection already, whatever the application read.
    return spool is not None or _body_done(exchange, wsgi_input, config)


def _body_done(exchange: Exchange, wsgi_input: BodyInput, config: ServerConfig) -> bool:
    """Make sure the body is off the connection; say whether the connection can go on."""
    if wsgi_input.finished:
        return True
    if exchange.request.expect_continue and not exchange.continue_sent:
        return False  # the client may never send the body it was not asked for
    try:
        return wsgi_input.drain(config.max_drain_bytes)
    except (BodyError, ConnectionError, TimeoutError):
        return False


def _make_input(
    exchange: Exchange, conn: Connection, request: Request, config: ServerConfig
) -> BodyInput:
    on_read = None
    if request.expect_continue and request.has_body:
        if config.expect_continue_eager:
            exchange.send_continue()
        else:
            on_read = exchange.send_continue
    if request.chunked:
        return ChunkedInput(conn, config.max_body_bytes, on_read)
    if not request.content_length:
        return _NO_BODY
    return ContentLengthInput(conn, request.content_length, on_read)


def _spool_chunked_body(
    exchange: Exchange, conn: Connection, request: Request, config: ServerConfig
) -> tuple[BodyInput, Any] | None:
    """Read a whole chunked body before the application runs, and give it a length.

    Most frameworks read ``CONTENT_LENGTH`` bytes and nothing more, so, as waitress
    does, the decoded body is kept (in memory up to ``_SPOOL_BYTES``, on disk past
    that, ``max_body_bytes`` at most) and ``CONTENT_LENGTH`` says its size. Return
    None when the body is refused (the error is sent) or the client went away.
    """
    if request.expect_continue:
        exchange.send_continue()
    chunked = ChunkedInput(conn, config.max_body_bytes)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - closed by run_exchange
    try:
        while data := chunked.read(_SPOOL_BLOCK):
            spool.write(data)
    except BodyError as exc:
        spool.close()
        error = _body_parse_error(exc, request)
        conn.send_all(render_error(error, conn.addr, log=config.access_log))
        return None
    except (ConnectionError, TimeoutError):
        spool.close()
        return None
    request.content_length = length = spool.tell()
    spool.seek(0)
    return ContentLengthInput(_FileSource(spool), length), spool


class _FileSource:
    """A body ``Source`` over a file (the spooled body of a chunked request)."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def read_some(self, size: int) -> bytes:
        data: bytes = self._file.read(size)
        return data

    def read_line(self, limit: int) -> bytes:
        line: bytes = self._file.readline(limit)
        return line


class _NoSource:
    def read_some(self, size: int) -> bytes:
        return b""

    def read_line(self, limit: int) -> bytes:
        return b""


# The wsgi.input of every request without a body: at its end from the start, it has
# no state that reading could change, so one instance serves them all.
_NO_BODY = ContentLengthInput(_NoSource(), 0)


def _run_app(app: Any, environ: dict[str, Any], exchange: Exchange, log: bool) -> bool:
    """Run *app* and send its response; say whether the exchange ended in order."""
    result: Any = None
    try:
        try:
            result = app(environ, exchange.start_response)
            exchange.finish(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except (ConnectionError, TimeoutError):
        return False
    except BodyError as exc:
        if not exchange.headers_sent:
            error = _body_parse_error(exc, exchange.request)
            exchange.conn.send_all(render_error(error, exchange.conn.addr, log=log))
        return False
    except Exception:
        errors = environ["wsgi.errors"]
        try:
            traceback.print_exc(file=errors)
            errors.flush()
        finally:
            if not exchange.headers_sent:
                exchange.status = exchange.headers = None
                exchange.error_output()
        exchange.close_after = True
    return True


def _body_parse_error(exc: BodyError, request: Request) -> ParseError:
    return ParseError(
        exc.status,
        exc.message,
        request_version=request.version,
        requestline=request.requestline,
        command=request.method,
    )
