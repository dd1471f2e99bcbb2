"""wsgi_cgi.CGIHandler under a real web server: lighttpd with mod_cgi."""

import hashlib
import json
import os
from typing import Any

import pytest

# Installing lighttpd on the first run may take a while; the tests themselves are quick.
pytestmark = pytest.mark.timeout(600)


def report(server: Any, method: str, url: str, body: bytes | None = None) -> dict[str, Any]:
    status, _, headers, data = server.request(method, url, body)
    assert status == 200, data
    assert ("Content-Type", "application/json") in headers
    result: dict[str, Any] = json.loads(data)
    return result


def test_get_with_a_query_string(lighttpd: Any) -> None:
    got = report(lighttpd, "GET", "/app.cgi/some/path?a=1&b=%20two")
    assert got["method"] == "GET"
    assert got["query"] == "a=1&b=%20two"
    assert bytes.fromhex(got["path_info_hex"]) == b"/some/path"
    assert got["scheme"] == "http"
    assert got["run_once"] is True
    assert got["length"] == 0


def test_a_1_mib_post_arrives_whole_through_a_bounded_input(lighttpd: Any) -> None:
    body = os.urandom(1024 * 1024)
    got = report(lighttpd, "POST", "/app.cgi/upload", body)
    assert got["length"] == len(body)
    assert got["sha256"] == hashlib.sha256(body).hexdigest()
    assert got["content_length"] == str(len(body))
    assert got["input_type"] == "BoundedInput"
    assert got["terminated"] is False


def test_a_non_200_status_reaches_the_client(lighttpd: Any) -> None:
    status, _, headers, body = lighttpd.request("GET", "/app.cgi/status")
    # lighttpd writes its own reason phrase (none for 418): the code is what counts.
    assert (status, body) == (418, b"short and stout")
    assert ("Content-Type", "text/plain") in headers


def test_several_set_cookie_headers_all_arrive(lighttpd: Any) -> None:
    status, _, headers, _ = lighttpd.request("GET", "/app.cgi/cookies")
    assert status == 200
    cookies = [v for k, v in headers if k.lower() == "set-cookie"]
    assert cookies == ["a=1; Path=/", "b=2; Path=/", "c=3; HttpOnly"]


@pytest.mark.parametrize(
    ("quoted", "raw"),
    [("/caf%C3%A9", "/café".encode()), ("/caf%E9", b"/caf\xe9"), ("/%E2%82%AC", "/€".encode())],
)
def test_latin1_and_utf8_bytes_in_path_info_reach_the_app_as_the_request_bytes(
    lighttpd: Any, quoted: str, raw: bytes
) -> None:
    got = report(lighttpd, "GET", "/app.cgi" + quoted)
    assert bytes.fromhex(got["path_info_hex"]) == raw


def test_https_is_detected_from_a_setenv(lighttpd: Any) -> None:
    assert report(lighttpd, "GET", "/secure/app.cgi/x")["scheme"] == "https"


def test_an_app_that_raises_gets_the_500_page_and_a_traceback_in_the_error_log(
    lighttpd: Any,
) -> None:
    status, _, headers, body = lighttpd.request("GET", "/app.cgi/raise")
    assert status == 500
    assert body == b"A server error occurred.  Please contact the administrator."
    assert ("Content-Length", "59") in headers
    log = lighttpd.error_log_text()
    assert "Traceback (most recent call last):" in log
    assert "RuntimeError: boom from the cgi app" in log
