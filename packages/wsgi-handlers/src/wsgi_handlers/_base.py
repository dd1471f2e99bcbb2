"""``BaseHandler``: run one WSGI application for one request, over abstract streams.

The template method of ``wsgiref.handlers.BaseHandler``: ``run`` calls
``setup_environ``, the application, ``finish_response``; subclasses supply the five
abstract methods and tune the rest through class attributes. Beyond the stdlib:
checks that survive ``python -O`` and refuse to write a malformed header block,
HTTP/1.1 response framing when ``http_version = "1.1"``, quiet handling of a client
that went away, and an iterable closed exactly once on every path.
"""

import logging
import sys
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any, ClassVar

from wsgi_headers import Headers
from wsgi_util import FileWrapper, guess_scheme
from wsgi_util.types import ErrorStream, InputStream, StartResponse, WSGIApplication

from wsgi_handlers._checks import OptExcInfo, check_response_start
from wsgi_handlers._environ import read_environ
from wsgi_handlers._response import ResponseWriter, request_keep_alive, sendfile_source

_log = logging.getLogger("wsgi_handlers")

# The client closed the connection: nothing to report, nobody to report it to.
CLIENT_DISCONNECTS = (ConnectionAbortedError, BrokenPipeError, ConnectionResetError)

# A first body chunk up to this size goes out in the same _write() as the headers.
_MERGE_LIMIT = 16384


class BaseHandler:
    """Manage the invocation of a WSGI application (``wsgiref.handlers.BaseHandler``).

    Subclasses must override ``_write``, ``_flush``, ``get_stdin``, ``get_stderr``
    and ``add_cgi_vars``; see the package README for every hook.

    The framing of the response is decided by a ``ResponseWriter`` (one per
    response, in ``response_writer`` once ``start_response`` has run). With
    ``http_version = "1.1"`` (and ``origin_server`` true) it applies HTTP/1.1's
    rules: no body (and no invented ``Content-Length``) for a ``HEAD`` request or a
    1xx, 204 or 304 status, ``Transfer-Encoding: chunked`` when the request's
    ``SERVER_PROTOCOL`` is ``HTTP/1.1`` and no length is known, ``Connection:
    close`` when the connection cannot go on. In every mode no more body bytes than a
    declared ``Content-Length`` are written. After ``run()``, ``close_connection``
    tells a server whether the connection can carry another response.
    """

    # Configuration parameters; can override per-subclass or per-instance.
    wsgi_version: tuple[int, int] = (1, 0)
    wsgi_multithread: bool = True
    wsgi_multiprocess: bool = True
    wsgi_run_once: bool = False

    origin_server: bool = True  # we are transmitting direct to the client
    http_version: str = "1.0"  # version used in the status line (and "1.1" framing)
    server_software: str | None = None  # name of the server software, if any
    keep_alive: bool = True
    """With ``http_version = "1.1"``: whether the server can keep the connection open
    after this response when the request allows it. False makes every response say
    ``Connection: close``."""

    # Configuration from the OS environment: a transcoded copy of os.environ as of
    # import time. Read-only: shared between classes and instances. Any mapping of
    # str to str will do (typeshed's type): setup_environ() copies it into a dict.
    os_environ: MutableMapping[str, str] = read_environ()

    # Collaborator classes.
    wsgi_file_wrapper: type[FileWrapper] | None = FileWrapper  # None disables it
    headers_class: type[Headers] = Headers  # must be a Headers-like class

    # Error handling (also per-subclass or per-instance).
    traceback_limit: int | None = None  # frames printed by log_exception; None: all
    error_status: str = "500 Internal Server Error"
    error_headers: list[tuple[str, str]] = [("Content-Type", "text/plain")]  # noqa: RUF012
    error_body: bytes = b"A server error occurred.  Please contact the administrator."

    # State variables (don't mess with these).
    status: str | None = None
    result: Iterable[bytes] | None = None
    headers_sent: bool = False
    headers: Headers | None = None
    bytes_sent: int = 0
    environ: dict[str, Any]
    response_writer: ResponseWriter | None = None
    """The framing of the current response (set by ``start_response``)."""

    close_connection: bool = False
    """After ``run()``: true when the connection cannot carry another response (the
    body was delimited by closing the connection, the bytes sent did not match the
    ``Content-Length``, an error came after the headers, or the client went away)."""

    _closed_result: object = None
    _file_source: tuple[int, int, int] | None = None  # sendfile_source() of the result
    _default_send_headers: ClassVar[bool] = True
    _default_result_is_file: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._default_result_is_file = cls.result_is_file is BaseHandler.result_is_file
        # The head is built in one piece when no hook that shapes it is overridden;
        # the bytes are those the hooks would write.
        cls._default_send_headers = (
            cls.send_preamble is BaseHandler.send_preamble
            and cls.send_headers is BaseHandler.send_headers
            and cls.cleanup_headers is BaseHandler.cleanup_headers
            and cls.set_content_length is BaseHandler.set_content_length
        )

    def run(self, application: WSGIApplication) -> None:
        """Invoke the application.

        Any exception from the application (``BaseException`` included: an app that
        calls ``sys.exit()`` ends its request, not the server) is logged with
        ``log_exception`` and answered with the error page when no header was sent.
        """
        # Don't move the close()! Asynchronous servers must return from run()
        # without closing while output is pending, so close() is only called by
        # finish_response() and in the double-error branch here.
        self.close_connection = False
        self._closed_result = None
        try:
            self.setup_environ()
            self.result = application(self.environ, self.start_response)
            self.finish_response()
        except CLIENT_DISCONNECTS as exc:
            self._client_gone(exc)
        except BaseException:
            try:
                self.handle_error()
            except CLIENT_DISCONNECTS as exc:
                self._client_gone(exc)
            except BaseException:
                # An error while handling an error: give up, let the server see it.
                self.close_connection = True
                self.close()
                raise

    def _client_gone(self, exc: BaseException) -> None:
        # Expected from time to time: no traceback, no wsgi.errors, one debug line.
        self.close_connection = True
        _log.debug("client disconnected: %s", type(exc).__name__)
        self._close_result()

    def setup_environ(self) -> None:
        """Set up the environment for one request."""
        env = self.environ = dict(self.os_environ)
        self.add_cgi_vars()

        env["wsgi.input"] = self.get_stdin()
        env["wsgi.errors"] = self.get_stderr()
        env["wsgi.version"] = self.wsgi_version
        env["wsgi.run_once"] = self.wsgi_run_once
        env["wsgi.url_scheme"] = self.get_scheme()
        env["wsgi.multithread"] = self.wsgi_multithread
        env["wsgi.multiprocess"] = self.wsgi_multiprocess

        if self.wsgi_file_wrapper is not None:
            env["wsgi.file_wrapper"] = self.wsgi_file_wrapper

        if self.origin_server and self.server_software:
            env.setdefault("SERVER_SOFTWARE", self.server_software)

    def finish_response(self) -> None:
        """Send any iterable data, then close self and the iterable.

        Empty blocks before the first non-empty one send nothing (PEP 3333: the
        headers wait for the first non-empty block), so an error raised after them
        still gets the error page. Subclasses intended for asynchronous servers will
        want to redefine this to iterate from the event loop and call
        ``self.close()`` once done.
        """
        try:
            if self._default_result_is_file:
                wrapper = self.wsgi_file_wrapper
                is_file = wrapper is not None and isinstance(self.result, wrapper)
            else:
                is_file = self.result_is_file()
            if is_file:
                # A plain file's descriptor, offset and size, taken once: sendfile()
                # uses them, and the HTTP/1.1 rules its length ("1.0" keeps the stdlib's
                # bytes).
                self._file_source = sendfile_source(getattr(self.result, "filelike", None))
            if not is_file or not self.sendfile():
                write = self.write
                for data in self.result:  # type: ignore[union-attr]
                    if data or self.headers_sent:
                        write(data)
                self.finish_content()
            else:
                self._end_body()
        except BaseException:
            # Close the application's iterable on an exception, but not self: close()
            # resets status, headers and environ, which handle_error still needs.
            self._close_result()
            raise
        else:
            self.close()

    def get_scheme(self) -> str:
        """Return the URL scheme being used."""
        return guess_scheme(self.environ)

    def set_content_length(self) -> None:
        """Compute Content-Length for a one-block result (as ``wsgiref`` does)."""
        try:
            blocks = len(self.result)  # type: ignore[arg-type]
        except (TypeError, AttributeError, NotImplementedError):
            pass
        else:
            if blocks == 1:
                self.headers["Content-Length"] = str(self.bytes_sent)  # type: ignore[index]

    def cleanup_headers(self) -> None:
        """Make any necessary header changes or defaults.

        Adds the computed ``Content-Length`` (``set_content_length``) where the
        response writer allows one, then the framing fields it decides
        (``Transfer-Encoding``, ``Connection``), and drops the ones it forbids.
        Subclasses can extend this to add other defaults.
        """
        headers = self.headers
        if headers is None:
            raise AssertionError("start_response() was not called")
        writer = self._writer()
        status: str = self.status  # type: ignore[assignment]
        if "Content-Length" not in headers and writer.length_may_be_computed(
            status, self.bytes_sent
        ):
            self.set_content_length()
        drop, extra = writer.decide(status, headers.items())
        for name in drop:
            del headers[name]
        for name, value in extra:
            headers.add_header(name, value)

    def _writer(self) -> ResponseWriter:
        writer = self.response_writer
        if writer is None:
            writer = self.response_writer = self._new_writer()
        return writer

    def _body_writer(self) -> ResponseWriter:
        # The writer once the head is out. A subclass whose send_headers() wrote a head
        # of its own without cleanup_headers() left the framing undecided: its body
        # goes out as given, and the connection ends with it.
        writer = self.response_writer or self._writer()
        if not writer.started:
            writer.unframed()
        return writer

    def _new_writer(self) -> ResponseWriter:
        env = self.environ
        version = env.get("SERVER_PROTOCOL", "HTTP/1.0")
        http11 = self.http_version == "1.1"
        return ResponseWriter(
            env.get("REQUEST_METHOD", "GET"),
            version,
            response_version="HTTP/1.1" if http11 else f"HTTP/{self.http_version}",
            http11=http11,
            origin_server=self.origin_server,
            # Only the HTTP/1.1 rules look at persistence.
            keep_alive=http11
            and self.keep_alive
            and not self.close_connection
            and request_keep_alive(version, env.get("HTTP_CONNECTION", "")),
        )

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """The ``start_response()`` callable of PEP 3333.

        Raises ``AssertionError`` with the stdlib's messages (also under
        ``python -O``) for a second call without *exc_info*, a status that is not a
        3-digit code and a space, a non-``str`` status, name or value, or a
        hop-by-hop header; ``TypeError`` when *headers* is not a list of 2-tuples;
        ``ValueError`` for control characters in the status or a header, or a value
        that is not ISO-8859-1 text. Nothing is stored when it raises.
        """
        # Positional: start_response runs once a request, and keywords cost here.
        check_response_start(status, headers, exc_info, self.headers is not None, self.headers_sent)
        new_headers = self.headers_class(headers)
        self.status = status
        self.headers = new_headers
        self.response_writer = None  # made when the head is built
        return self.write

    def _convert_string_type(self, value: Any, title: str) -> str:
        """Convert/check value type."""
        if type(value) is str:
            return value
        raise AssertionError(f"{title} must be of type str (got {value!r})")

    def send_preamble(self) -> None:
        """Transmit version/status/date/server, via ``self._write()``."""
        if self.origin_server and not self.client_is_modern():
            return
        headers = self.headers
        has_date = headers is not None and "Date" in headers
        has_server = headers is not None and "Server" in headers
        self._write(
            self._writer().status_line(
                self.status,  # type: ignore[arg-type]
                date=not has_date,
                server_software=None if has_server else self.server_software,
            )
        )

    def write(self, data: bytes) -> None:
        """The ``write()`` callable of PEP 3333.

        Raises ``ValueError`` after writing what fits when *data* goes past the
        declared ``Content-Length`` (the rest is not written).
        """
        if type(data) is not bytes:
            raise AssertionError("write() argument must be a bytes instance")
        if not self.status:
            raise AssertionError("write() before start_response()")
        if not self.headers_sent:
            self.bytes_sent = len(data)  # make sure we know the content length
            if self._default_send_headers and len(data) <= _MERGE_LIMIT:
                # Headers and a small first chunk in one _write(): same bytes, one call.
                head = self._header_bytes(self._one_block_length())
                writer = self._writer()
                self._write(head + writer.body(data))
                self._flush()
            else:
                self.send_headers()
                writer = self._body_writer()
                if out := writer.body(data):
                    self._write(out)
                    self._flush()
        else:
            writer = self._body_writer()
            if out := writer.body(data):
                self._write(out)
                self._flush()
        self.bytes_sent = writer.body_sent
        if writer.excess:
            self._after_body(writer)

    def _after_body(self, writer: ResponseWriter) -> None:
        # The body so far is out: count it, and stop an application that went past
        # its Content-Length.
        self.bytes_sent = writer.body_sent
        if writer.excess:
            self.close_connection = True
            raise writer.excess_error()

    def _one_block_length(self) -> int | None:
        # set_content_length()'s rule: a one-block result's length is known; so is
        # that of a file wrapper over a plain file.
        source = self._file_source
        if source is not None and self.http_version == "1.1":
            return max(source[2] - source[1], 0)
        try:
            blocks = len(self.result)  # type: ignore[arg-type]
        except (TypeError, AttributeError, NotImplementedError):
            return None
        return self.bytes_sent if blocks == 1 else None

    def sendfile(self) -> bool:
        """Platform-specific file transmission; return true if the file was sent.

        Called only when the result is an instance of ``wsgi_file_wrapper``. An
        override must call ``self.send_headers()`` if ``self.headers_sent`` is
        false before transmitting. The default sends nothing and returns False;
        ``SimpleHandler`` overrides it with ``os.sendfile``.
        """
        return False

    def finish_content(self) -> None:
        """Ensure headers and content have both been sent."""
        if not self.headers_sent:
            headers = self.headers
            if headers is None:
                raise AssertionError("start_response() was not called")
            if self._default_send_headers:
                head = self._header_bytes(0)
                if head:
                    self._write(head)
            else:
                # Only zero Content-Length if not set by the application (so that HEAD
                # requests can be satisfied properly, see bpo-3839).
                if self._writer().length_may_be_computed(self.status, 0):  # type: ignore[arg-type]
                    headers.setdefault("Content-Length", "0")
                self.send_headers()
        self._end_body()

    def _end_body(self) -> None:
        # The end of the body: the last chunk, and whether the framing held.
        writer = self._body_writer()
        if tail := writer.end():
            self._write(tail)
            self._flush()
        if writer.close_connection:
            self.close_connection = True

    def close(self) -> None:
        """Close the iterable (if needed) and reset all instance variables.

        Subclasses may want to also drop the client connection.
        """
        try:
            self._close_result()
        finally:
            self.result = self.headers = self.status = self.environ = None  # type: ignore[assignment]
            self.bytes_sent = 0
            self.headers_sent = False
            self.response_writer = None
            self._file_source = None

    def _close_result(self) -> None:
        # PEP 3333: call the iterable's close() once, whatever happened.
        result = self.result
        if result is not None and result is not self._closed_result:
            self._closed_result = result
            if hasattr(result, "close"):
                result.close()

    def send_headers(self) -> None:
        """Transmit headers to the client, via ``self._write()``.

        The whole block is built (and checked) before the first byte is written.
        """
        if self._default_send_headers:
            head = self._header_bytes(self._one_block_length())
            if head:
                self._write(head)
            return
        self.cleanup_headers()
        block = bytes(self.headers)  # type: ignore[arg-type]
        self.headers_sent = True
        if self._writer().close_connection:
            self.close_connection = True
        if not self.origin_server or self.client_is_modern():
            self.send_preamble()
            self._write(block)

    def _header_bytes(self, length: int | None) -> bytes:
        # cleanup_headers(), set_content_length(), send_preamble() and bytes(headers)
        # with the default hooks, as one bytes object (b"" for an HTTP/0.9 client).
        headers: Any = self.headers
        if headers is None:
            raise AssertionError("start_response() was not called")
        writer = self._writer()
        pairs = headers._headers if type(headers) is Headers else headers.items()
        head = writer.head(self.status, pairs, length, self.server_software)  # type: ignore[arg-type]
        self.headers_sent = True
        if writer.close_connection:
            self.close_connection = True
        if not self.origin_server or self.client_is_modern():
            return head
        return b""

    def result_is_file(self) -> bool:
        """True if ``self.result`` is an instance of ``self.wsgi_file_wrapper``."""
        wrapper = self.wsgi_file_wrapper
        return wrapper is not None and isinstance(self.result, wrapper)

    def client_is_modern(self) -> bool:
        """True if the client can accept a status line and headers (not HTTP/0.9)."""
        return bool(self.environ["SERVER_PROTOCOL"].upper() != "HTTP/0.9")

    def log_exception(self, exc_info: OptExcInfo) -> None:
        """Log the ``exc_info`` tuple in the server log (``get_stderr()``).

        Subclasses may override to retarget the output or change its format.
        """
        try:
            import traceback  # noqa: PLC0415 - needed only when something failed

            stderr = self.get_stderr()
            traceback.print_exception(
                exc_info[0], exc_info[1], exc_info[2], limit=self.traceback_limit, file=stderr
            )
            stderr.flush()
        finally:
            exc_info = None  # type: ignore[assignment]

    def handle_error(self) -> None:
        """Log the current error, and send an error page to the client if possible."""
        self.log_exception(sys.exc_info())
        if getattr(self, "environ", None) is None:
            # close() ran, so the response was complete: only closing the iterable
            # failed. There is nothing left to tell the client.
            return
        # The application failed: what it read of the request body is unknown, so
        # the connection ends with this response (the error page says so).
        self.close_connection = True
        if not self.headers_sent:
            self.result = self.error_output(self.environ, self.start_response)
            self.finish_response()

    def error_output(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """WSGI mini-app producing the error page (``error_status``, ``error_headers``,
        ``error_body``); it gets the error from ``sys.exc_info()``.

        Override to generate diagnostics, but think twice before showing them to
        any client.
        """
        start_response(self.error_status, self.error_headers[:], sys.exc_info())
        return [self.error_body]

    # Pure abstract methods; *must* be overridden in subclasses.

    def _write(self, data: bytes) -> None:
        """Override in subclass to buffer *data* for sending to the client.

        It's okay if this method actually transmits the data; BaseHandler just
        separates write and flush for efficiency when the underlying system does.
        """
        raise NotImplementedError

    def _flush(self) -> None:
        """Override in subclass to force sending of recent ``_write()`` calls.

        It's okay if this is a no-op (i.e. if ``_write()`` actually sends the data).
        """
        raise NotImplementedError

    def get_stdin(self) -> InputStream:
        """Override in subclass to return a suitable ``wsgi.input``."""
        raise NotImplementedError

    def get_stderr(self) -> ErrorStream:
        """Override in subclass to return a suitable ``wsgi.errors``."""
        raise NotImplementedError

    def add_cgi_vars(self) -> None:
        """Override in subclass to insert CGI variables in ``self.environ``."""
        raise NotImplementedError
