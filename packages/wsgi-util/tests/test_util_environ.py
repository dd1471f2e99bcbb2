"""The environ helpers behave as Python 3.11's ``wsgiref.util`` documents."""

import posixpath
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsgi_util import (
    application_uri,
    guess_scheme,
    request_uri,
    setup_testing_defaults,
    shift_path_info,
)
from wsgi_util.types import WSGIEnvironment


def _environ(**kw: Any) -> WSGIEnvironment:
    environ: WSGIEnvironment = dict(kw)
    setup_testing_defaults(environ)
    return environ


@pytest.mark.parametrize(
    ("https", "scheme"),
    [
        ("yes", "https"),
        ("on", "https"),
        ("1", "https"),
        ("off", "http"),
        ("YES", "http"),
        ("", "http"),
        (None, "http"),
    ],
)
def test_guess_scheme_reads_the_https_cgi_variable(https: str | None, scheme: str) -> None:
    environ = {} if https is None else {"HTTPS": https}
    assert guess_scheme(environ) == scheme


def test_application_uri_prefers_http_host() -> None:
    environ = _environ(HTTP_HOST="example.org:8080", SERVER_NAME="ignored", SCRIPT_NAME="/app")
    assert application_uri(environ) == "http://example.org:8080/app"


@pytest.mark.parametrize(
    ("scheme", "port", "uri"),
    [
        ("http", "80", "http://host/"),
        ("http", "8080", "http://host:8080/"),
        ("http", "443", "http://host:443/"),
        ("https", "443", "https://host/"),
        ("https", "80", "https://host:80/"),
        ("https", "8443", "https://host:8443/"),
    ],
)
def test_application_uri_omits_only_the_default_port_of_the_scheme(
    scheme: str, port: str, uri: str
) -> None:
    environ = {"wsgi.url_scheme": scheme, "SERVER_NAME": "host", "SERVER_PORT": port}
    assert application_uri(environ) == uri


def test_application_uri_quotes_script_name_as_latin1() -> None:
    environ = _environ(SCRIPT_NAME="/sp ace/\xe9")
    assert application_uri(environ) == "http://127.0.0.1/sp%20ace/%E9"


def test_request_uri_without_script_name_drops_the_duplicate_slash() -> None:
    environ = _environ(PATH_INFO="/a/b", QUERY_STRING="x=1")
    assert request_uri(environ) == "http://127.0.0.1/a/b?x=1"
    assert request_uri(environ, include_query=False) == "http://127.0.0.1/a/b"


def test_request_uri_keeps_path_delimiters_and_quotes_the_rest() -> None:
    environ = _environ(SCRIPT_NAME="/s", PATH_INFO="/a;b=c,d/\xff e?")
    assert request_uri(environ) == "http://127.0.0.1/s/a;b=c,d/%FF%20e%3F"


def test_request_uri_with_empty_query_string_has_no_question_mark() -> None:
    environ = _environ(PATH_INFO="/p", QUERY_STRING="")
    assert request_uri(environ) == "http://127.0.0.1/p"


def test_request_uri_without_path_info() -> None:
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "/s"}
    assert request_uri(environ) == "http://h/s"


@pytest.mark.parametrize(
    ("script", "path", "name", "new_script", "new_path"),
    [
        ("", "/a/b", "a", "/a", "/b"),
        ("/x", "/a/b/", "a", "/x/a", "/b/"),
        ("/x", "/", "", "/x/", ""),
        ("", "/", "", "/", ""),
        ("/x", "//a//b", "a", "/x/a", "/b"),
        ("/x", "/./a", "a", "/x/a", ""),
        ("/x", "/.", None, "/x", ""),
        ("/x/y", "/../a", "..", "/x", "/a"),
        ("/x", "/a", "a", "/x/a", ""),
        ("/x", "", None, "/x", ""),
    ],
)
def test_shift_path_info_moves_one_segment(
    script: str, path: str, name: str | None, new_script: str, new_path: str
) -> None:
    environ = {"SCRIPT_NAME": script, "PATH_INFO": path}
    assert shift_path_info(environ) == name
    if path:
        assert environ == {"SCRIPT_NAME": new_script, "PATH_INFO": new_path}
    else:
        assert environ == {"SCRIPT_NAME": script, "PATH_INFO": path}


def test_shift_path_info_on_missing_path_info_returns_none_and_changes_nothing() -> None:
    environ: WSGIEnvironment = {}
    assert shift_path_info(environ) is None
    assert environ == {}


def test_shift_path_info_when_path_info_is_slash_returns_empty_and_appends_slash() -> None:
    environ = {"SCRIPT_NAME": "/foo", "PATH_INFO": "/"}
    assert shift_path_info(environ) == ""
    assert environ["SCRIPT_NAME"] == "/foo/"
    assert environ["PATH_INFO"] == ""


def test_setup_testing_defaults_fills_every_required_key() -> None:
    environ: WSGIEnvironment = {}
    setup_testing_defaults(environ)
    assert {k: v for k, v in environ.items() if k not in ("wsgi.input", "wsgi.errors")} == {
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.0",
        "HTTP_HOST": "127.0.0.1",
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "wsgi.version": (1, 0),
        "wsgi.run_once": 0,
        "wsgi.multithread": 0,
        "wsgi.multiprocess": 0,
        "wsgi.url_scheme": "http",
        "SERVER_PORT": "80",
    }
    assert environ["wsgi.input"].read() == b""
    environ["wsgi.errors"].write("text")


def test_setup_testing_defaults_never_replaces_a_value() -> None:
    environ = {"SERVER_NAME": "s", "HTTPS": "on", "SCRIPT_NAME": "/app", "REQUEST_METHOD": "POST"}
    setup_testing_defaults(environ)
    assert environ["HTTP_HOST"] == "s"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["SERVER_PORT"] == "443"
    assert environ["REQUEST_METHOD"] == "POST"
    assert "PATH_INFO" not in environ


def test_setup_testing_defaults_sets_no_port_for_an_unknown_scheme() -> None:
    environ = {"wsgi.url_scheme": "ftp"}
    setup_testing_defaults(environ)
    assert "SERVER_PORT" not in environ


def test_setup_testing_defaults_gives_each_environ_its_own_streams() -> None:
    first: WSGIEnvironment = {}
    second: WSGIEnvironment = {}
    setup_testing_defaults(first)
    setup_testing_defaults(second)
    assert first["wsgi.input"] is not second["wsgi.input"]
    assert first["wsgi.errors"] is not second["wsgi.errors"]


# PATH_INFO and SCRIPT_NAME without a leading slash (issue 9): the stdlib glues them to
# the host or to SCRIPT_NAME's last segment, or raises; these give a URI of the same
# host and shift a segment or nothing, never an exception.


@pytest.mark.parametrize(
    ("script", "path", "uri"),
    [
        ("", "*", "http://h/"),
        ("/app", "*", "http://h/app"),
        ("", "foo", "http://h/foo"),
        ("/app", "foo", "http://h/app/foo"),
        ("", "foo/bar", "http://h/foo/bar"),
        ("/app", "foo/bar", "http://h/app/foo/bar"),
        ("", "//x", "http://h//x"),
        ("", "%2F", "http://h/%252F"),
        ("/app", "*x", "http://h/app/%2Ax"),
        ("", "\xe9", "http://h/%E9"),
        ("", "/\u20ac", "http://h/%E2%82%AC"),
        ("", "\ud800", "http://h/%ED%A0%80"),
        ("/\xe9", "\u20ac", "http://h/%E9/%E2%82%AC"),
        ("app", "/x", "http://h/app/x"),
        ("app", "", "http://h/app"),
        ("\u20ac", "", "http://h/%E2%82%AC"),
    ],
)
def test_request_uri_reads_a_path_without_a_leading_slash_as_below_the_application(
    script: str, path: str, uri: str
) -> None:
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": script}
    environ["PATH_INFO"] = path
    assert request_uri(environ) == uri


def test_request_uri_of_an_asterisk_form_request_is_the_servers_uri() -> None:
    # RFC 9112 section 3.3: for asterisk-form the target URI's path is empty, which
    # is the same URI as the path "/" (RFC 9110 section 4.2.3).
    environ = _environ(REQUEST_METHOD="OPTIONS", SCRIPT_NAME="", PATH_INFO="*")
    assert request_uri(environ) == application_uri(environ) == "http://127.0.0.1/"


def test_application_uri_never_glues_script_name_to_the_host() -> None:
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "@evil:81"}
    assert application_uri(environ) == "http://h/%40evil%3A81"


@pytest.mark.parametrize(
    ("script", "path", "name", "new_script", "new_path"),
    [
        ("/x", "foo", "foo", "/x/foo", ""),
        ("", "foo", "foo", "/foo", ""),
        ("/x", "foo/bar", "foo", "/x/foo", "/bar"),
        ("/x", "foo/", "foo", "/x/foo", "/"),
        ("/x/y", "../a", "..", "/x", "/a"),
        ("/x", "./a", "a", "/x/a", ""),
        ("/x", "%2F/\xe9", "%2F", "/x/%2F", "/\xe9"),
        ("x", "/a", "a", "/x/a", ""),
        ("x", "a", "a", "/x/a", ""),
    ],
)
def test_shift_path_info_reads_a_path_without_a_leading_slash_as_if_it_had_one(
    script: str, path: str, name: str | None, new_script: str, new_path: str
) -> None:
    environ = {"SCRIPT_NAME": script, "PATH_INFO": path}
    assert shift_path_info(environ) == name
    assert environ == {"SCRIPT_NAME": new_script, "PATH_INFO": new_path}


@pytest.mark.parametrize("script", ["", "/app", "/app/"])
def test_shift_path_info_of_asterisk_form_has_no_segment_and_changes_nothing(
    script: str,
) -> None:
    environ = {"SCRIPT_NAME": script, "PATH_INFO": "*"}
    assert shift_path_info(environ) is None
    assert environ == {"SCRIPT_NAME": script, "PATH_INFO": "*"}


# RFC 3986 section 2: the characters a URI may hold (reserved, unreserved, "%").
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_BARE_PERCENT = re.compile(r"%(?![0-9A-F]{2})")
_hosts = st.sampled_from(
    [
        ({"HTTP_HOST": "example.org"}, "example.org"),
        ({"HTTP_HOST": "h:8080"}, "h:8080"),
        ({"SERVER_NAME": "s", "SERVER_PORT": "80"}, "s"),
        ({"SERVER_NAME": "s", "SERVER_PORT": "81"}, "s:81"),
        ({"SERVER_NAME": "[::1]", "SERVER_PORT": "80"}, "[::1]"),
    ]
)
_odd_paths = st.one_of(
    st.text(),
    st.sampled_from(["", "*", "/", "//x", "foo", "foo/bar", "%", "%2F", "..", "./"]),
    st.lists(st.sampled_from(["", ".", "..", "*", "a", "%", "\xe9", "\u20ac"])).map("/".join),
)


@given(st.sampled_from(["http", "https"]), _hosts, _odd_paths, _odd_paths, st.booleans())
def test_request_uri_is_a_uri_of_the_environs_scheme_and_host_for_any_path(
    scheme: str,
    host: tuple[dict[str, str], str],
    script: str,
    path: str,
    include_query: bool,
) -> None:
    environ = {
        "wsgi.url_scheme": scheme,
        "SCRIPT_NAME": script,
        "PATH_INFO": path,
        "QUERY_STRING": "a=1&b=%20",
        **host[0],
    }
    if scheme == "https" and environ.get("SERVER_PORT") == "80":
        environ["SERVER_PORT"] = "443"
    for uri in (request_uri(environ, include_query), application_uri(environ)):
        assert _URI_CHARS.fullmatch(uri), uri
        assert not _BARE_PERCENT.search(uri), uri
        parts = urlsplit(uri)
        assert (parts.scheme, parts.netloc) == (scheme, host[1])
        assert parts.path.startswith("/")
        assert not parts.fragment
    assert urlsplit(request_uri(environ, include_query)).query == (
        "a=1&b=%20" if include_query else ""
    )
    assert request_uri(environ, include_query).startswith(application_uri(environ))


@given(_odd_paths, _odd_paths)
def test_shift_path_info_keeps_the_request_uri_for_any_path(script: str, path: str) -> None:
    environ = {"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": script}
    environ["PATH_INFO"] = path
    before = _uri_path(environ)
    for _ in range(len(path) + 1):
        snapshot = dict(environ)
        name = shift_path_info(environ)
        assert _uri_path(environ) == before
        if name is None:
            if environ["PATH_INFO"] != "":
                assert environ == snapshot  # "*" (or a trailing "/."): nothing to shift
            break
        assert "/" not in name
    else:
        pytest.fail("shift_path_info never ran out of segments")


def _uri_path(environ: WSGIEnvironment) -> str:
    # What request_uri names, up to what shift_path_info normalises: empty and "."
    # segments, ".." folded, no trailing slash but the root's.
    path = unquote(urlsplit(request_uri(environ)).path, encoding="latin-1")
    return posixpath.normpath("/" + "/".join(filter(None, path.split("/")))).rstrip("/") or "/"
