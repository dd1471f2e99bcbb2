"""A bounded fuzzing run of generated malformed requests against the live server.

Each example sends one generated request, then a valid one on the same connection,
and reads until the server closes. The server must never answer 500, must answer
every request it reads in order, must never answer a request smuggled inside a body,
and must keep serving new connections afterwards.
"""

import re
import socket
from collections.abc import Iterable, Iterator

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_server import serving
from wsgi_simple_server import ServerConfig, WSGIServer
from wsgi_util.types import StartResponse, WSGIEnvironment

# About two minutes of generated requests: more than the suite's per-test default.
pytestmark = pytest.mark.timeout(300)

_SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
_FOLLOW_UP = b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*\r\n")


def _echo_path(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    environ["wsgi.input"].read()
    body = environ["PATH_INFO"].encode("latin-1")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def server() -> Iterator[WSGIServer]:
    config = ServerConfig(
        header_timeout_s=1.0,
        idle_timeout_s=1.0,
        body_timeout_s=1.0,
        access_log=False,
        max_body_bytes=1 << 16,
    )
    with serving(_echo_path, config) as live:
        yield live


_tokens = st.sampled_from(
    [
        b"GET",
        b"POST",
        b"PUT",
        b"HEAD",
        b"G ET",
        b"GET\x00",
        b"",
        b"\xff",
        b"get",
        b"PO\tST",
        b"OPTIONS",
    ]
)
_targets = st.sampled_from(
    [
        b"/",
        b"/a?b=c",
        b"*",
        b"http://x/p",
        b"/\x00",
        b"/ sp",
        b"",
        b"//",
        b"/%zz",
        b"/\xe9",
        b"/" + b"a" * 300,
    ]
)
_versions = st.sampled_from(
    [
        b"HTTP/1.1",
        b"HTTP/1.0",
        b"HTTP/2.0",
        b"HTTP/1.10",
        b"HTTP/1",
        b"http/1.1",
        b"HTTP/0.9",
        b"",
        b"HTTP/1.1 ",
    ]
)
_endings = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n"])
_field_names = st.sampled_from(
    [
        b"Host",
        b"Content-Length",
        b"Transfer-Encoding",
        b"X-A",
        b"X_A",
        b"Host ",
        b" Host",
        b"Con\x00tent",
        b"",
        b"Expect",
        b"Connection",
    ]
)
_field_values = st.sampled_from(
    [
        b"x",
        b"0",
        b"5",
        b"-1",
        b"+5",
        b"0x5",
        b"5, 5",
        b"5, 6",
        b"chunked",
        b"gzip, chunked",
        b"chunked, gzip",
        b"identity",
        b" chunked",
        b"100-continue",
        b"close",
        b"a\x00b",
        b"\xff",
        b"keep-alive",
        b"99999999999999999999",
    ]
)
_fields = st.lists(st.tuples(_field_names, _field_values, _endings, st.booleans()), max_size=6)
_bodies = st.sampled_from(
    [
        b"",
        b"hello",
        b"5\r\nhello\r\n0\r\n\r\n",
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhello0\r\n\r\n",
        b"0\r\n\r\n" + _SMUGGLED,
        _SMUGGLED,
        b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
        b"1\r\n",
    ]
)


@st.composite
def _requests(draw: st.DrawFn) -> bytes:
    line = b" ".join([draw(_tokens), draw(_targets), draw(_versions)]) + draw(_endings)
    head = b"".join(
        name + (b" :" if spaced else b":") + b" " + value + ending
        for name, value, ending, spaced in draw(_fields)
    )
    fold = draw(st.sampled_from([b"", b" folded\r\n", b"\tfolded\r\n"]))
    return line + head + fold + draw(_endings) + draw(_bodies)


def _exchange(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
        try:
            conn.sendall(payload + _FOLLOW_UP)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close early on bad input; what it sent is still read
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return received


def _responses(raw: bytes, *, first_is_head: bool = False) -> list[tuple[int, bytes]]:
    found: list[tuple[int, bytes]] = []
    position = 0
    while match := _STATUS_LINE.match(raw, position):
        head_end = raw.find(b"\r\n\r\n", match.start())
        assert head_end >= 0, f"truncated head: {raw[position:]!r}"
        head = raw[match.start() : head_end].lower()
        length = re.search(rb"\r\ncontent-length: (\d+)", head)
        if first_is_head and not found:  # a response to HEAD has no body (RFC 9110 9.3.2)
            body, position = b"", head_end + 4
        elif b"\r\ntransfer-encoding: chunked" in head:
            body, position = _dechunk(raw, head_end + 4)
        else:
            size = int(length.group(1)) if length else len(raw) - head_end - 4
            body = raw[head_end + 4 : head_end + 4 + size]
            position = head_end + 4 + size
        found.append((int(match.group(1)), body))
    assert position == len(raw), f"bytes that are no response: {raw[position:]!r}"
    return found


def _dechunk(raw: bytes, position: int) -> tuple[bytes, int]:
    body = b""
    while True:
        line_end = raw.index(b"\r\n", position)
        size = int(raw[position:line_end].split(b";")[0], 16)
        body += raw[line_end + 2 : line_end + 2 + size]
        position = line_end + 2 + size + 2
        if size == 0:
            return body, position


def _targets_h11_reads(payload: bytes) -> list[bytes]:
    """The request targets h11, as a server, reads from *payload*, up to its first error."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(payload)
    targets: list[bytes] = []
    try:
        for _ in range(16):  # a few requests at most: bounded
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
            if isinstance(event, h11.Request):
                targets.append(event.target)
            elif isinstance(event, h11.EndOfMessage):
                conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
                conn.send(h11.EndOfMessage())
                conn.start_next_cycle()
    except h11.ProtocolError:
        pass
    return targets


def test_the_reference_reads_a_request_after_a_body_and_not_inside_one() -> None:
    head = b"POST / HTTP/1.1\r\nHost: x\r\n"
    assert _targets_h11_reads(head + b"\r\n" + _SMUGGLED) == [b"/", b"/smuggled"]
    inside = head + b"Content-Length: %d\r\n\r\n" % len(_SMUGGLED) + _SMUGGLED
    assert _targets_h11_reads(inside) == [b"/"]
    chunked = head + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + _SMUGGLED
    assert _targets_h11_reads(chunked) == [b"/", b"/smuggled"]


_garbage = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.binary(max_size=300).map(lambda tail: b"GET / HTTP/1.1\r\n" + tail),
    st.binary(max_size=300).map(lambda tail: b"POST / HTTP/1.1\r\nHost: x\r\n" + tail),
)


@settings(max_examples=90000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_requests(), _garbage))
def test_malformed_requests_get_clean_errors_and_never_desynchronise(
    server: WSGIServer, payload: bytes
) -> None:
    raw = _exchange(server.server_port, payload)
    responses = _responses(raw, first_is_head=payload.startswith(b"HEAD "))
    statuses = [status for status, _ in responses]
    assert 500 not in statuses, payload
    assert all(100 <= s <= 599 and s not in (502, 503, 504) for s in statuses), (statuses, payload)
    bodies = [body for _, body in responses]
    # Answering /smuggled is right only where it is a request of its own, pipelined
    # after the generated one's body ends (a reference parser reads it so).
    pipelined = b"/smuggled" in _targets_h11_reads(payload)
    if not pipelined:
        assert b"/smuggled" not in bodies, payload
    # Every answer is to a request the client really sent: the generated one first.
    assert all(
        body in (b"", b"/after") or status != 200 or body.startswith(b"/") or body == b"*"
        for status, body in responses
    ), responses
    if statuses and statuses[0] >= 400:
        assert len(responses) == 1 or bodies[1:] == [b"/after"], responses
    assert len(responses) <= (3 if pipelined else 2), responses


def test_the_server_still_serves_after_the_fuzzing_run(server: WSGIServer) -> None:
    responses = _responses(_exchange(server.server_port, b""))
    assert responses == [(200, b"/after")]
