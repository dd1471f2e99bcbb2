"""``ResponseWriter``: how one HTTP response is framed, decided in one place (sans-IO).

Every gateway that writes a response drives this one object: ``BaseHandler`` (and so
``SimpleHandler``, ``BaseCGIHandler`` and ``wsgi_cgi``) and the HTTP/1.1 engine of
``wsgi_simple_server``. It takes what the application did (the status, the headers,
the body blocks, a file to send) and returns the bytes that may go on the wire; it
never touches a socket. The rules it applies, each from its source:

* RFC 9112 section 6.3 (message body length): a declared ``Content-Length`` is a
  promise. Never more body bytes than declared (the excess is cut and reported in
  ``excess``); fewer leave the connection unusable (``close_connection``).
* RFC 9112 section 7.1: a body of unknown length to an HTTP/1.1 client is chunked;
  to an HTTP/1.0 client it ends when the connection closes.
* RFC 9110 sections 9.3.2, 15.3.5 and 15.4.5: no body for HEAD, 204 or 304; no
  ``Content-Length`` invented for HEAD; no ``Content-Length`` for 204 (section 8.6).
* RFC 9112 section 9.6: a response after which the connection closes says
  ``Connection: close``; one that keeps an HTTP/1.0 connection open says
  ``Connection: keep-alive``.
* PEP 3333: the head goes out with the first non-empty body block or the first
  ``write()``; the caller decides when, this object decides what.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable

from wsgi_handlers._checks import serialize_pairs
from wsgi_handlers._date import date_line_now_str

__all__ = [
    "CHUNKED",
    "CLOSE_DELIMITED",
    "CONTENT_LENGTH",
    "NO_BODY",
    "ResponseWriter",
    "SendfileUnsupportedError",
    "no_content_status",
    "request_keep_alive",
    "sendfile_all",
    "sendfile_source",
]

# The four ways a response body can be delimited (RFC 9112 section 6.3).
CONTENT_LENGTH = "content-length"
CHUNKED = "chunked"
NO_BODY = "no-body"
CLOSE_DELIMITED = "close-delimited"

_LAST_CHUNK = b"0\r\n\r\n"
_log = logging.getLogger("wsgi_handlers")
_is_length = re.compile(r"[0-9]+").fullmatch


def no_content_status(code: int) -> bool:
    """True for a status that never carries content: 1xx, 204 and 304 (RFC 9110 §15)."""
    return code < 200 or code in _NO_CONTENT


def request_keep_alive(request_version: str, connection: str) -> bool:
    """Whether a request lets its connection persist (RFC 9112 section 9.3).

    *connection* is the request's ``Connection`` field value (``""`` if absent):
    HTTP/1.1 persists unless it lists ``close``; HTTP/1.0 only if it lists
    ``keep-alive``; any other version never.
    """
    tokens = {token.strip().lower() for token in connection.split(",")} if connection else ()
    version = request_version.upper()
    if version == "HTTP/1.1":
        return "close" not in tokens
    return version == "HTTP/1.0" and "keep-alive" in tokens


# The file objects whose fileno() is the stream their read() gives: a GzipFile, a
# BZ2File or a user's wrapper also has a fileno(), but of the bytes under it.
_PLAIN_FILES = (io.BufferedReader, io.FileIO, io.BufferedRandom)


def sendfile_source(filelike: object) -> tuple[int, int, int] | None:
    """``(fd, offset, size)`` when *filelike* may be sent with ``os.sendfile``, else None.

    PEP 3333 says a ``wsgi.file_wrapper`` must send what ``iter(filelike.read, b"")``
    would; only a plain binary file opened on a regular file (``open(path, "rb")``)
    guarantees that its descriptor holds those bytes from ``tell()`` on. *size* is the
    file's size now; the bytes to send are ``size - offset`` at most.
    """
    if type(filelike) not in _PLAIN_FILES:
        return None
    try:
        fd = filelike.fileno()  # type: ignore[attr-defined]
        info = os.fstat(fd)
        offset = filelike.tell()  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or type(offset) is not int:
        return None
    return fd, offset, info.st_size


_SENDFILE_UNSUPPORTED = frozenset(
    getattr(errno, name)
    for name in ("EINVAL", "ENOSYS", "ENOTSUP", "EOPNOTSUPP", "ENOTSOCK")
    if hasattr(errno, name)
)


class SendfileUnsupportedError(OSError):
    """``os.sendfile`` cannot join these two files here; nothing was sent."""


def sendfile_all(
    out_fd: int, in_fd: int, offset: int, count: int, wait_writable: Callable[[], None]
) -> int:
    """Send *count* bytes of the file *in_fd* from byte *offset* to the socket *out_fd*.

    The ``os.sendfile`` loop every gateway uses: *wait_writable* is called when the
    (non-blocking) socket has no room, and should raise ``TimeoutError`` when it has
    waited too long. Return the number of bytes sent: fewer than *count* when the file
    ended first. Raise ``SendfileUnsupportedError`` when the platform cannot join the
    two files (before any byte is sent, so the caller can copy instead), or the
    ``OSError`` of a failed send.
    """
    sent = 0
    while sent < count:
        try:
            n = os.sendfile(out_fd, in_fd, offset + sent, count - sent)
        except BlockingIOError:
            wait_writable()
            continue
        except OSError as exc:
            if sent or exc.errno not in _SENDFILE_UNSUPPORTED:
                raise
            raise SendfileUnsupportedError(exc.errno, exc.strerror) from exc
        if n == 0:  # the file shrank under us
            break
        sent += n
    return sent


class ResponseWriter:
    """The framing of one response: head bytes in, body bytes out, and a verdict.

    *request_method* and *request_version* describe the request (``"HEAD"``,
    ``"HTTP/1.1"``). *response_version* is the version the status line names.
    *http11* applies the HTTP/1.1 rules above; with it false the response is framed
    as ``wsgiref`` frames it (``Content-Length`` when known, else the body ends at
    close; a body for every status), with only the ``Content-Length`` promise kept.
    *origin_server* false gives a CGI response: a ``Status:`` header, no ``Date`` or
    ``Server``, no framing of its own. *keep_alive* says whether the gateway can keep
    the connection open after this response (the request allowed it and the server
    is willing); it may be changed until the head is built.

    After the head is built, ``framing`` is one of ``CONTENT_LENGTH``, ``CHUNKED``,
    ``NO_BODY`` and ``CLOSE_DELIMITED``; ``content_length`` is the declared length
    (or ``None``); ``body_sent`` counts payload bytes accepted; ``excess`` counts
    payload bytes cut because they went past ``Content-Length``;
    ``close_connection`` says the connection cannot carry another response.
    """

    # What a response starts as; set per instance as it goes (few are set up front,
    # as every request makes one of these).
    status_code = 0
    framing = CLOSE_DELIMITED
    content_length: int | None = None
    body_sent = 0
    excess = 0
    close_connection = False
    state = 0  # _NEW

    def __init__(  # noqa: PLR0917 - positional too: one is made per request, keywords cost
        self,
        request_method: str = "GET",
        request_version: str = "HTTP/1.1",
        response_version: str = "HTTP/1.1",
        http11: bool = True,
        origin_server: bool = True,
        keep_alive: bool = True,
    ) -> None:
        self.request_method = request_method
        self.request_http11 = request_version == "HTTP/1.1" or request_version.upper() == "HTTP/1.1"
        self.response_version = response_version
        self.http11 = http11 = http11 and origin_server
        self.origin_server = origin_server
        self.keep_alive = keep_alive
        self.head_only = http11 and request_method == "HEAD"

    # -- the head ---------------------------------------------------------------------

    def length_may_be_computed(self, status: str, length: int) -> bool:
        """Whether a gateway may add a ``Content-Length`` of *length* it computed.

        Under the HTTP/1.1 rules: never for 1xx, 204 and 304 (no content), and for
        HEAD only a length measured on a body the application produced (not 0: an
        empty result to HEAD says nothing of what GET would send).
        """
        if not self.http11:
            return True
        if no_content_status(int(status[:3])):
            return False
        return not self.head_only or length > 0

    def decide(
        self, status: str, headers: Iterable[tuple[str, str]], length: int | None = None
    ) -> tuple[frozenset[str], list[tuple[str, str]]]:
        """Decide the framing of a response with *status* and *headers*.

        *length* is a body length the gateway knows (a one-block body, a file), used
        where the headers declare none and ``length_may_be_computed`` allows it.
        Return the lower-cased names to leave out of the head and the fields to add
        at its end. Raise ``ValueError`` for a 1xx final status or a
        ``Content-Length`` that is not one non-negative integer (RFC 9110 §8.6);
        nothing is decided then, so the gateway can still send an error page.
        """
        declared: int | None = None
        for name, value in headers:
            if len(name) == 14 and name.lower() == "content-length":
                declared = _declared_length(value, declared)
        return self._decide(status, declared, length)

    def _decide(  # noqa: PLR0912 - the framing rules together, on every response's path
        self, status: str, declared: int | None, length: int | None
    ) -> tuple[frozenset[str], list[tuple[str, str]]]:
        # The rules of the class docstring; the hot path of every response.
        if self.state:
            raise RuntimeError("the head of this response was already built")
        code = _STATUS_CODES.get(status[:3], 0)
        if code < 200:
            raise ValueError(
                f"invalid final status {status!r}: a 1xx status is interim, and WSGI "
                "has no way to send one (RFC 9110 section 15.2)"
                if code
                else f"invalid status {status!r}: the status code is three digits from "
                "100 to 599 (RFC 9110 section 15)"
            )
        drop = _NOTHING
        extra: list[tuple[str, str]] = []
        http11 = self.http11
        close = False
        if length is not None:
            if length < 0:
                raise ValueError(f"a body length cannot be negative (got {length})")
            # A body known to be longer than its Content-Length will be cut: say so now.
            close = declared is not None and length > declared
        if http11 and (self.head_only or code in _NO_CONTENT):
            framing = NO_BODY
            if code == 204:
                drop = _NO_FRAMING_FIELDS  # RFC 9110 section 8.6: never for a 204
                declared = None
                close = False
            elif declared is None and length and code != 304:
                extra.append(("Content-Length", str(length)))  # HEAD: what GET sends
            close = False  # nothing of the body goes out, so nothing is cut
        elif declared is not None:
            framing = CONTENT_LENGTH
        elif length is not None:
            framing = CONTENT_LENGTH
            declared = length
            extra.append(("Content-Length", str(length)))
        elif http11 and self.request_http11:
            framing = CHUNKED
            extra.append(("Transfer-Encoding", "chunked"))
        else:
            framing = CLOSE_DELIMITED
            close = True
        if http11:
            # Without the HTTP/1.1 rules persistence is the gateway's business (wsgiref).
            close = close or not self.keep_alive
            if close is self.request_http11:
                # RFC 9112 section 9.3: say what differs from the version's default.
                extra.append(("Connection", "close" if close else "keep-alive"))
        self.status_code = code
        self.framing = framing
        self.content_length = declared
        self.close_connection = close
        self.body_sent = self.excess = 0
        self.state = _STARTED
        return drop, extra

    def unframed(self) -> None:
        """Start a body whose head the gateway wrote without ``decide``: its bytes go
        out as given, and the connection ends with it (the framing is unknown)."""
        if self.state != _NEW:
            raise RuntimeError("the head of this response was already built")
        self.framing = CLOSE_DELIMITED
        self.content_length = None
        self.close_connection = True
        self.state = _STARTED

    @property
    def started(self) -> bool:
        """Whether the head was built (and the body may go out)."""
        return self.state == _STARTED

    def status_line(self, status: str, *, date: bool, server_software: str | None) -> bytes:
        """The lines before the header fields: status line, then ``Date`` and
        ``Server`` when wanted (``Status:`` alone for a CGI response)."""
        return "".join(self._preamble(status, date, server_software)).encode("iso-8859-1")

    def _preamble(self, status: str, date: bool, server_software: str | None) -> list[str]:
        # The status line (or CGI Status field), Date and Server, as the head begins.
        if not self.origin_server:
            return [f"Status: {status}\r\n"]
        parts = [f"{self.response_version} {status}\r\n"]
        if date:
            parts.append(date_line_now_str())
        if server_software:
            parts.append(f"Server: {server_software}\r\n")
        return parts

    def head(
        self,
        status: str,
        headers: list[tuple[str, str]],
        length: int | None = None,
        server_software: str | None = None,
    ) -> bytes:
        """Decide the framing (``decide``) and return the whole head, blank line included.

        ``Date`` and ``Server`` are added when the headers hold none (``Server`` only
        with *server_software*). Every pair is checked before anything is returned:
        a name that is not a token, a value with a control character or text that is
        not ISO-8859-1 raises ``ValueError`` (``AssertionError`` for a non-``str``).
        """
        try:
            fields = _known_fields.get(tuple(headers))
        except TypeError:  # an unhashable pair: the full check below says what is wrong
            fields = None
        if fields is None:
            fields = _fields(headers)
        block, declared, has_date, has_server = fields
        drop, extra = self._decide(status, declared, length)
        if drop:
            block = serialize_pairs([pair for pair in headers if pair[0].lower() not in drop])
        parts = self._preamble(status, not has_date, None if has_server else server_software)
        parts.append(block)
        for name, value in extra:
            parts.append(f"{name}: {value}\r\n")
        parts.append("\r\n")
        return "".join(parts).encode("iso-8859-1")

    def whole(
        self,
        status: str,
        headers: list[tuple[str, str]],
        data: bytes,
        server_software: str | None = None,
    ) -> tuple[bytes, bytes]:
        """A response whose body is the one block *data*: ``(head, body bytes)``, ended.

        The same as ``head(status, headers, len(data))``, ``body(data)`` and ``end()``
        (the commonest response, in one call).
        """
        size = len(data)
        head = self.head(status, headers, size, server_software)
        if self.framing == CONTENT_LENGTH and size == self.content_length:
            # The commonest case of all: the body is exactly what the head says.
            self.body_sent = size
            self.state = _ENDED
            return head, data
        out = self.body(data)
        self.end()
        return head, out

    # -- the body ---------------------------------------------------------------------

    def body(self, data: bytes) -> bytes:
        """Return the wire bytes for the body block *data* (possibly ``b""``).

        Past a declared ``Content-Length`` the rest is cut: ``excess`` grows and
        ``close_connection`` becomes true; the gateway should then stop the
        application (close its iterable) and report the error.
        """
        if self.state != _STARTED:
            raise RuntimeError(_OUT_OF_ORDER)
        size = len(data)
        framing = self.framing
        if framing == CONTENT_LENGTH:
            room = self.content_length - self.body_sent  # type: ignore[operator]
            if size > room:
                self.excess += size - room
                self.close_connection = True
                data = data[:room]
                size = room
            self.body_sent += size
            return data
        self.body_sent += size
        if framing == CHUNKED:
            # An empty chunk would end the body: nothing goes out for it.
            return b"%X\r\n%b\r\n" % (size, data) if size else b""
        if framing == NO_BODY:
            return b""
        return data

    def file_count(self, size: int) -> int:
        """How many bytes of a file of *size* bytes may go out as the body as is.

        For ``os.sendfile``: 0 when no body is sent, at most what a declared
        ``Content-Length`` leaves room for; the rest counts as ``excess``, as it
        would through ``body()``. Raises ``ValueError`` for a chunked body, whose
        bytes cannot go out raw.
        """
        if self.state != _STARTED:
            raise RuntimeError(_OUT_OF_ORDER)
        framing = self.framing
        if framing == CHUNKED:
            raise ValueError("a chunked body cannot be sent as raw file bytes")
        if framing == NO_BODY:
            return 0
        if framing == CONTENT_LENGTH:
            room = max(self.content_length - self.body_sent, 0)  # type: ignore[operator]
            if size > room:
                self.excess += size - room
                self.close_connection = True
                return room
        return size

    def file_sent(self, count: int) -> None:
        """Count *count* body bytes the gateway sent itself (``os.sendfile``)."""
        self.body_sent += count

    def end(self) -> bytes:
        """Return the bytes that end the body (the last chunk, or ``b""``).

        A body shorter than its declared ``Content-Length`` leaves
        ``close_connection`` true (``shortfall`` says by how much) and is logged as a
        warning on the ``wsgi_handlers`` logger.
        """
        if self.state != _STARTED:
            raise RuntimeError(_OUT_OF_ORDER)
        self.state = _ENDED
        if self.framing == CHUNKED:
            return _LAST_CHUNK
        if shortfall := self.shortfall:
            self.close_connection = True
            _log.warning(
                "%s response: the application sent %d bytes fewer than its "
                "Content-Length of %s; the connection is closed (RFC 9112 section 6.3)",
                self.request_method,
                shortfall,
                self.content_length,
            )
        return b""

    @property
    def shortfall(self) -> int:
        """Declared ``Content-Length`` minus the payload bytes sent (0 if none declared)."""
        if self.framing != CONTENT_LENGTH:
            return 0
        return max(self.content_length - self.body_sent, 0)  # type: ignore[operator]

    def excess_error(self) -> ValueError:
        """The error to raise (and log) for a body that went past its ``Content-Length``."""
        return ValueError(
            f"the application sent more than its Content-Length of {self.content_length} "
            f"bytes; {self.excess} bytes were not sent and the connection is closed "
            "(RFC 9112 section 6.3)"
        )


_NO_FRAMING_FIELDS = frozenset({"content-length", "transfer-encoding"})
# The life of a response: nothing sent, head built (body may go out), ended.
_NEW, _STARTED, _ENDED = 0, 1, 2
# The status codes a response may have (RFC 9110 section 15), by their three digits.
_STATUS_CODES = {str(code): code for code in range(100, 600)}
_OUT_OF_ORDER = "body bytes are framed only between head() (or decide()) and end()"
_NOTHING: frozenset[str] = frozenset()
_NO_CONTENT = frozenset({204, 304})  # 1xx never reaches the framing: it is refused


# Header lists already checked, by their content: (the fields as they go on the wire,
# the declared Content-Length, whether Date and whether Server are among them).
# Applications send the same few lists again and again; bounded, and a new generation
# starts when it is full.
_known_fields: dict[tuple[tuple[str, str], ...], tuple[str, int | None, bool, bool]] = {}
_MAX_KNOWN_FIELDS = 1024


def _fields(headers: list[tuple[str, str]]) -> tuple[str, int | None, bool, bool]:
    # Check every field (raising the precise error) and remember the list.
    block = serialize_pairs(headers)
    has_date = has_server = False
    declared: int | None = None
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            declared = _declared_length(value, declared)
        elif lower == "date":
            has_date = True
        elif lower == "server":
            has_server = True
    fields = (block, declared, has_date, has_server)
    key = tuple(headers)  # hashable now: serialize_pairs checked every pair
    if len(_known_fields) >= _MAX_KNOWN_FIELDS:
        _known_fields.clear()
    _known_fields[key] = fields
    return fields


def _declared_length(value: str, earlier: int | None) -> int:
    # RFC 9110 section 8.6: Content-Length = 1*DIGIT; repeated, the values must agree.
    if _is_length(value) is None:
        raise ValueError(
            f"invalid Content-Length {value!r}: it must be a non-negative integer "
            "(RFC 9110 section 8.6)"
        )
    length = int(value)
    if earlier is not None and earlier != length:
        raise ValueError(
            f"conflicting Content-Length values {earlier} and {length} (RFC 9110 section 8.6)"
        )
    return length
