"""``SimpleHandler`` and ``BaseCGIHandler``: a handler over a given set of streams."""

import os
import select
import stat
import warnings
from collections.abc import MutableMapping
from typing import Protocol

from wsgi_util.types import ErrorStream, InputStream

from wsgi_handlers._base import BaseHandler
from wsgi_handlers._response import (
    CHUNKED,
    SendfileUnsupportedError,
    sendfile_all,
    sendfile_source,
)

_HAS_SENDFILE = hasattr(os, "sendfile") and hasattr(select, "poll")


class _Output(Protocol):
    def write(self, data: bytes, /) -> int | None: ...
    def flush(self) -> object: ...


class SimpleHandler(BaseHandler):
    """Handler initialized with streams and an environ (``wsgiref.handlers.SimpleHandler``).

    Meant for synchronous origin servers; it sends the whole response. Usage::

        handler = SimpleHandler(inp, out, err, env, multithread=False, multiprocess=True)
        handler.run(app)

    ``stdout.write()`` should write each chunk in full, like ``io.BufferedIOBase``;
    a partial write is retried until complete (with the stdlib's
    ``DeprecationWarning``). When the application returns a ``wsgi.file_wrapper``
    over a regular file and ``stdout`` is a socket, the file is sent with
    ``os.sendfile`` (``Content-Length`` from ``os.fstat`` when the application set
    none); anything else goes the ordinary read-and-write way.

    Types: as typeshed's ``wsgiref`` stubs, except that *stdout* may be any object
    with ``write(bytes)`` and ``flush()`` (typeshed asks for ``IO[bytes]``, which
    refuses the ``BufferedIOBase`` of ``StreamRequestHandler.wfile``); the ``stdout``
    attribute has that wider type, so code calling other file methods on it
    (``fileno()``) checks for them first.
    """

    sendfile_timeout_s: float | None = 60.0
    """How long ``sendfile()`` waits for a non-blocking socket to become writable."""

    def __init__(  # noqa: PLR0917 - the stdlib's signature
        self,
        stdin: InputStream,
        stdout: _Output,
        stderr: ErrorStream,
        environ: MutableMapping[str, str],
        multithread: bool = True,
        multiprocess: bool = False,
    ) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.base_env = environ
        self.wsgi_multithread = multithread
        self.wsgi_multiprocess = multiprocess

    def get_stdin(self) -> InputStream:
        """Return the ``stdin`` given to the constructor."""
        return self.stdin

    def get_stderr(self) -> ErrorStream:
        """Return the ``stderr`` given to the constructor."""
        return self.stderr

    def add_cgi_vars(self) -> None:
        """Add the ``environ`` given to the constructor."""
        self.environ.update(self.base_env)

    def _write(self, data: bytes) -> None:
        result = self.stdout.write(data)
        if result is None or result == len(data):
            return
        warnings.warn(
            "SimpleHandler.stdout.write() should not do partial writes",
            DeprecationWarning,
            stacklevel=1,
        )
        while True:
            data = data[result:]
            if not data:
                break
            result = self.stdout.write(data)
            if result is None:
                break

    def _flush(self) -> None:
        self.stdout.flush()
        self._flush = self.stdout.flush  # type: ignore[method-assign, assignment]

    def sendfile(self) -> bool:
        """Send a ``wsgi.file_wrapper`` over a plain file with ``os.sendfile``.

        Returns False (and changes nothing) unless the wrapped object is a plain
        binary file on a regular file (``sendfile_source``: not a ``GzipFile`` or any
        other object whose ``fileno()`` is not what its ``read()`` gives) and
        ``stdout`` has the ``fileno()`` of a socket, or the body is already chunked.
        The head gets the file's length as ``Content-Length`` where the response
        writer allows one; never more than a declared ``Content-Length`` is sent.
        ``bytes_sent`` is the number of bytes the kernel sent.
        """
        if not _HAS_SENDFILE or not self.status:
            return False
        source = self._file_source  # taken by finish_response, or now for a direct call
        if source is None:
            source = sendfile_source(getattr(self.result, "filelike", None))
        out_fd = self._socket_fd()
        writer = self._writer()
        if source is None or out_fd is None or (self.headers_sent and writer.framing == CHUNKED):
            return False
        in_fd, offset, size = source
        count = max(size - offset, 0)
        if not self.headers_sent:
            if self._default_send_headers:
                head = self._header_bytes(count)
                if head:
                    self._write(head)
            else:
                headers = self.headers
                if (
                    headers is not None
                    and "Content-Length" not in headers
                    and writer.length_may_be_computed(self.status, count)
                ):
                    headers["Content-Length"] = str(count)
                self.send_headers()
        writer = self._body_writer()
        if writer.framing == CHUNKED:  # a subclass's headers chose chunking
            return False
        count = writer.file_count(count)
        if count:
            self._flush()
            try:
                writer.file_sent(self._send_file(out_fd, in_fd, offset, count))
            except SendfileUnsupportedError:
                return False  # the head is out; the file goes the read() way

        self._after_body(writer)
        return True

    def _socket_fd(self) -> int | None:
        # The descriptor of stdout when it is a socket, else None.
        try:
            out_fd: int = self.stdout.fileno()  # type: ignore[attr-defined]
            return out_fd if stat.S_ISSOCK(os.fstat(out_fd).st_mode) else None
        except (AttributeError, OSError, ValueError):
            return None

    def _send_file(self, out_fd: int, in_fd: int, offset: int, count: int) -> int:
        poller: select.poll | None = None

        def wait_writable() -> None:
            # A socket with a timeout is non-blocking underneath: wait for room.
            nonlocal poller
            if poller is None:
                poller = select.poll()
                poller.register(out_fd, select.POLLOUT)
            timeout = self.sendfile_timeout_s
            if not poller.poll(None if timeout is None else timeout * 1000):
                raise TimeoutError(f"sendfile: socket not writable for {timeout} s")

        return sendfile_all(out_fd, in_fd, offset, count, wait_writable)


class BaseCGIHandler(SimpleHandler):
    """CGI-like systems using input/output/error streams and an environ mapping.

    Usage::

        handler = BaseCGIHandler(inp, out, err, env)
        handler.run(app)

    For gateway protocols like ReadyExec and FastCGI, and the base of
    ``wsgi_cgi.CGIHandler``. ``origin_server`` is False, so the status goes out as
    a ``Status:`` header; ``wsgi.run_once`` is False.
    """

    origin_server = False
