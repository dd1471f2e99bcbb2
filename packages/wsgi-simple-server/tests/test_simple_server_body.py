"""The body readers behind wsgi.input: Content-Length and chunked framing (no sockets)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsgi_simple_server._body import (
    BodyError,
    ChunkedInput,
    ContentLengthInput,
    IncompleteBodyError,
)


class BytesSource:
    """A Source over fixed bytes, handing out at most *step* bytes at a time."""

    def __init__(self, data: bytes, step: int = 1 << 20) -> None:
        self.data = data
        self.step = step

    def read_some(self, size: int) -> bytes:
        chunk, self.data = self.data[: min(size, self.step)], self.data[min(size, self.step) :]
        return chunk

    def read_line(self, limit: int) -> bytes:
        end = self.data.find(b"\n", 0, limit)
        cut = limit if end < 0 else end + 1
        line, self.data = self.data[:cut], self.data[cut:]
        return line


def chunked(body: bytes, size: int) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
        for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def test_content_length_input_stops_at_the_end_of_the_body() -> None:
    source = BytesSource(b"hello worldGET /next")
    body = ContentLengthInput(source, 11)
    assert body.read() == b"hello world"
    assert body.read() == b""
    assert source.data == b"GET /next"


def test_read_with_a_size_returns_at_most_that_many_bytes() -> None:
    body = ContentLengthInput(BytesSource(b"abcdef"), 6)
    assert body.read(4) == b"abcd"
    assert body.read(4) == b"ef"
    assert body.read(4) == b""


def test_read_with_a_size_waits_for_that_many_bytes_however_they_arrive() -> None:
    body = ContentLengthInput(BytesSource(b"abcdefghij", step=3), 10)
    assert body.read(7) == b"abcdefg"
    assert body.read(7) == b"hij"
    chunked_body = ChunkedInput(BytesSource(chunked(b"0123456789", 3), step=2), 100)
    assert chunked_body.read(8) == b"01234567"


def test_readline_readlines_and_iteration_split_on_newlines() -> None:
    data = b"one\ntwo\nthree"
    assert ContentLengthInput(BytesSource(data, step=2), len(data)).readline() == b"one\n"
    assert ContentLengthInput(BytesSource(data), len(data)).readlines() == [
        b"one\n",
        b"two\n",
        b"three",
    ]
    assert list(ContentLengthInput(BytesSource(data, step=1), len(data))) == [
        b"one\n",
        b"two\n",
        b"three",
    ]
    limited = ContentLengthInput(BytesSource(data), len(data))
    assert limited.readline(2) == b"on"
    assert limited.readline() == b"e\n"


def test_a_body_cut_short_by_the_client_raises_incomplete_body() -> None:
    body = ContentLengthInput(BytesSource(b"abc"), 10)
    with pytest.raises(IncompleteBodyError):
        body.read()


def test_first_read_calls_the_hook_once() -> None:
    calls = []
    body = ContentLengthInput(BytesSource(b"abc"), 3, lambda: calls.append(1))
    body.read(1)
    body.read()
    assert calls == [1]


def test_chunked_input_decodes_and_stops_after_the_last_chunk() -> None:
    source = BytesSource(chunked(b"hello chunked world", 5) + b"NEXT")
    body = ChunkedInput(source, 1000)
    assert body.read() == b"hello chunked world"
    assert body.finished
    assert source.data == b"NEXT"


def test_chunk_extensions_and_trailers_are_accepted_and_dropped() -> None:
    data = b'5;name=value;q="x y"\r\nhello\r\n0;end\r\nX-Trailer: t\r\n\r\n'
    assert ChunkedInput(BytesSource(data), 100).read() == b"hello"


@pytest.mark.parametrize(
    "data",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"5 \r\nhello\r\n0\r\n\r\n;",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
        b"3\r\nhello\r\n0\r\n\r\n",
        b"11111111111111111\r\n",
        b"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
    ],
)
def test_invalid_chunk_framing_is_a_400(data: bytes) -> None:
    with pytest.raises(BodyError) as info:
        ChunkedInput(BytesSource(data), 1 << 40).read()
    assert info.value.status == 400


@pytest.mark.parametrize(
    "size",
    [b"00000000000000005", b"0" * 4000 + b"5", b"0000000000000000000000000000000005", b"0005"],
)
def test_chunk_size_compares_by_value_whatever_its_leading_zeros(size: bytes) -> None:
    # RFC 9112 section 7.1: chunk-size = 1*HEXDIG; leading zeros do not make it larger.
    data = size + b"\r\nhello\r\n" + b"0" * 20 + b"\r\n\r\n"
    assert ChunkedInput(BytesSource(data), 100).read() == b"hello"


def test_chunk_size_of_more_than_16_significant_digits_is_a_400() -> None:
    for size in (b"10000000000000000", b"000" + b"f" * 17, b"1" * 4000):
        with pytest.raises(BodyError) as info:
            ChunkedInput(BytesSource(size + b"\r\n"), 1 << 62).read()
        assert info.value.status == 400


def test_chunk_size_line_longer_than_its_limit_is_a_400() -> None:
    with pytest.raises(BodyError) as info:
        ChunkedInput(BytesSource(b"0" * 10_000 + b"5\r\nhello\r\n0\r\n\r\n"), 100).read()
    assert info.value.status == 400


def test_chunked_body_over_the_limit_is_a_413() -> None:
    with pytest.raises(BodyError) as info:
        ChunkedInput(BytesSource(chunked(b"x" * 100, 30)), 50).read()
    assert info.value.status == 413


def test_drain_reads_the_rest_within_the_limit_and_says_so() -> None:
    assert ContentLengthInput(BytesSource(b"x" * 100), 100).drain(1000)
    assert not ContentLengthInput(BytesSource(b"x" * 100_000), 100_000).drain(1000)


@given(
    st.binary(max_size=2000),
    st.integers(min_value=1, max_value=300),
    st.integers(min_value=1, max_value=50),
)
def test_chunked_round_trip_whatever_the_chunk_and_read_sizes(
    body: bytes, chunk_size: int, step: int
) -> None:
    reader = ChunkedInput(BytesSource(chunked(body, chunk_size), step=step), 1 << 20)
    out = b""
    while data := reader.read(step):
        out += data
    assert out == body
