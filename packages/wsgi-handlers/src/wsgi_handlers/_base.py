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
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, ClassVar, TypeAlias

from wsgi_headers import Headers
from wsgi_util import FileWrapper, guess_scheme
from wsgi_util.types import ErrorStream, InputStream, StartResponse, WSGIApplication

from wsgi_handlers._checks import (
    check_app_headers,
    check_header,
    check_status,
    serialize_known_good,
)
from wsgi_handlers._date import date_line_now
from wsgi_handlers._environ import read_environ

_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType]
_OptExcInfo: TypeAlias = _ExcInfo | tuple[None, None, None]

_log = logging.getLogger("wsgi_handlers")

# The client closed the connection: nothing to report, nobody to report it to.
CLIENT_DISCONNECTS = (ConnectionAbortedError, BrokenPipeError, ConnectionResetError)

_CHUNK_END = b"0\r\n\r\n"
# A first body chunk up to this size goes out in the same _write() as the headers.
_MERGE_LIMIT = 16384


def _no_content_status(code: int) -> bool:
    # RFC 9110 sections 15.2, 15.3.5 and 15.4.5: 1xx, 204 and 304 never carry content.
    return code < 200 or code in {204, 304}


class BaseHandler:
    """Manage the invocation of a WSGI application (``wsgiref.handlers.BaseHandler``).

    Subclasses must override ``_write``, ``_flush``, ``get_stdin``, ``get_stderr``
    and ``add_cgi_vars``; see the package README for every hook.

    With ``http_version = "1.1"`` (and ``origin_server`` true) the response is framed
    as HTTP/1.1 wants: no body (and no automatic ``Content-Length``) for a ``HEAD``
    request or a 1xx, 204 or 304 status, and, when the request's
    ``SERVER_PROTOCOL`` is ``HTTP/1.1`` and no length is known,
    ``Transfer-Encoding: chunked``. After ``run()``, ``close_connection`` tells a
    server whether the connection can carry another response.
    """

    # Configuration parameters; can override per-subclass or per-instance.
    wsgi_version: tuple[int, int] = (1, 0)
    wsgi_multithread: bool = True
    wsgi_multiprocess: bool = True
    wsgi_run_once: bool = False

    origin_server: bool = True  # we are transmitting direct to the client
    http_version: str = "1.0"  # version used in the status line (and "1.1" framing)
    server_software: str | None = None  # name of the server software, if any

    # Configuration from the OS environment: a transcoded copy of os.environ as of
    # import time. Read-only: shared between classes and instances.
    os_environ: dict[str, Any] = read_environ()

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

    close_connection: bool = False
    """After ``run()``: true when the connection cannot carry another response (the
    body was delimited by closing the connection, the bytes sent did not match the
    ``Content-Length``, an error came after the headers, or the client went away)."""

    # Per-response framing, decided in cleanup_headers.
    _chunked: bool = False
    _no_body: bool = False
    _declared_length: int | None = None
    _closed_result: object = None
    _default_preamble: ClassVar[bool] = True
    _default_send_headers: ClassVar[bool] = True
    _default_cleanup: ClassVar[bool] = True
    _default_result_is_file: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._default_preamble = cls.send_preamble is BaseHandler.send_preamble
        cls._default_cleanup = (
            cls.cleanup_headers is BaseHandler.cleanup_headers
            and cls.set_content_length is BaseHandler.set_content_length
        )
        cls._default_result_is_file = cls.result_is_file is BaseHandler.result_is_file
        cls._default_send_headers = (
            cls._default_preamble and cls.send_headers is BaseHandler.send_headers
        )

    def run(self, application: WSGIApplication) -> None:
        """Invoke the application."""
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
                self.close()
                raise

    def _client_gone(self, exc: BaseException) -> None:
        # Expected from time to time: no traceback, no wsgi.errors, one debug line.
        self.close_connection = True
        _log.debug("client disconnected: %s", type(exc).__name__)
        self._close_result()

    def setup_environ(self) -> None:
        """Set up the environment for one request."""
        env = self.environ = self.os_environ.copy()
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

        Subclasses intended for asynchronous servers will want to redefine this to
        iterate from the event loop and call ``self.close()`` once done.
        """
        try:
            if self._default_result_is_file:
                wrapper = self.wsgi_file_wrapper
                is_file = wrapper is not None and isinstance(self.result, wrapper)
            else:
                is_file = self.result_is_file()
            if not is_file or not self.sendfile():
                write = self.write
                for data in self.result:  # type: ignore[union-attr]
                    write(data)
                self.finish_content()
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
        """Compute Content-Length, or switch to chunked encoding if possible."""
        try:
            blocks = len(self.result)  # type: ignore[arg-type]
        except (TypeError, AttributeError, NotImplementedError):
            pass
        else:
            if blocks == 1:
                self.headers["Content-Length"] = str(self.bytes_sent)  # type: ignore[index]
                return
        if self._http11_framing() and not self._no_body and self._client_is_http11():
            self.headers["Transfer-Encoding"] = "chunked"  # type: ignore[index]
            self._chunked = True

    def cleanup_headers(self) -> None:
        """Make any necessary header changes or defaults.

        Subclasses can extend this to add other defaults.
        """
        headers = self.headers
        if headers is None:
            raise AssertionError("start_response() was not called")
        self._chunked = self._no_body = False
        if self._http11_framing():
            code = int(self.status[:3])  # type: ignore[index]
            if _no_content_status(code):
                self._no_body = True
                if code != 304:  # 304 may repeat the length of the representation
                    del headers["Content-Length"]
                self._declared_length = None
                return
            self._no_body = self.environ.get("REQUEST_METHOD") == "HEAD"
        if "Content-Length" not in headers:
            self.set_content_length()

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: _OptExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """The ``start_response()`` callable of PEP 3333.

        Raises ``AssertionError`` with the stdlib's messages (also under
        ``python -O``) for a second call without *exc_info*, a status that is not a
        3-digit code and a space, a non-``str`` status, name or value, or a
        hop-by-hop header; ``ValueError`` for control characters in the status or
        a header, or a value that is not ISO-8859-1 text. Nothing is stored when it
        raises.
        """
        if exc_info:
            try:
                if self.headers_sent:
                    # Too late for another status: re-raise the application's error
                    # (PEP 3333), or the one being handled if exc_info holds none.
                    error = exc_info[1] or sys.exc_info()[1]
                    if error is None:
                        raise RuntimeError("No active exception to reraise")
                    raise error.with_traceback(exc_info[2] or error.__traceback__)
            finally:
                exc_info = None  # avoid a dangling circular reference
        elif self.headers is not None:
            raise AssertionError("Headers already set!")

        headers_class = self.headers_class
        new_headers = headers_class(headers)
        if type(status) is not str:
            self._convert_string_type(status, "Status")
        check_status(status)
        if headers_class is Headers:
            check_app_headers(headers)  # Headers checked the types and the syntax
        else:
            convert = self._convert_string_type
            for name, value in headers:
                check_header(
                    convert(name, "Header name"), convert(value, "Header value"), full=True
                )
        self.status = status
        self.headers = new_headers
        return self.write

    def _convert_string_type(self, value: Any, title: str) -> str:
        """Convert/check value type."""
        if type(value) is str:
            return value
        raise AssertionError(f"{title} must be of type str (got {value!r})")

    def send_preamble(self) -> None:
        """Transmit version/status/date/server, via ``self._write()``."""
        if self.origin_server:
            if self.client_is_modern():
                headers = self.headers
                self._write(self._preamble("Date" in headers, "Server" in headers))  # type: ignore[operator]
        else:
            self._write(self._preamble(True, True))

    def _preamble(self, has_date: bool, has_server: bool) -> bytes:
        # The lines before the header block, for a client known to be modern.
        if self.origin_server:
            line = f"HTTP/{self.http_version} {self.status}\r\n".encode("iso-8859-1")
            if not has_date:
                line += date_line_now()
            software = self.server_software
            if software and not has_server:
                line += f"Server: {software}\r\n".encode("iso-8859-1")
            return line
        return f"Status: {self.status}\r\n".encode("iso-8859-1")

    def write(self, data: bytes) -> None:
        """The ``write()`` callable of PEP 3333."""
        if type(data) is not bytes:
            raise AssertionError("write() argument must be a bytes instance")
        if not self.status:
            raise AssertionError("write() before start_response()")
        if not self.headers_sent:
            self.bytes_sent = len(data)  # make sure we know the content length
            if self._default_send_headers and len(data) <= _MERGE_LIMIT:
                # Headers and a small first chunk in one _write(): same bytes, one call.
                head = self._header_bytes()
                if self._chunked or self._no_body:
                    data = self._framed(data)
                self._write(head + data)
                self._flush()
                return
            self.send_headers()
        else:
            self.bytes_sent += len(data)
        if self._chunked or self._no_body:
            data = self._framed(data)
            if not data:
                return
        self._write(data)
        self._flush()

    def _framed(self, data: bytes) -> bytes:
        # The body bytes as they go on the wire.
        if self._chunked:
            # An empty chunk would end the body: send nothing for it.
            return b"%X\r\n%b\r\n" % (len(data), data) if data else b""
        if self._no_body:
            return b""
        return data

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
            # Only zero Content-Length if not set by the application (so that HEAD
            # requests can be satisfied properly, see bpo-3839).
            if not (self._http11_framing() and _no_content_status(int(self.status[:3]))):  # type: ignore[index]
                headers.setdefault("Content-Length", "0")
            self.send_headers()
        elif self._chunked:
            self._write(_CHUNK_END)
            self._flush()
        elif (declared := self._declared_length) is not None and declared != self.bytes_sent:
            # The client will wait for missing bytes or read extra ones as the next
            # response: this connection cannot be reused.
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
        if self._default_preamble:
            head = self._header_bytes()
            if head:
                self._write(head)
            return
        self.cleanup_headers()
        block = bytes(self.headers)  # type: ignore[arg-type]
        self.headers_sent = True
        self._note_framing(self.headers.get("Content-Length"))  # type: ignore[union-attr]
        if not self.origin_server or self.client_is_modern():
            self.send_preamble()
            self._write(block)

    def _header_bytes(self) -> bytes:
        # send_headers() with the default send_preamble(), as one bytes object.
        headers = self.headers
        if (
            self._default_cleanup
            and type(headers) is Headers
            and (self.http_version != "1.1" or not self.origin_server)
        ):
            # cleanup_headers() and set_content_length() inlined, with one pass over
            # the headers instead of a case-insensitive lookup per name.
            self._chunked = self._no_body = False
            has_date = has_server = False
            length = None
            pairs = headers.items()
            for name, value in pairs:
                lower = name.lower()
                if lower == "content-length":
                    length = value
                elif lower == "date":
                    has_date = True
                elif lower == "server":
                    has_server = True
            if length is None:
                try:
                    blocks = len(self.result)  # type: ignore[arg-type]
                except (TypeError, AttributeError, NotImplementedError):
                    blocks = 0
                if blocks == 1:
                    length = str(self.bytes_sent)
                    headers.add_header("Content-Length", length)  # known to be absent
                    pairs.append(("Content-Length", length))
            block = serialize_known_good(pairs) or bytes(headers)
        else:
            self.cleanup_headers()
            headers = self.headers
            has_date = "Date" in headers  # type: ignore[operator]
            has_server = "Server" in headers  # type: ignore[operator]
            length = headers.get("Content-Length")  # type: ignore[union-attr]
            block = bytes(headers)  # type: ignore[arg-type]
        self.headers_sent = True
        self._note_framing(length)
        if not self.origin_server or self.client_is_modern():
            return self._preamble(has_date, has_server) + block
        return b""

    def _note_framing(self, length: str | None) -> None:
        # Remember how the body is delimited, for close_connection.
        if self._chunked or self._no_body or not self.origin_server:
            self._declared_length = None
        elif length is not None and length.isdigit():
            self._declared_length = int(length)
        else:
            self._declared_length = None
            self.close_connection = True  # only the end of the connection ends the body

    def result_is_file(self) -> bool:
        """True if ``self.result`` is an instance of ``self.wsgi_file_wrapper``."""
        wrapper = self.wsgi_file_wrapper
        return wrapper is not None and isinstance(self.result, wrapper)

    def client_is_modern(self) -> bool:
        """True if the client can accept a status line and headers (not HTTP/0.9)."""
        return bool(self.environ["SERVER_PROTOCOL"].upper() != "HTTP/0.9")

    def _http11_framing(self) -> bool:
        return self.http_version == "1.1" and self.origin_server

    def _client_is_http11(self) -> bool:
        return bool(self.environ.get("SERVER_PROTOCOL", "").upper() == "HTTP/1.1")

    def log_exception(self, exc_info: _OptExcInfo) -> None:
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
        if not self.headers_sent:
            self.result = self.error_output(self.environ, self.start_response)
            self.finish_response()
        else:
            # The response is cut short: the client cannot tell where it ends.
            self.close_connection = True

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
