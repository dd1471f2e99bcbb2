"""``FileWrapper``: a file-like turned into a block iterator (PEP 3333 "Optional
Platform-Specific File Handling")."""

from collections.abc import Callable
from typing import Protocol


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class FileWrapper:
    """Iterate over *filelike* in blocks of *blksize* bytes until ``read`` returns b"".

    If *filelike* has a ``close`` method, the wrapper's ``close`` is that method, so a
    server that closes the response iterable closes the file (PEP 3333). As in Python
    3.11, there is no ``__getitem__``: the wrapper is an iterator, not a sequence.

    Types: as typeshed's ``wsgiref.util.FileWrapper``, except that *filelike* may be
    any object with ``read(size) -> bytes`` (PEP 3333's "file-like object"; typeshed
    asks for ``IO[bytes]``), which keeps the class a valid
    ``wsgi_util.types.FileWrapper``. The ``filelike`` attribute has that wider type,
    so code calling other file methods on it (``fileno()``) checks for them first.
    """

    close: Callable[[], None]

    def __init__(self, filelike: _Readable, blksize: int = 8192) -> None:
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self) -> "FileWrapper":
        return self

    def __next__(self) -> bytes:
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration
