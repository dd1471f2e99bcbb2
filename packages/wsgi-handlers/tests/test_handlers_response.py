"""ResponseWriter, the response core: its rules, and random responses read back by h11."""

from __future__ import annotations

from typing import Any

import h11
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsgi_handlers import (
    CHUNKED,
    CLOSE_DELIMITED,
    CONTENT_LENGTH,
    NO_BODY,
    ResponseWriter,
    request_keep_alive,
    sendfile_source,
)


def head_fields(head: bytes) -> dict[str, str]:
    lines = head.decode("iso-8859-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}


def test_a_declared_length_is_never_exceeded() -> None:
    writer = ResponseWriter()
    writer.head("200 OK", [("Content-Length", "2")])
    assert writer.framing == CONTENT_LENGTH
    assert writer.body(b"he") == b"he"
    assert writer.body(b"llo") == b""
    assert writer.excess == 3
    assert writer.close_connection is True
    assert "Content-Length of 2" in str(writer.excess_error())


def test_a_short_body_closes_the_connection() -> None:
    writer = ResponseWriter()
    writer.head("200 OK", [("Content-Length", "10")])
    writer.body(b"hello")
    assert writer.end() == b""
    assert writer.shortfall == 5
    assert writer.close_connection is True


def test_unknown_length_is_chunked_for_http11_and_close_delimited_for_http10() -> None:
    writer = ResponseWriter()
    head = writer.head("200 OK", [])
    assert head_fields(head)["transfer-encoding"] == "chunked"
    assert writer.body(b"abc") == b"3\r\nabc\r\n"
    assert writer.body(b"") == b""
    assert writer.end() == b"0\r\n\r\n"
    old = ResponseWriter("GET", "HTTP/1.0", response_version="HTTP/1.0", keep_alive=True)
    head = old.head("200 OK", [])
    assert old.framing == CLOSE_DELIMITED
    assert "transfer-encoding" not in head_fields(head)
    assert old.close_connection is True


@pytest.mark.parametrize("status", ["100 Continue", "101 Switching Protocols", "199 X"])
def test_a_1xx_final_status_is_refused(status: str) -> None:
    with pytest.raises(ValueError, match="1xx"):
        ResponseWriter().head(status, [])


@pytest.mark.parametrize("value", ["", "-1", "+5", "5 ", "0x10", "1e3", "\uff15"])
def test_a_content_length_that_is_not_digits_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match=r"invalid (Content-Length|value)"):
        ResponseWriter().head("200 OK", [("Content-Length", value)])


def test_conflicting_content_lengths_are_refused_and_equal_ones_kept() -> None:
    with pytest.raises(ValueError, match="conflicting"):
        ResponseWriter().head("200 OK", [("Content-Length", "1"), ("content-length", "2")])
    writer = ResponseWriter()
    writer.head("200 OK", [("Content-Length", "3"), ("content-length", "003")])
    assert writer.content_length == 3


def test_head_gets_no_body_and_no_invented_length() -> None:
    writer = ResponseWriter("HEAD")
    fields = head_fields(writer.head("200 OK", [], 0))
    assert writer.framing == NO_BODY
    assert "content-length" not in fields
    assert "transfer-encoding" not in fields
    assert writer.body(b"data") == b""
    assert writer.close_connection is False
    measured = ResponseWriter("HEAD")
    assert head_fields(measured.head("200 OK", [], 11))["content-length"] == "11"
    declared = ResponseWriter("HEAD")
    assert head_fields(declared.head("200 OK", [("Content-Length", "7")]))["content-length"] == "7"


def test_204_never_carries_framing_fields_and_304_keeps_its_length() -> None:
    writer = ResponseWriter()
    fields = head_fields(writer.head("204 No Content", [("Content-Length", "5")], 5))
    assert "content-length" not in fields
    assert writer.body(b"extra") == b""
    writer = ResponseWriter()
    fields = head_fields(writer.head("304 Not Modified", [("Content-Length", "5")]))
    assert fields["content-length"] == "5"
    assert writer.framing == NO_BODY


def test_connection_close_is_said_whenever_the_connection_ends() -> None:
    writer = ResponseWriter(keep_alive=False)
    assert head_fields(writer.head("200 OK", [("Content-Length", "0")]))["connection"] == "close"
    http10 = ResponseWriter("GET", "HTTP/1.0", response_version="HTTP/1.0")
    fields = head_fields(http10.head("200 OK", [("Content-Length", "0")]))
    assert fields["connection"] == "keep-alive"


def test_the_head_is_checked_before_it_is_returned() -> None:
    with pytest.raises(ValueError, match="invalid"):
        ResponseWriter().head("200 OK", [("X-A", "a\r\nInjected: yes")])
    with pytest.raises(AssertionError, match="must be of type str"):
        ResponseWriter().head("200 OK", [("X-A", 1)])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("version", "connection", "expected"),
    [
        ("HTTP/1.1", "", True),
        ("HTTP/1.1", "Close", False),
        ("HTTP/1.1", "upgrade, close", False),
        ("HTTP/1.0", "", False),
        ("HTTP/1.0", "Keep-Alive", True),
        ("HTTP/0.9", "keep-alive", False),
    ],
)
def test_request_keep_alive(version: str, connection: str, expected: bool) -> None:
    assert request_keep_alive(version, connection) is expected


def test_only_a_plain_file_may_be_sent_with_sendfile(tmp_path: Any) -> None:
    import gzip  # noqa: PLC0415
    import io  # noqa: PLC0415

    path = tmp_path / "f.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"x" * 100)
    with path.open("rb") as plain:
        plain.read(3)
        fd, offset, size = sendfile_source(plain)  # type: ignore[misc]
        assert (offset, size) == (3, path.stat().st_size)
        assert fd == plain.fileno()
    with gzip.open(path, "rb") as compressed:
        assert sendfile_source(compressed) is None
    assert sendfile_source(io.BytesIO(b"x")) is None
    assert sendfile_source(None) is None


# -- random responses, read back by h11 ----------------------------------------------------

blocks = st.lists(st.binary(max_size=40), max_size=6)
statuses = st.sampled_from(["200 OK", "201 Created", "204 No Content", "304 Not Modified", "404 X"])


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "POST"]),
    status=statuses,
    declared=st.none() | st.integers(0, 120),
    known=st.booleans(),
    keep_alive=st.booleans(),
    body=blocks,
)
def test_framing_agrees_with_the_bytes_for_any_sequence_of_app_actions(
    method: str,
    status: str,
    declared: int | None,
    known: bool,
    keep_alive: bool,
    body: list[bytes],
) -> None:
    """Whatever the application does, h11 reads exactly the response the writer meant,
    and the writer keeps the connection only where h11 agrees it is in sync."""
    headers = [("Content-Type", "text/plain")]
    if declared is not None:
        headers.append(("Content-Length", str(declared)))
    payload = b"".join(body)
    writer = ResponseWriter(method, keep_alive=keep_alive)
    wire = writer.head(status, headers, len(payload) if known else None)
    for block in body:
        wire += writer.body(block)
    wire += writer.end()

    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "t")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    if writer.close_connection:
        client.receive_data(b"")
    code = int(status[:3])
    expected = b"" if method == "HEAD" or code in {204, 304} else payload
    if writer.framing == CONTENT_LENGTH and declared is not None:
        expected = expected[:declared]
    received = b""
    events: list[Any] = []
    try:
        while (event := client.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
            events.append(event)
            if isinstance(event, h11.Data):
                received += event.data
            if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
    except h11.RemoteProtocolError:
        # Only a body shorter than its declared length may leave the client short.
        assert writer.shortfall > 0
        assert writer.close_connection
        return
    assert isinstance(events[0], h11.Response)
    assert events[0].status_code == code
    assert received == expected
    assert isinstance(events[-1], h11.EndOfMessage)
    if writer.framing == CONTENT_LENGTH:
        assert writer.excess == max(len(payload) - writer.content_length, 0)  # type: ignore[operator]
    if not writer.close_connection:
        client.start_next_cycle()  # h11 agrees the connection is in sync and persistent
    assert writer.framing in {CONTENT_LENGTH, CHUNKED, NO_BODY, CLOSE_DELIMITED}


def test_the_writer_refuses_to_be_driven_out_of_order() -> None:
    with pytest.raises(RuntimeError, match="between head"):
        ResponseWriter().body(b"x")  # no head yet
    writer = ResponseWriter()
    writer.head("200 OK", [])
    with pytest.raises(RuntimeError, match="already built"):
        writer.head("200 OK", [])  # one head per response
    writer.body(b"x")
    assert writer.end() == b"0\r\n\r\n"
    with pytest.raises(RuntimeError, match="between head"):
        writer.body(b"y")  # nothing after the last chunk
    with pytest.raises(RuntimeError, match="between head"):
        writer.end()


@pytest.mark.parametrize("status", ["2a0 X", "099 X", "600 X", "000 X", "\uff12\uff10\uff10 X"])
def test_a_status_code_outside_100_to_599_is_refused(status: str) -> None:
    with pytest.raises(ValueError, match="three digits from 100 to 599"):
        ResponseWriter().head(status, [])


def test_a_negative_length_is_refused_and_nothing_is_decided() -> None:
    writer = ResponseWriter()
    with pytest.raises(ValueError, match="negative"):
        writer.head("200 OK", [], -1)
    assert not writer.started
    writer.head("200 OK", [], 5)  # still usable
    assert writer.content_length == 5


def test_a_head_written_elsewhere_can_start_an_unframed_body() -> None:
    writer = ResponseWriter()
    writer.unframed()
    assert writer.body(b"as given") == b"as given"
    assert writer.end() == b""
    assert writer.close_connection is True


def test_a_body_known_to_be_too_long_announces_the_close_in_its_head() -> None:
    writer = ResponseWriter()
    fields = head_fields(writer.head("200 OK", [("Content-Length", "2")], 5))
    assert fields["connection"] == "close"
    assert writer.body(b"hello") == b"he"
    assert writer.excess == 3
