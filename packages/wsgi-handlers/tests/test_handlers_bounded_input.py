"""BoundedInput: EOF at the end of the body, whatever the stream holds after it."""

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsgi_handlers import BoundedInput

BODY = b"line one\nline two\nthree"
NEXT_REQUEST = b"GET /next HTTP/1.1\r\n\r\n"


def bounded(body: bytes = BODY, trailing: bytes = NEXT_REQUEST) -> BoundedInput:
    return BoundedInput(io.BufferedReader(io.BytesIO(body + trailing)), len(body))


def test_read_without_size_stops_at_the_length() -> None:
    stream = bounded()
    assert stream.read() == BODY
    assert stream.read() == b""
    assert stream.remaining == 0


@pytest.mark.parametrize("size", [-1, None])
def test_read_with_negative_or_none_size_reads_the_rest(size: int | None) -> None:
    assert bounded().read(size) == BODY


def test_read_n_never_crosses_the_length() -> None:
    stream = bounded()
    assert stream.read(5) == b"line "
    assert stream.read(1000) == BODY[5:]
    assert stream.read(1) == b""


def test_read_zero_returns_empty_without_consuming() -> None:
    stream = bounded()
    assert stream.read(0) == b""
    assert stream.remaining == len(BODY)


def test_readline_stops_at_newline_and_at_the_length() -> None:
    stream = bounded()
    assert stream.readline() == b"line one\n"
    assert stream.readline() == b"line two\n"
    assert stream.readline() == b"three"
    assert stream.readline() == b""


def test_readline_size_limits_the_line() -> None:
    stream = bounded()
    assert stream.readline(4) == b"line"
    assert stream.readline(None) == b" one\n"


def test_readlines_reads_every_line_up_to_the_length() -> None:
    assert bounded().readlines() == [b"line one\n", b"line two\n", b"three"]


def test_readlines_hint_stops_after_the_line_reaching_it() -> None:
    assert bounded().readlines(3) == [b"line one\n"]
    assert bounded().readlines(10) == [b"line one\n", b"line two\n"]


def test_iteration_yields_lines_up_to_the_length() -> None:
    assert list(bounded()) == [b"line one\n", b"line two\n", b"three"]


def test_a_body_shorter_than_the_length_ends_at_the_stream_end() -> None:
    stream = BoundedInput(io.BytesIO(b"abc"), 10)
    assert stream.read(5) == b"abc"
    assert stream.read(5) == b""
    assert stream.remaining == 0
    assert BoundedInput(io.BytesIO(b"abc"), 10).read() == b"abc"


def test_none_length_reads_to_the_end_of_the_stream() -> None:
    data = BODY + NEXT_REQUEST
    stream = BoundedInput(io.BytesIO(data))
    assert stream.remaining is None
    assert stream.readline() == b"line one\n"
    assert stream.read(4) == b"line"
    assert stream.read() == data[13:]
    assert BoundedInput(io.BytesIO(data), None).readlines()[-2:] == [
        b"threeGET /next HTTP/1.1\r\n",
        b"\r\n",
    ]


def test_none_length_read_loops_over_short_reads() -> None:
    data = b"x" * 200_000
    assert BoundedInput(io.BytesIO(data)).read() == data


def test_zero_length_is_empty_at_once() -> None:
    stream = BoundedInput(io.BytesIO(b"abc"), 0)
    assert stream.read() == b""
    assert stream.readline() == b""
    assert list(stream) == []


def test_negative_length_is_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        BoundedInput(io.BytesIO(b""), -1)


class Trickle(io.RawIOBase):
    """A raw stream returning at most 3 bytes per read, like a slow socket."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = min(3, len(buffer), len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


def test_read_without_size_collects_short_reads_up_to_the_length() -> None:
    stream = BoundedInput(Trickle(BODY + NEXT_REQUEST), len(BODY))
    assert stream.read() == BODY


@given(
    body=st.binary(max_size=300),
    trailing=st.binary(max_size=50),
    sizes=st.lists(st.integers(min_value=-1, max_value=40), max_size=30),
    lines=st.booleans(),
)
def test_any_mix_of_reads_returns_exactly_the_body(
    body: bytes, trailing: bytes, sizes: list[int], lines: bool
) -> None:
    stream = bounded(body, trailing)
    got = b""
    for size in sizes:
        got += stream.readline(size) if lines else stream.read(size)
    got += stream.read()
    assert got == body
    assert stream.read() == b""
