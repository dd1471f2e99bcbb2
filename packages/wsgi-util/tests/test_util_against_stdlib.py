"""Parity with ``wsgiref.util``/``wsgiref.types``: same public names, same signatures,
and the same answers on generated environs (hypothesis)."""

import inspect
import posixpath
import wsgiref.types
import wsgiref.util
from typing import Any

import wsgi_util
import wsgi_util.types
from hypothesis import given
from hypothesis import strategies as st
from wsgi_util import application_uri, request_uri, shift_path_info

_UTIL_NAMES = [*wsgiref.util.__all__, "is_hop_by_hop"]


def test_every_public_name_of_wsgiref_util_exists_with_the_same_signature() -> None:
    for name in _UTIL_NAMES:
        ours, theirs = getattr(wsgi_util, name), getattr(wsgiref.util, name)
        assert _bare_signature(ours) == _bare_signature(theirs), name


def test_every_public_name_of_wsgiref_types_exists() -> None:
    for name in wsgiref.types.__all__:
        assert hasattr(wsgi_util.types, name), name
    assert sorted(wsgi_util.types.__all__) == sorted(wsgiref.types.__all__)


def test_protocol_members_match_wsgiref_types() -> None:
    for name in ("StartResponse", "InputStream", "ErrorStream", "FileWrapper"):
        ours, theirs = getattr(wsgi_util.types, name), getattr(wsgiref.types, name)
        members = {
            m for m in vars(theirs) if not m.startswith("_") or m in ("__call__", "__iter__")
        }
        for member in members:
            assert _bare_signature(getattr(ours, member)) == _bare_signature(
                getattr(theirs, member)
            ), f"{name}.{member}"


def _bare_signature(obj: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values()]


_segment = st.sampled_from(["", ".", "..", "a", "b c", "\xe9", "x;y", "%2F"])
_path = st.lists(_segment, max_size=5).map(lambda parts: "/".join(["", *parts]) if parts else "")
_environs = st.fixed_dictionaries(
    {
        "wsgi.url_scheme": st.sampled_from(["http", "https"]),
        "SERVER_NAME": st.sampled_from(["localhost", "example.org", "127.0.0.1"]),
        "SERVER_PORT": st.sampled_from(["80", "443", "8000"]),
    },
    optional={
        "HTTP_HOST": st.sampled_from(["", "h", "h:81"]),
        "SCRIPT_NAME": _path,
        "PATH_INFO": _path,
        "QUERY_STRING": st.sampled_from(["", "a=1", "a=%20&b"]),
    },
)


@given(_environs, st.booleans())
def test_request_and_application_uri_agree_with_wsgiref(
    environ: dict[str, str], include_query: bool
) -> None:
    assert application_uri(environ) == wsgiref.util.application_uri(environ)
    assert request_uri(environ, include_query) == wsgiref.util.request_uri(environ, include_query)


@given(_path, _path)
def test_shift_path_info_agrees_with_wsgiref(script: str, path: str) -> None:
    ours: dict[str, Any] = {"SCRIPT_NAME": script, "PATH_INFO": path}
    theirs = dict(ours)
    assert shift_path_info(ours) == wsgiref.util.shift_path_info(theirs)
    assert ours == theirs


@given(_path, _path)
def test_shift_path_info_keeps_script_name_plus_path_info(script: str, path: str) -> None:
    environ: dict[str, Any] = {"SCRIPT_NAME": script, "PATH_INFO": path}
    before = _normalised(script + path)
    while shift_path_info(environ) is not None:
        assert _normalised(environ["SCRIPT_NAME"] + environ["PATH_INFO"]) == before
    assert environ["PATH_INFO"] == ""


def _normalised(path: str) -> str:
    # The form shift_path_info keeps invariant: ".." folded, empty and "." segments
    # dropped, no trailing slash except the root.
    return posixpath.normpath("/" + "/".join(filter(None, path.split("/")))).rstrip("/") or "/"
