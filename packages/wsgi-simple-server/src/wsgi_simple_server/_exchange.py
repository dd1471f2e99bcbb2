"""One request and its response on a connection: environ in, application run, bytes out.

This is the server's hot path. The response is framed by ``wsgi_handlers``'
``ResponseWriter``, the core ``BaseHandler`` drives too, so the status line, the
header order (``Date``, ``Server``, the application's, then the framing fields), the
checks ``start_response`` makes and every framing rule are the same bytes and
verdicts as ``SimpleHandler``'s with ``http_version = "1.1"``. What is here is what
only a server has: the connection (keep-alive, ``100 Continue``, pipelining), the
request body, ``os.sendfile`` and the access log. It is written for speed: the
environ starts as a copy of a prepared dict, the head goes out in the same ``send``
as the first block, and nothing is formatted that is not sent.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol
from urllib.parse import unquote

from wsgi_handlers import BaseHandler, ResponseWriter, check_response_start, sendfile_source
from wsgi_util import FileWrapper

from wsgi_simple_server._body import (
    BodyError,
    BodyInput,
    ChunkedInput,
    ContentLengthInput,
    IncompleteBodyError,
    Source,
)
from wsgi_simple_server._config import ServerConfig
from wsgi_simple_server._connection import Connection
from wsgi_simple_server._log import AccessEntry, AccessLog, error_logger
from wsgi_simple_server._parser import ParseError, Request
from wsgi_simple_server._proxy import TrustedPeers, apply_forwarded

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_ENVIRON: dict[str, Any] = {}  # an exchange's environ until it has one (read-only)
_clock = time.perf_counter
_SPOOL_BYTES = 1 << 20  # a chunked request body larger than this waits on disk
_SPOOL_BLOCK = 65536


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


class Hooks(Protocol):
    """The request handler's hooks, as the engine calls them (``RequestHooks``)."""

    custom_environ: bool  # get_environ or get_stderr is overridden
    custom_log: bool  # log_request, ... is overridden, or the requests are logged elsewhere

    def environ(self, request: Request, conn: Connection) -> tuple[dict[str, Any], Any]: ...
    def log_request(self, exchange: Exchange) -> None: ...
    def render_error(self, error: ParseError, client_address: Any) -> bytes: ...


class Site(Protocol):
    """What an exchange needs from the server that runs it."""

    config: ServerConfig
    access_log: AccessLog
    server_software: str  # for the Server field
    stopping: bool
    hooks: Hooks
    forwarded_allow: TrustedPeers  # config.forwarded_allow_ips, parsed


class Exchange(ResponseWriter):
    """Runs the application for one request and sends its response.

    An exchange is the response's ``ResponseWriter`` (the core decides the framing)
    plus what only a server has: the connection, the request and its body, the
    ``100 Continue``. One object a request: there is one of these per request.
    """

    def __init__(self, conn: Connection, request: Request, site: Site) -> None:
        # Positional: keyword calls cost twice as much.
        ResponseWriter.__init__(
            self, request.method, request.version, request.version, True, True, request.keep_alive
        )
        self.conn = conn
        self.request = request
        self.site = site
        self.status: str | None = None
        self.headers: list[tuple[str, str]] | None = None
        self.headers_sent = False
        self.continue_sent = False
        self.client_gone = False  # a send or a body read failed: the client is gone
        self.body_input: BodyInput | None = None  # set once the body's reader is made
        self.environ: dict[str, Any] = _NO_ENVIRON  # the application's, once made
        self.begun = _clock()  # for the access log's duration

    def access_entry(self, remote_addr: str, status: str) -> AccessEntry:
        """What the access log needs to know of this exchange, now that it is done."""
        return AccessEntry(
            remote_addr,
            self.request.requestline,
            status,
            self.bytes_sent,
            _clock() - self.begun,
            self.environ,
            self.request.headers,
            self.headers or (),
        )

    @property
    def bytes_sent(self) -> int:
        """Body bytes sent (or, for HEAD, produced) so far."""
        return self.body_sent

    # -- the WSGI callables ---------------------------------------------------------

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        """The ``start_response`` callable of PEP 3333, with ``BaseHandler``'s checks."""
        # Positional: start_response runs once a request, and keywords cost here.
        check_response_start(status, headers, exc_info, self.headers is not None, self.headers_sent)
        self.status = status
        self.headers = headers
        return self.write

    def write(self, data: bytes) -> None:
        """The ``write`` callable, and how each block of the body goes out.

        Raises ``ValueError`` (after sending what fits) past a declared
        ``Content-Length``.
        """
        if type(data) is not bytes:
            raise AssertionError(f"write() argument must be a bytes instance, got {data!r}")
        if not self.headers_sent:
            self._send(self._head(None), self.body(data))
        elif out := self.body(data):
            self._send(b"", out)
        if self.excess:
            raise self.excess_error()

    # -- the response ---------------------------------------------------------------

    def send_continue(self) -> None:
        """Send ``100 Continue`` unless the response has started."""
        if not self.continue_sent and not self.headers_sent:
            self.continue_sent = True
            self._send(_CONTINUE, b"")

    def _head(self, length: int | None) -> bytes:
        """The status line and header section; the response core decides the framing."""
        status = self.status
        headers = self.headers
        if status is None or headers is None:
            raise AssertionError("write() before start_response()")
        self._before_head()
        head = self.head(status, headers, length, self.site.server_software)
        self.headers_sent = True
        return head

    def _before_head(self) -> None:
        """Tell the response core whether the connection can go on after this response."""
        request = self.request
        body = self.body_input
        if (
            self.site.stopping
            # A body the client was told to wait for and never asked for: it will not
            # be read, so the connection ends with this response.
            or (request.expect_continue and request.has_body and not self.continue_sent)
            # More of the body left unread than the server drains: it ends there too.
            or (
                body is not None
                and not body.finished
                and body.too_long_to_drain(self.site.config.max_drain_bytes)
            )
        ):
            self.keep_alive = False

    def _send(self, head: bytes, data: bytes) -> None:
        try:
            if not data:
                self.conn.send_all(head)
            elif head:
                self.conn.send_parts([head, data])
            else:
                self.conn.send_all(data)
        except OSError:
            self.client_gone = True
            raise

    def finish(self, result: Iterable[bytes]) -> None:
        """Send the application's *result* and end the response.

        Empty blocks before the first non-empty one send nothing (PEP 3333), so an
        error after them still gets the error page.
        """
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
        write = self.write
        for data in result:
            if self.headers_sent:
                write(data)
            elif blocks == 1:
                self._send_only_block(data)
                return
            elif type(data) is not bytes or data:
                write(data)
        if not self.headers_sent:
            self._send(self._head(0), b"")
        self._end()

    def _end(self) -> None:
        if tail := self.end():
            self._send(b"", tail)

    def _send_only_block(self, data: bytes) -> None:
        """Send the one block of a body, with the head, its length known."""
        if type(data) is not bytes:
            raise AssertionError(f"write() argument must be a bytes instance, got {data!r}")
        status = self.status
        headers = self.headers
        if status is None or headers is None:
            raise AssertionError("write() before start_response()")
        if self.body_input is not _NO_BODY or self.request.expect_continue or self.site.stopping:
            self._before_head()  # a request without a body can always go on
        head, out = self.whole(status, headers, data, self.site.server_software)
        self.headers_sent = True
        self._send(head, out)
        if self.excess:
            raise self.excess_error()

    def _sendfile(self, wrapper: FileWrapper) -> bool:
        """Send a ``wsgi.file_wrapper`` over a plain file with ``os.sendfile``.

        Return False, having sent nothing, unless ``sendfile_source`` accepts the
        wrapped file. The head gets the rest of the file as its ``Content-Length``
        when the application declared none.
        """
        source = sendfile_source(wrapper.filelike)
        if source is None:
            return False
        in_fd, offset, size = source
        count = max(size - offset, 0)
        head = self._head(count)
        self._send(head, b"")
        if count := self.file_count(count):
            try:
                self.file_sent(self.conn.send_file(in_fd, offset, count))
            except OSError:
                self.client_gone = True
                raise
        if self.excess:
            raise self.excess_error()
        self._end()
        return True

    def error_output(self) -> None:
        """Send ``BaseHandler``'s error page (``error_status``, ``error_headers``,
        ``error_body``); the connection closes after it."""
        self.status = self.headers = None
        self.start_response(BaseHandler.error_status, BaseHandler.error_headers[:], sys.exc_info())
        self.keep_alive = False
        self._send_only_block(BaseHandler.error_body)


class _WatchedSource:
    """The connection as a body ``Source`` that notes a failed read on the exchange."""

    __slots__ = ("conn", "exchange")

    def __init__(self, conn: Connection, exchange: Exchange) -> None:
        self.conn = conn
        self.exchange = exchange

    def read_some(self, size: int) -> bytes:
        try:
            return self.conn.read_some(size)
        except OSError:
            self.exchange.client_gone = True
            raise

    def read_line(self, limit: int) -> bytes:
        try:
            return self.conn.read_line(limit)
        except OSError:
            self.exchange.client_gone = True
            raise


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
    exchange.body_input = wsgi_input
    try:
        if site.hooks.custom_environ:
            environ = _environ(site, request, conn, wsgi_input, exchange)
            if environ is None:
                return False
        else:
            environ = conn.environ_builder.build(request, conn, wsgi_input)
        exchange.environ = environ
        apply_forwarded(environ, conn.addr, site.forwarded_allow, config.trusted_proxy_headers)
        if spool is not None:
            # The body is decoded now: an application must not decode it again (Bottle
            # does), and its length is known.
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["CONTENT_LENGTH"] = str(request.content_length)
        in_order = _run_app(app, environ, exchange)
    finally:
        if spool is not None:
            spool.close()
    # A client that went away mid-response is logged too, as gunicorn does: the line
    # says what was sent.
    if (in_order or exchange.client_gone) and (site.hooks.custom_log or config.access_log):
        _log_request(site, exchange)
    if not in_order or exchange.close_connection:
        return False
    # A spooled body has left the connection already, whatever the application read.
    return spool is not None or wsgi_input.finished or _body_done(exchange, wsgi_input, config)


def _log_request(site: Site, exchange: Exchange) -> None:
    """The access log line, or the request handler's ``log_request`` when overridden.

    The client's address is the environ's ``REMOTE_ADDR`` (gunicorn's ``h``), the
    connection's peer when the environ has none. This runs once a request: the status
    code is the status's first three characters (``check_response_start`` made sure).
    """
    status = exchange.status
    code = status[:3] if status else "500"
    if site.hooks.custom_log:
        site.hooks.log_request(exchange)
    else:
        site.access_log.request(
            exchange.environ.get("REMOTE_ADDR") or exchange.conn.host,
            exchange.request.requestline,
            code,
            exchange.body_sent,
            exchange,
        )


def _environ(
    site: Site, request: Request, conn: Connection, wsgi_input: BodyInput, exchange: Exchange
) -> dict[str, Any] | None:
    """The environ of *request* from the request handler's ``get_environ`` and
    ``get_stderr``, which a subclass overrides (None: they failed, and the error page
    is sent)."""
    hooks = site.hooks
    environ = conn.environ_builder.base.copy()
    environ["wsgi.input"] = wsgi_input
    try:
        cgi_vars, environ["wsgi.errors"] = hooks.environ(request, conn)
        environ.update(cgi_vars)
    except Exception:
        # The handler's get_environ failed: the application's kind of error.
        error_logger.exception("get_environ failed for %r", request.requestline)
        exchange.error_output()
        return None
    return environ


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
        return ChunkedInput(_WatchedSource(conn, exchange), config.max_body_bytes, on_read)
    if not request.content_length:
        return _NO_BODY
    return ContentLengthInput(_WatchedSource(conn, exchange), request.content_length, on_read)


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
    try:
        wsgi_input, spool, request.content_length = spool_chunked(conn, config.max_body_bytes)
    except BodyError as exc:
        error = _body_parse_error(exc, request)
        conn.send_all(exchange.site.hooks.render_error(error, conn.addr))
        return None
    except (ConnectionError, TimeoutError):
        return None
    return wsgi_input, spool


def spool_chunked(source: Source, max_body_bytes: int) -> tuple[BodyInput, Any, int]:
    """Decode a whole chunked body (RFC 9112 section 7.1) from *source* into a spool.

    Return the ``wsgi.input`` that reads the decoded body, the spool (a
    ``SpooledTemporaryFile``: in memory up to ``_SPOOL_BYTES``, on disk past that; the
    caller closes it) and the body's length in bytes. Raise ``BodyError`` for a body
    that breaks the coding or ``max_body_bytes``, ``ConnectionError`` or
    ``TimeoutError`` if the client fails to send it (the spool closed).
    """
    chunked = ChunkedInput(source, max_body_bytes)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 - the caller's
    try:
        while data := chunked.read(_SPOOL_BLOCK):
            spool.write(data)
    except BaseException:
        spool.close()
        raise
    length = spool.tell()
    spool.seek(0)
    return ContentLengthInput(FileSource(spool), length), spool, length


class FileSource:
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


def _run_app(app: Any, environ: dict[str, Any], exchange: Exchange) -> bool:
    """Run *app* and send its response; say whether the exchange ended in order.

    Any exception from the application, ``BaseException`` included (``SystemExit``
    from ``sys.exit()``, ``KeyboardInterrupt``, ``GeneratorExit``), is logged with
    its traceback on ``wsgi_simple_server.error`` and answered with the error page when nothing
    was sent; the worker goes on. A client that went away ends the exchange quietly.
    """
    result: Any = None
    try:
        try:
            result = app(environ, exchange.start_response)
            exchange.finish(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    except BodyError as exc:
        if not exchange.headers_sent:
            error = _body_parse_error(exc, exchange.request)
            exchange.conn.send_all(exchange.site.hooks.render_error(error, exchange.conn.addr))
        return False
    except BaseException as exc:
        if exchange.client_gone or isinstance(exc, IncompleteBodyError):
            return False
        request = exchange.request
        error_logger.error(
            "Error in the application serving %r for %s",
            request.requestline,
            exchange.conn.host,
            exc_info=True,
        )
        if not exchange.headers_sent:
            exchange.error_output()
        exchange.close_connection = True
    return True


def _body_parse_error(exc: BodyError, request: Request) -> ParseError:
    return ParseError(
        exc.status,
        exc.message,
        request_version=request.version,
        requestline=request.requestline,
        command=request.method,
    )
