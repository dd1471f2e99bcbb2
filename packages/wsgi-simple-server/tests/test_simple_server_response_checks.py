"""What an application passes to ``start_response`` is checked before a byte goes
out: a bad status or header gets the 500 page, never a malformed or half-sent head."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

BAD_RESPONSES = {
    "control characters in a value": ("200 OK", [("X-A", "a\r\nInjected: 1")]),
    "a name that is not a token": ("200 OK", [("X A", "v")]),
    "a hop-by-hop header": ("200 OK", [("Connection", "close")]),
    "a status with CRLF": ("200 OK\r\nInjected: 1", []),
    "a status without a reason separator": ("200", []),
    "a status that is not a code": ("abc OK", []),
    "a value that is not ISO-8859-1": ("200 OK", [("X-A", "\u20ac")]),
    "a status that is not ISO-8859-1": ("200 \u20ac", []),
    "a non-str header value": ("200 OK", [("X-A", 1)]),
}


@pytest.mark.parametrize("case", BAD_RESPONSES)
def test_a_bad_status_or_header_gets_the_500_page_and_nothing_of_it_is_sent(
    kit: Any, case: str
) -> None:
    status, headers = BAD_RESPONSES[case]

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, headers)
        return [b"body"]

    with kit.running(app) as server:
        data = kit.roundtrip(server, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert data.endswith(b"A server error occurred.  Please contact the administrator.")
    assert b"Injected" not in data
    assert b"body" not in data
