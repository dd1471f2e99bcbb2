"""``FileWrapper`` and ``is_hop_by_hop`` behave as Python 3.11's ``wsgiref.util``."""

import io
from collections.abc import Iterator

import pytest
from wsgi_util import HOP_BY_HOP_HEADERS, FileWrapper, is_hop_by_hop


def test_file_wrapper_yields_blocks_of_blksize_until_empty_read() -> None:
    wrapper = FileWrapper(io.BytesIO(b"abcdefgh"), 3)
    assert list(wrapper) == [b"abc", b"def", b"gh"]


def test_file_wrapper_default_block_size_is_8192() -> None:
    wrapper = FileWrapper(io.BytesIO(b"x" * 20000))
    assert [len(b) for b in wrapper] == [8192, 8192, 3616]
    assert wrapper.blksize == 8192


def test_file_wrapper_is_its_own_iterator() -> None:
    wrapper = FileWrapper(io.BytesIO(b"ab"), 1)
    assert iter(wrapper) is wrapper
    assert next(wrapper) == b"a"
    assert next(wrapper) == b"b"
    with pytest.raises(StopIteration):
        next(wrapper)


def test_file_wrapper_close_closes_the_file_like() -> None:
    filelike = io.BytesIO(b"data")
    wrapper = FileWrapper(filelike)
    wrapper.close()
    assert filelike.closed


def test_file_wrapper_without_close_on_the_file_like_has_no_close() -> None:
    class ReadOnly:
        def read(self, size: int = -1) -> bytes:
            return b""

    assert not hasattr(FileWrapper(ReadOnly()), "close")


def test_file_wrapper_has_no_getitem() -> None:
    wrapper = FileWrapper(io.BytesIO(b"data"))
    assert not hasattr(wrapper, "__getitem__")
    with pytest.raises(TypeError):
        wrapper[0]  # type: ignore[index]


def test_file_wrapper_keeps_the_file_like() -> None:
    filelike = io.BytesIO()
    assert FileWrapper(filelike).filelike is filelike


def test_file_wrapper_reads_lazily() -> None:
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(size if size is not None else -1)
            return super().read(size)

    blocks: Iterator[bytes] = FileWrapper(Counting(b"abcd"), 2)
    assert reads == []
    next(blocks)
    assert reads == [2]


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "keep-alive",
        "PROXY-AUTHENTICATE",
        "Proxy-Authorization",
        "TE",
        "Trailers",
        "Transfer-Encoding",
        "upgrade",
    ],
)
def test_is_hop_by_hop_recognises_the_rfc_2616_list_in_any_case(name: str) -> None:
    assert is_hop_by_hop(name)


@pytest.mark.parametrize("name", ["Content-Type", "Trailer", "Set-Cookie", "", "connection "])
def test_is_hop_by_hop_rejects_end_to_end_headers(name: str) -> None:
    assert not is_hop_by_hop(name)


def test_hop_by_hop_headers_are_lower_case() -> None:
    assert all(name == name.lower() for name in HOP_BY_HOP_HEADERS)
    assert len(HOP_BY_HOP_HEADERS) == 8
