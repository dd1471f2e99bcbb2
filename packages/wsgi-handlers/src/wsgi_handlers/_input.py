"""``BoundedInput``: ``wsgi.input`` that ends where the request body ends."""

from typing import Protocol, Self


class _BinaryReader(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...
    def readline(self, size: int = ..., /) -> bytes: ...


class BoundedInput:
    """A binary input stream that reports EOF after *length* bytes of *stream*.

    This is what a server or gateway gives an application as ``wsgi.input`` so that
    the application cannot read past the request body into the next request (or
    block waiting for bytes that never come), and so that ``read()`` without a size
    is safe (PEP 3333 lets applications rely on it only when the server says so).

    * ``BoundedInput(stream, length)``: EOF after *length* bytes (the
      ``Content-Length``), or earlier if *stream* itself ends.
    * ``BoundedInput(stream)`` or ``BoundedInput(stream, None)``: read to the end of
      *stream* (a body without a length, ``wsgi.input_terminated``).

    *stream* needs ``read(size)`` and ``readline(size)`` (any ``io.BufferedReader``,
    ``socket.makefile("rb")``, ``sys.stdin.buffer``). ``read(n)`` makes one call to
    ``stream.read`` and may return fewer bytes; ``read()``/``read(-1)``/``read(None)``
    returns everything up to the bound. ``readline(size)``, ``readlines(hint)`` and
    iteration by lines work as on ``io.BufferedReader``. The object is not
    thread-safe, like the streams it wraps.
    """

    __slots__ = ("_remaining", "_stream")

    def __init__(self, stream: _BinaryReader, length: int | None = None) -> None:
        if length is not None and length < 0:
            raise ValueError(f"length must be None or >= 0 (got {length!r})")
        self._stream = stream
        self._remaining = length

    @property
    def remaining(self) -> int | None:
        """Bytes left before EOF, or ``None`` when reading to the end of the stream."""
        return self._remaining

    def read(self, size: int | None = -1, /) -> bytes:
        """Read at most *size* bytes; all that is left when *size* is negative or None."""
        remaining = self._remaining
        if remaining is None:
            if size is None or size < 0:
                return self._read_to_eof()
            return self._stream.read(size)
        if remaining <= 0:
            return b""
        if size is None or size < 0:
            return self._read_all_remaining(remaining)
        data = self._stream.read(min(size, remaining))
        self._consumed(data, min(size, remaining))
        return data

    def readline(self, size: int | None = -1, /) -> bytes:
        """Read one line (up to and including ``b"\\n"``), at most *size* bytes."""
        remaining = self._remaining
        if remaining is None:
            return self._stream.readline(-1 if size is None else size)
        if remaining <= 0:
            return b""
        limit = remaining if size is None or size < 0 else min(size, remaining)
        data = self._stream.readline(limit)
        self._consumed(data, limit)
        return data

    def readlines(self, hint: int | None = -1, /) -> list[bytes]:
        """Read lines until EOF, or until their total size reaches *hint* (if > 0)."""
        lines: list[bytes] = []
        total = 0
        readline = self.readline
        while line := readline():
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if line:
            return line
        raise StopIteration

    def _consumed(self, data: bytes, asked: int) -> None:
        remaining = self._remaining
        if remaining is not None:
            # An empty answer to a non-empty request is EOF: the body ended early.
            self._remaining = remaining - len(data) if data or not asked else 0

    def _read_all_remaining(self, remaining: int) -> bytes:
        chunks: list[bytes] = []
        read = self._stream.read
        while remaining > 0:
            data = read(remaining)
            if not data:
                break
            chunks.append(data)
            remaining -= len(data)
        self._remaining = 0
        return b"".join(chunks)

    def _read_to_eof(self) -> bytes:
        chunks: list[bytes] = []
        read = self._stream.read
        while data := read(65536):
            chunks.append(data)
        return b"".join(chunks)
