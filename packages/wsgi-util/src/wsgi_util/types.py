"""The PEP 3333 interfaces as static types, shaped exactly like ``wsgiref.types``.

Annotate an application as ``WSGIApplication`` and mypy refuses one that returns
``str`` or calls ``start_response`` with anything but a ``str`` status and a list of
``(str, str)`` pairs.
"""

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Protocol, TypeAlias

__all__ = [
    "ErrorStream",
    "FileWrapper",
    "InputStream",
    "StartResponse",
    "WSGIApplication",
    "WSGIEnvironment",
]

_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType]
_OptExcInfo: TypeAlias = _ExcInfo | tuple[None, None, None]


class StartResponse(Protocol):
    """The ``start_response()`` callable (PEP 3333 "The start_response() Callable")."""

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: _OptExcInfo | None = ...,
        /,
    ) -> Callable[[bytes], object]: ...


WSGIEnvironment: TypeAlias = dict[str, Any]
"""The environ dictionary (PEP 3333 "environ Variables")."""

WSGIApplication: TypeAlias = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]
"""A WSGI application: ``app(environ, start_response) -> iterable of bytes``."""


class InputStream(Protocol):
    """``wsgi.input`` (PEP 3333 "Input and Error Streams")."""

    def read(self, size: int = ..., /) -> bytes: ...
    def readline(self, size: int = ..., /) -> bytes: ...
    def readlines(self, hint: int = ..., /) -> list[bytes]: ...
    def __iter__(self) -> Iterator[bytes]: ...


class ErrorStream(Protocol):
    """``wsgi.errors`` (PEP 3333 "Input and Error Streams")."""

    def flush(self) -> object: ...
    def write(self, s: str, /) -> object: ...
    def writelines(self, seq: list[str], /) -> object: ...


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class FileWrapper(Protocol):
    """``wsgi.file_wrapper`` (PEP 3333 "Optional Platform-Specific File Handling")."""

    def __call__(self, file: _Readable, block_size: int = ..., /) -> Iterable[bytes]: ...
