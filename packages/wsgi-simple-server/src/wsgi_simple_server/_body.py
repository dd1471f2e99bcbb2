"""Request bodies as ``wsgi.input``: framed by Content-Length or by the chunked coding.

Both readers take their bytes from a ``Source`` (the connection, or a test double) and
stop exactly at the end of the body, so the bytes of a pipelined next request are
never handed to the application. ``read()`` without a size reads to the end of the
body; a body that breaks its framing or a limit raises ``BodyError`` with the status
the server answers with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

from wsgi_simple_server import _abnf

_MAX_CHUNK_LINE = 4096
_MAX_CHUNK_SIZE_DIGITS = 16
_MAX_TRAILER_BYTES = 8192
_BLOCK = 65536


class Source(Protocol):
    """Where a body reader takes its bytes from."""

    def read_some(self, size: int) -> bytes:
        """Return between 1 and *size* bytes, or ``b""`` at the end of the stream."""
        ...

    def read_line(self, limit: int) -> bytes:
        """Return one line with its ending (``b""`` at the end); at most *limit* bytes."""
        ...


class BodyError(Exception):
    """A request body that breaks its framing or a limit; ``status`` is the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class IncompleteBodyError(ConnectionError):
    """The client closed the connection before the end of the body it announced."""


class BodyInput:
    """The common reading methods of ``wsgi.input`` (PEP 3333) over ``_raw_read``."""

    _buffer: bytes
    _done: bool

    def __init__(self, on_first_read: Callable[[], None] | None = None) -> None:
        self._buffer = b""
        self._done = False
        self._on_first_read = on_first_read
        self.bytes_read = 0

    def _raw_read(self, size: int) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def _fill(self, size: int) -> bytes:
        if self._on_first_read is not None:
            callback, self._on_first_read = self._on_first_read, None
            callback()
        if self._done:
            return b""
        data = self._raw_read(size)
        if not data:
            self._done = True
        self.bytes_read += len(data)
        return data

    @property
    def finished(self) -> bool:
        """Whether the whole body has been read from the connection."""
        return self._done

    def read(self, size: int | None = -1) -> bytes:
        """Read *size* bytes (fewer only at the end of the body); all that is left when -1."""
        if size is None or size < 0:
            chunks = [self._buffer]
            self._buffer = b""
            while data := self._fill(_BLOCK):
                chunks.append(data)
            return b"".join(chunks)
        # As a buffered file does (and frameworks count on it): *size* bytes unless the
        # body ends first, however the client split them.
        buf = self._buffer
        if len(buf) >= size:
            self._buffer = buf[size:]
            return buf[:size]
        chunks = [buf]
        have = len(buf)
        self._buffer = b""
        while have < size and (data := self._fill(size - have)):
            chunks.append(data)
            have += len(data)
        return b"".join(chunks)

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, through its ``\\n``, or at most *size* bytes of it."""
        limit = -1 if size is None else size
        buf = self._buffer
        while True:
            end = buf.find(b"\n")
            if end >= 0 and (limit < 0 or end < limit):
                self._buffer = buf[end + 1 :]
                return buf[: end + 1]
            if 0 <= limit <= len(buf):
                self._buffer = buf[limit:]
                return buf[:limit]
            data = self._fill(_BLOCK)
            if not data:
                self._buffer = b""
                return buf
            buf += data

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Read lines until the end of the body, or until *hint* bytes are read."""
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        """Yield the body line by line."""
        while line := self.readline():
            yield line

    def too_long_to_drain(self, limit: int) -> bool:
        """Whether more than *limit* body bytes are known to be left on the connection."""
        return False

    def drain(self, limit: int) -> bool:
        """Read and drop the unread rest, up to *limit* bytes; say whether it all went."""
        if self.too_long_to_drain(limit):
            return False  # known at once: no worker waits for bytes that are dropped
        self._buffer = b""
        total = 0
        while total <= limit:
            data = self._fill(_BLOCK)
            if not data:
                return True
            total += len(data)
        return False


class ContentLengthInput(BodyInput):
    """A body of exactly *length* bytes."""

    def __init__(
        self, source: Source, length: int, on_first_read: Callable[[], None] | None = None
    ) -> None:
        super().__init__(on_first_read)
        self._source = source
        self._remaining = length
        if length == 0:
            self._done = True

    def too_long_to_drain(self, limit: int) -> bool:
        """Whether more than *limit* body bytes are left on the connection."""
        return self._remaining > limit

    def _raw_read(self, size: int) -> bytes:
        if self._remaining <= 0:
            return b""
        data = self._source.read_some(min(size, self._remaining))
        if not data:
            raise IncompleteBodyError(f"connection closed with {self._remaining} body bytes unread")
        self._remaining -= len(data)
        return data


class ChunkedInput(BodyInput):
    """A body in the chunked transfer coding (RFC 9112 section 7.1), decoded."""

    def __init__(
        self,
        source: Source,
        max_body_bytes: int,
        on_first_read: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(on_first_read)
        self._source = source
        self._chunk_left = 0
        self._max = max_body_bytes
        self._total = 0

    def _line(self, limit: int) -> bytes:
        line = self._source.read_line(limit)
        if not line:
            raise IncompleteBodyError("connection closed inside a chunked body")
        if not line.endswith(b"\r\n") or b"\n" in line[:-1] or b"\r" in line[:-2]:
            raise BodyError(400, "Bad Request (invalid chunk framing)")
        return line[:-2]

    def _raw_read(self, size: int) -> bytes:
        if self._chunk_left == 0:
            m = _abnf.chunk_size_line_re.fullmatch(self._line(_MAX_CHUNK_LINE))
            # chunk-size = 1*HEXDIG, compared by value: leading zeros do not count, and
            # more than 16 digits after them (2**64 bytes and up) is refused unconverted.
            digits = b"" if m is None else m["size"].lstrip(b"0")
            if m is None or len(digits) > _MAX_CHUNK_SIZE_DIGITS:
                raise BodyError(400, "Bad Request (invalid chunk size)")
            chunk = int(digits, 16) if digits else 0
            if chunk == 0:
                self._read_trailers()
                return b""
            self._total += chunk
            if self._total > self._max:
                raise BodyError(413, "Request Entity Too Large")
            self._chunk_left = chunk
        data = self._source.read_some(min(size, self._chunk_left))
        if not data:
            raise IncompleteBodyError("connection closed inside a chunk")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and self._line(2) != b"":
            raise BodyError(400, "Bad Request (chunk data longer than its size)")
        return data

    def _read_trailers(self) -> None:
        # Trailer fields are read and checked, then dropped: WSGI has no place for them.
        total = 0
        while line := self._line(_MAX_TRAILER_BYTES):
            total += len(line) + 2
            if total > _MAX_TRAILER_BYTES or _abnf.field_line_re.fullmatch(line) is None:
                raise BodyError(400, "Bad Request (invalid trailer section)")
