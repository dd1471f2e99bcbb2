"""wsgi_cgi.CGIHandler under Apache httpd's mod_cgi: a chunked upload has no length."""

import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

# Installing apache2 on the first run may take a while; the tests themselves are quick.
pytestmark = pytest.mark.timeout(600)


def test_a_chunked_upload_is_read_to_eof_with_input_terminated(apache: Any) -> None:
    pieces = [os.urandom(size) for size in (1, 4096, 70000, 3)]

    def chunks() -> Iterator[bytes]:
        yield from pieces

    status, _, _, data = apache.request(
        "POST",
        "/app.cgi/upload",
        chunks(),  # an iterator without a length: http.client sends it chunked
        {"Content-Type": "application/octet-stream"},
    )
    assert status == 200, data
    got = json.loads(data)
    body = b"".join(pieces)
    assert got["content_length"] is None
    assert got["terminated"] is True
    assert got["length"] == len(body)
    assert got["sha256"] == hashlib.sha256(body).hexdigest()


def test_a_post_with_a_length_is_bounded_by_it(apache: Any) -> None:
    body = os.urandom(100_000)
    status, _, _, data = apache.request("POST", "/app.cgi/upload", body)
    assert status == 200, data
    got = json.loads(data)
    assert (got["content_length"], got["terminated"]) == (str(len(body)), False)
    assert got["sha256"] == hashlib.sha256(body).hexdigest()


def test_get_status_and_cookies_under_apache(apache: Any) -> None:
    status, _, _, data = apache.request("GET", "/app.cgi/x?q=1")
    got = json.loads(data)
    assert (status, got["query"], bytes.fromhex(got["path_info_hex"])) == (200, "q=1", b"/x")
    status, _, _, data = apache.request("GET", "/app.cgi/status")
    assert (status, data) == (418, b"short and stout")
    _, _, headers, _ = apache.request("GET", "/app.cgi/cookies")
    assert [v for k, v in headers if k.lower() == "set-cookie"] == [
        "a=1; Path=/",
        "b=2; Path=/",
        "c=3; HttpOnly",
    ]


def test_an_app_error_is_logged_in_apaches_error_log(apache: Any) -> None:
    status, _, _, body = apache.request("GET", "/app.cgi/raise")
    assert status == 500
    assert body == b"A server error occurred.  Please contact the administrator."
    assert "RuntimeError: boom from the cgi app" in apache.error_log_text()
