"""The objects the validator puts between the server and the application.

Same classes, constructors, attributes and messages as ``wsgiref.validate``. Built by
``validator()`` they also carry the request's ``_Exchange`` (``_exchange``), which
adds the checks that need the whole request: reading past CONTENT_LENGTH, the body
length against Content-Length, bodies where none is allowed.
"""

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from wsgi_util.types import ErrorStream, InputStream

from wsgi_validate._context import STDLIB_EXCHANGE, _Exchange


class InputWrapper:
    """Wraps ``wsgi.input``: read methods take at most one argument, return bytes.

    As in ``wsgiref``, the read methods take their argument positionally only (they
    count their arguments): ``read(size=n)`` raises ``TypeError``, which typeshed's
    stub does not say; ``readlines`` returns ``list[bytes]`` (typeshed: ``bytes``).
    """

    _exchange: _Exchange = STDLIB_EXCHANGE

    def __init__(self, wsgi_input: InputStream) -> None:
        """Wrap the server's *wsgi_input* stream."""
        self.input = wsgi_input

    def _check_size(self, args: tuple[Any, ...], ex: _Exchange, *, cap: bool = False) -> None:
        """Fail when the size in *args* asks for more than CONTENT_LENGTH has left.

        With *cap* (``readline``) the size is a limit, not a demand: the line ends at
        its newline, so only a size when nothing is left reads past the body (the
        stdlib's ``cgi.FieldStorage`` reads a multipart body with ``readline(65536)``).
        """
        left = ex.input_left
        if left is not None and args:
            size = args[0]
            if type(size) is int and size > left and (left == 0 or not cap):
                ex.fail("input-past-content-length", size, left)

    def read(self, *args: Any) -> bytes:
        """Read from the stream; exactly one argument (the size) unless relaxed."""
        ex = self._exchange
        if len(args) != 1:
            if args:
                ex.fail("input-arguments")
            elif ex.policy.strict:
                ex.fail("input-read-size")
        if ex.input_left is not None:
            self._check_size(args, ex)
        v = self.input.read(*args)
        if type(v) is not bytes:
            ex.fail("input-return-type")
        else:
            if args:
                _check_read(v, args[0], "read", ex)
            if ex.input_left is not None:
                ex.input_left = max(ex.input_left - len(v), 0)
        return v

    def readline(self, *args: Any) -> bytes:
        """Read one line; at most one argument (the size limit)."""
        ex = self._exchange
        if len(args) > 1:
            ex.fail("input-arguments")
        if ex.input_left is not None:
            self._check_size(args, ex, cap=True)
        v = self.input.readline(*args)
        if type(v) is not bytes:
            ex.fail("input-return-type")
        else:
            _check_read(v, args[0] if args else None, "readline", ex)
            if ex.input_left is not None:
                ex.input_left = max(ex.input_left - len(v), 0)
        return v

    def readlines(self, *args: Any) -> list[bytes]:
        """Read every line; at most one argument (the hint)."""
        ex = self._exchange
        if len(args) > 1:
            ex.fail("input-arguments")
        lines = self.input.readlines(*args)
        if type(lines) is not list:
            ex.fail("input-return-type")
            return lines
        for line in lines:
            if type(line) is not bytes:
                ex.fail("input-return-type")
            elif ex.input_left is not None:
                ex.input_left = max(ex.input_left - len(line), 0)
        return lines

    def __iter__(self) -> Iterator[bytes]:
        """Iterate over the lines, through ``readline()``."""
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self) -> None:
        """Fail: the application must not close ``wsgi.input``.

        Returns (typeshed: never) when a ``report`` records the failure.
        """
        self._exchange.fail("input-close")

    def __getattr__(self, name: str) -> Any:
        """Fail: PEP 3333 allows only read, readline, readlines and ``__iter__``.

        In report mode the attribute of the wrapped stream is returned after the
        violation is recorded.
        """
        _refuse_special(name, "input")
        try:
            self._exchange.fail("input-other-attribute", name)
        except AssertionError as exc:  # hasattr() and getattr(..., default) say no
            raise StreamAttributeError(*exc.args) from None
        return getattr(self.input, name)


def _check_read(data: bytes, size: object, method: str, ex: _Exchange) -> None:
    """The Library Reference's semantics PEP 3333 points to: ``read(n)`` and
    ``readline(n)`` return at most n bytes, ``readline`` at most one line."""
    if type(size) is int and 0 <= size < len(data):
        ex.fail("input-read-semantics", method, size, f"{len(data)} bytes")
    elif method == "readline" and 0 <= data.find(b"\n") < len(data) - 1:
        ex.fail("input-read-semantics", method, "" if size is None else size, f"{data!r}")


class ErrorWrapper:
    """Wraps ``wsgi.errors``: writes take str; the application never closes it."""

    _exchange: _Exchange = STDLIB_EXCHANGE

    def __init__(self, wsgi_errors: ErrorStream) -> None:
        """Wrap the server's *wsgi_errors* stream."""
        self.errors = wsgi_errors

    def write(self, s: Any) -> None:
        """Write *s*, which must be a ``str``."""
        if type(s) is not str:
            self._exchange.fail("errors-write-type")
        self.errors.write(s)

    def flush(self) -> None:
        """Flush the stream."""
        self.errors.flush()

    def writelines(self, seq: Iterable[Any]) -> None:
        """Write each item of *seq* through ``write()``."""
        for line in seq:
            self.write(line)

    def close(self) -> None:
        """Fail: the application must not close ``wsgi.errors``.

        Returns (typeshed: never) when a ``report`` records the failure.
        """
        self._exchange.fail("errors-close")

    def __getattr__(self, name: str) -> Any:
        """Fail: PEP 3333 allows only write, writelines and flush.

        In report mode the attribute of the wrapped stream is returned after the
        violation is recorded.
        """
        _refuse_special(name, "errors")
        try:
            self._exchange.fail("errors-other-attribute", name)
        except AssertionError as exc:  # hasattr() and getattr(..., default) say no
            raise StreamAttributeError(*exc.args) from None
        return getattr(self.errors, name)


class StreamAttributeError(AssertionError, AttributeError):
    """A stream attribute PEP 3333 does not give the application, used in raise mode.

    An ``AssertionError`` like every failed check, and an ``AttributeError`` too, so
    that ``hasattr(stream, name)`` and ``getattr(stream, name, default)`` answer as
    they do under ``wsgiref.validate`` (whose wrappers have no such attribute): a
    framework that probes a stream keeps working, a use of the attribute fails.
    """


def _refuse_special(name: str, stream_attribute: str) -> None:
    # Special names are Python's protocols (copy, pickle, ...), not stream methods;
    # the wrapped stream's own attribute is missing only before __init__ has run.
    if name.startswith("__") or name == stream_attribute:
        raise AttributeError(name)


class WriteWrapper:
    """Wraps the ``write()`` callable ``start_response`` returns: it takes bytes."""

    _exchange: _Exchange = STDLIB_EXCHANGE

    def __init__(self, wsgi_writer: Callable[[bytes], object]) -> None:
        """Wrap the server's *wsgi_writer* (its return value is unused: ``object``,
        where typeshed says ``Any``)."""
        self.writer = wsgi_writer

    def __call__(self, s: bytes) -> None:
        """Check and write *s*; a ``write()`` call sends the headers (PEP 3333)."""
        ex = self._exchange
        if ex.returned:
            ex.fail("write-from-iterable")
        if type(s) is not bytes:
            ex.fail("write-type")
        elif s:
            ex.on_body(len(s))
        else:
            ex.headers_sent = True
        self.writer(s)


class PartialIteratorWrapper:
    """Wraps an iterable so that ``__iter__`` has to be called on it.

    ``iterator`` is the iterable given (typeshed: an ``Iterator[bytes]``).
    """

    def __init__(self, wsgi_iterator: Iterable[bytes]) -> None:
        """Wrap *wsgi_iterator*."""
        self.iterator = wsgi_iterator

    def __iter__(self) -> "IteratorWrapper":
        """Return an ``IteratorWrapper`` over the wrapped iterable."""
        # We want to make sure __iter__ is called
        return IteratorWrapper(self.iterator, None)


class IteratorWrapper:
    """Wraps the application's iterable: bytes items, start_response first, closed."""

    _exchange: _Exchange = STDLIB_EXCHANGE

    def __init__(self, wsgi_iterator: Iterable[bytes], check_start_response: object) -> None:
        """Wrap *wsgi_iterator*; *check_start_response* is falsy until it is called.

        Pass None for *check_start_response* to skip that check. ``original_iterator``
        is the application's iterable as given (typeshed: an ``Iterator[bytes]``), and
        *check_start_response* anything tested for truth, as the list that
        ``start_response`` appends to (typeshed: ``bool | None``).
        """
        self.closed = False  # first, so that __del__ works if iter() fails
        self.original_iterator = wsgi_iterator
        self.iterator = iter(wsgi_iterator)
        self.check_start_response = check_start_response

    def __iter__(self) -> "IteratorWrapper":
        """Return self."""
        return self

    def __next__(self) -> bytes:
        """Return the application's next body bytes, checked."""
        ex = self._exchange
        if self.closed:
            ex.fail("iterator-read-after-close")
        try:
            v = next(self.iterator)
        except StopIteration:
            if ex.reraised:
                ex.on_trapped()
            ex.on_body_end()
            raise
        ex.items_yielded += 1
        if type(v) is not bytes:
            ex.fail("iterator-item-type", v)
        if self.check_start_response is not None:
            if not self.check_start_response:
                ex.fail("iterator-before-start-response")
            self.check_start_response = None
        if ex.reraised:
            ex.on_trapped()
        if v and type(v) is bytes:
            ex.on_body(len(v))
        return v

    def close(self) -> None:
        """Close the iterator, and the application's iterable if it can be."""
        self.closed = True
        if hasattr(self.original_iterator, "close"):
            self.original_iterator.close()

    def __del__(self) -> None:
        """Fail if the server never closed the iterator (printed, it cannot raise)."""
        if self.closed:
            return
        ex = self._exchange
        policy = ex.policy
        if not policy.strict and not hasattr(self.original_iterator, "close"):
            return  # PEP 3333 asks for close() only when the iterable has one
        if policy.raises("iterator-not-closed"):
            sys.stderr.write("Iterator garbage collected without being closed")
        ex.fail("iterator-not-closed")


class _FileWrapperCheck:
    """Stands for the server's ``wsgi.file_wrapper``: checks the call and its result
    (PEP 3333 §Optional Platform-Specific File Handling) and returns that result."""

    __slots__ = ("_exchange", "file_wrapper")

    def __init__(self, file_wrapper: Callable[..., Any], exchange: _Exchange) -> None:
        self.file_wrapper = file_wrapper
        self._exchange = exchange

    def __call__(self, filelike: Any, *args: Any) -> Any:
        """Wrap *filelike* with the server's file wrapper, checking both sides."""
        ex = self._exchange
        if not hasattr(filelike, "read"):
            ex.fail("file-wrapper-filelike", filelike)
        result = self.file_wrapper(filelike, *args)
        kind = type(result)
        if not (hasattr(kind, "__iter__") or hasattr(kind, "__getitem__")):
            ex.fail("file-wrapper-return", result, "it must return an iterable object")
        elif hasattr(filelike, "close") and not hasattr(result, "close"):
            ex.fail(
                "file-wrapper-return",
                result,
                "the file-like object has a close() method, so the iterable must have "
                "a close() method that invokes it",
            )
        ex.file_wrapped = result
        return result

    # Servers test a response with isinstance(result, environ["wsgi.file_wrapper"])
    # (gunicorn's workers do): answered for the server's own wrapper, never a TypeError.
    def __instancecheck__(self, instance: object) -> bool:
        """Whether *instance* is an instance of the server's file wrapper class."""
        kind = self.file_wrapper
        return isinstance(kind, type) and isinstance(instance, kind)

    def __subclasscheck__(self, subclass: type) -> bool:
        """Whether *subclass* is a subclass of the server's file wrapper class."""
        kind = self.file_wrapper
        return isinstance(kind, type) and issubclass(subclass, kind)
