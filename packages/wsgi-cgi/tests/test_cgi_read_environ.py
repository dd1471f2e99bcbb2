"""read_environ: the stdlib's transcoding rules, branch by branch."""

import os
import sys
import wsgiref.handlers as ref
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsgi_cgi import read_environ

UTF8_PATH = "/caf\xc3\xa9"  # the bytes of "/café" in UTF-8, as latin-1 text


def use_environ(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    monkeypatch.setattr(os, "environ", dict(environ))


def both(monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Any], dict[str, Any]]:
    return read_environ(), ref.read_environ()


def test_posix_recovers_the_request_bytes_as_latin1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "utf-8")
    use_environ(
        monkeypatch,
        {
            "PATH_INFO": "/caf\xe9",  # os.environ decoded the UTF-8 bytes
            "QUERY_STRING": "q=\udcff",  # an undecodable byte, surrogate-escaped
            "HTTP_X_NAME": "J\xfcrgen",
            "SSL_CLIENT_S_DN": "CN=\xe9",
            "REDIRECT_REDIRECT_PATH_INFO": "/\xe9",
            "REDIRECT_STATUS": "200",
            "HOME": "/home/caf\xe9",
        },
    )
    ours, theirs = both(monkeypatch)
    assert ours == theirs
    assert ours["PATH_INFO"] == UTF8_PATH
    assert ours["QUERY_STRING"] == "q=\xff"
    assert ours["REDIRECT_REDIRECT_PATH_INFO"] == "/\xc3\xa9"
    assert ours["HOME"] == "/home/caf\xe9"  # not a request variable: untouched


@pytest.mark.parametrize(
    ("software", "path_info", "expected"),
    [
        ("Microsoft-IIS/10.0", "/caf\xe9", UTF8_PATH),
        ("Apache/2.4.58 (Win64)", "/caf\xc3\xa9", UTF8_PATH),
        ("SimpleHTTP/0.6 Python/3.11.7", "/caf\xe9", UTF8_PATH),
        ("SimpleHTTP/0.6 Python/2.7", "/caf\xe9", "/caf\xe9"),
        ("nginx/1.25", "/caf\xe9", "/caf\xe9"),
        ("", "/\u20ac", "/\x80"),
    ],
)
def test_windows_branches_follow_the_server_software(
    monkeypatch: pytest.MonkeyPatch, software: str, path_info: str, expected: str
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "cp1252")
    use_environ(monkeypatch, {"SERVER_SOFTWARE": software, "PATH_INFO": path_info})
    ours, theirs = both(monkeypatch)
    assert ours == theirs
    assert ours["PATH_INFO"] == expected


def test_windows_other_servers_replace_what_the_code_page_cannot_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "cp1252")
    use_environ(monkeypatch, {"SERVER_SOFTWARE": "other/1", "PATH_INFO": "/\u4e2d"})
    ours, theirs = both(monkeypatch)
    assert ours == theirs == {"SERVER_SOFTWARE": "other/1", "PATH_INFO": "/?"}


def test_the_result_is_a_new_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    use_environ(monkeypatch, {"PATH_INFO": "/"})
    first = read_environ()
    first["PATH_INFO"] = "/changed"
    assert read_environ()["PATH_INFO"] == "/"


_NAMES = st.sampled_from(
    [
        "PATH_INFO",
        "SCRIPT_NAME",
        "QUERY_STRING",
        "REQUEST_METHOD",
        "AUTH_TYPE",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTPS",
        "REMOTE_USER",
        "REMOTE_IDENT",
        "HTTP_COOKIE",
        "SSL_PROTOCOL",
        "REDIRECT_QUERY_STRING",
        "REDIRECT_REDIRECT_HTTP_HOST",
        "REDIRECT_URL",
        "SERVER_NAME",
        "PATH",
        "REDIRECT_",
        "HTTPX",
    ]
)
_VALUES = st.text(
    alphabet=st.characters(codec="utf-8") | st.sampled_from(["\udc80", "\udcff", "\xe9"]),
    max_size=8,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=200)
@given(
    environ=st.dictionaries(_NAMES, _VALUES, max_size=8),
    platform=st.sampled_from(["linux", "win32"]),
    software=st.sampled_from(["", "microsoft-iis/8", "apache/2", "simplehttp/0.6 python/3.12"]),
)
def test_read_environ_equals_the_stdlibs_for_any_environment(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], platform: str, software: str
) -> None:
    environ = {**environ, "SERVER_SOFTWARE": software}
    with monkeypatch.context() as m:
        m.setattr(sys, "platform", platform)
        m.setattr(os, "environ", environ)
        try:
            expected: Any = ref.read_environ()
        except UnicodeError as exc:
            expected = type(exc)
        try:
            got: Any = read_environ()
        except UnicodeError as exc:
            got = type(exc)
    assert got == expected
