"""start_response and write refuse what must not reach the wire, also under python -O."""

import io
import re
import subprocess
import sys
import wsgiref.handlers as ref
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsgi_handlers import SimpleHandler

MakeEnviron = Callable[..., dict[str, Any]]


def handler(environ: dict[str, Any]) -> tuple[SimpleHandler, io.BytesIO]:
    out = io.BytesIO()
    h = SimpleHandler(io.BytesIO(), out, io.StringIO(), environ)
    h.setup_environ()
    return h, out


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("200", "Status must be at least 4 characters"),
        ("", "Status must be at least 4 characters"),
        ("abc OK", "Status message must begin w/3-digit code"),
        ("2x0 OK", "Status message must begin w/3-digit code"),
        ("\u0661\u0662\u0663 OK", "Status message must begin w/3-digit code"),
        ("200OK", "Status message must have a space after code"),
        ("2000 OK", "Status message must have a space after code"),
    ],
)
def test_a_malformed_status_raises_the_stdlib_assertion(
    status: str, message: str, environ: dict[str, Any]
) -> None:
    h, out = handler(environ)
    with pytest.raises(AssertionError, match=message):
        h.start_response(status, [])
    assert h.status is None
    assert h.headers is None
    assert out.getvalue() == b""


@pytest.mark.parametrize(
    "status", ["200 OK\r\nX-Injected: 1", "200 OK\n", "200 O\x00K", "200 \x7f", "200 \u20ac"]
)
def test_control_characters_or_non_latin1_in_the_status_raise_value_error(
    status: str, environ: dict[str, Any]
) -> None:
    h, out = handler(environ)
    with pytest.raises(ValueError, match="invalid status"):
        h.start_response(status, [])
    assert h.status is None
    assert out.getvalue() == b""


def test_a_reason_phrase_may_be_empty_or_hold_tabs_and_latin1(environ: dict[str, Any]) -> None:
    for status in ["200 ", "200 OK\tfine", "200 Tr\xe8s bien"]:
        h, _ = handler(environ)
        h.start_response(status, [])
        assert h.status == status


@pytest.mark.parametrize("status", [200, b"200 OK", None])
def test_a_status_that_is_not_str_raises_the_stdlib_assertion(
    status: object, environ: dict[str, Any]
) -> None:
    h, _ = handler(environ)
    with pytest.raises(AssertionError, match=r"Status must be of type str \(got "):
        h.start_response(status, [])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [[(b"X", "v")], [("X", b"v")], [("X", 1)]],
)
def test_header_names_and_values_that_are_not_str_raise_assertion_error(
    headers: list[tuple[Any, Any]], environ: dict[str, Any]
) -> None:
    h, _ = handler(environ)
    with pytest.raises(AssertionError, match="must be of type str"):
        h.start_response("200 OK", headers)
    with pytest.raises(AssertionError, match="must be of type str") as theirs:
        ref.SimpleHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), environ).start_response(
            "200 OK", headers
        )
    assert "must be of type str" in str(theirs.value)


def test_headers_that_are_not_a_list_raise_type_error(environ: dict[str, Any]) -> None:
    h, _ = handler(environ)
    with pytest.raises(TypeError, match="Headers must be a list"):
        h.start_response("200 OK", (("A", "b"),))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["Connection", "keep-alive", "TE", "Trailers", "Transfer-Encoding", "Upgrade"]
)
def test_a_hop_by_hop_header_raises_the_stdlib_assertion(
    name: str, environ: dict[str, Any]
) -> None:
    h, out = handler(environ)
    with pytest.raises(AssertionError, match=f"^Hop-by-hop header, '{name}: x', not allowed$"):
        h.start_response("200 OK", [("Content-Type", "text/plain"), (name, "x")])
    assert h.headers is None
    assert out.getvalue() == b""


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-A", "a\r\nSet-Cookie: evil=1"),
        ("X-A", "a\nb"),
        ("X-A", "a\x00b"),
        ("X A", "v"),
        ("X-A\r\n", "v"),
        ("", "v"),
        ("X:Y", "v"),
    ],
)
def test_control_characters_in_header_names_or_values_raise_value_error(
    name: str, value: str, environ: dict[str, Any]
) -> None:
    h, out = handler(environ)
    with pytest.raises(ValueError, match="invalid"):
        h.start_response("200 OK", [(name, value)])
    assert h.headers is None
    assert out.getvalue() == b""


def test_a_value_that_is_not_latin1_raises_before_anything_is_written(
    environ: dict[str, Any],
) -> None:
    h, out = handler(environ)
    with pytest.raises(ValueError, match="ISO-8859-1"):
        h.start_response("200 OK", [("X-Name", "J\u00fcrgen \u20ac")])
    assert out.getvalue() == b""


def test_latin1_values_are_sent_as_latin1_bytes(environ: dict[str, Any]) -> None:
    h, out = handler(environ)
    h.start_response("200 OK", [("X-Name", "J\xfcrgen")])
    h.finish_content()
    assert b"X-Name: J\xfcrgen\r\n" in out.getvalue()


def test_a_header_list_spoiled_after_start_response_is_refused_before_any_byte(
    environ: dict[str, Any],
) -> None:
    h, out = handler(environ)
    headers = [("X-A", "fine")]
    h.start_response("200 OK", headers)
    headers.append(("X-B", "bad\r\nX-Injected: 1"))
    with pytest.raises(ValueError, match="invalid value"):
        h.write(b"body")
    assert out.getvalue() == b""


def test_a_spoiled_header_list_gives_the_client_the_error_page(
    make_environ: MakeEnviron,
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        headers = [("X-A", "fine")]
        start_response("200 OK", headers)
        headers.append(("X-B", "\u20ac"))
        return [b"body"]

    out, err = io.BytesIO(), io.StringIO()
    SimpleHandler(io.BytesIO(), out, err, make_environ()).run(app)
    assert out.getvalue().startswith(b"HTTP/1.0 500 Internal Server Error\r\n")
    assert b"X-B" not in out.getvalue()
    assert "UnicodeEncodeError" in err.getvalue() or "ValueError" in err.getvalue()


def test_a_second_start_response_without_exc_info_raises(environ: dict[str, Any]) -> None:
    h, _ = handler(environ)
    h.start_response("200 OK", [])
    with pytest.raises(AssertionError, match=r"^Headers already set!$"):
        h.start_response("404 Not Found", [])
    assert h.status == "200 OK"


def test_start_response_with_exc_info_replaces_unsent_headers(environ: dict[str, Any]) -> None:
    h, _ = handler(environ)
    h.start_response("200 OK", [("A", "1")])
    try:
        raise KeyError("x")
    except KeyError:
        h.start_response("500 Oops", [("B", "2")], sys.exc_info())
    assert h.status == "500 Oops"
    assert h.headers is not None
    assert h.headers.items() == [("B", "2")]


def test_start_response_with_exc_info_after_headers_were_sent_reraises_it(
    environ: dict[str, Any],
) -> None:
    h, _ = handler(environ)
    h.start_response("200 OK", [])
    h.write(b"x")
    try:
        raise KeyError("the app's error")
    except KeyError:
        info = sys.exc_info()
    with pytest.raises(KeyError, match="the app's error"):
        h.start_response("500 Oops", [], info)


def test_write_refuses_str_with_the_stdlib_assertion(environ: dict[str, Any]) -> None:
    h, _ = handler(environ)
    h.start_response("200 OK", [])
    with pytest.raises(AssertionError, match=r"^write\(\) argument must be a bytes instance$"):
        h.write("text")  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="must be a bytes instance"):
        h.write(bytearray(b"x"))  # type: ignore[arg-type]


def test_write_before_start_response_raises(environ: dict[str, Any]) -> None:
    h, _ = handler(environ)
    with pytest.raises(AssertionError, match=r"^write\(\) before start_response\(\)$"):
        h.write(b"x")


def test_an_app_that_never_calls_start_response_gets_a_clear_error(
    make_environ: MakeEnviron,
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return []

    out, err = io.BytesIO(), io.StringIO()
    SimpleHandler(io.BytesIO(), out, err, make_environ()).run(app)
    assert "AssertionError: start_response() was not called" in err.getvalue()
    assert out.getvalue().startswith(b"HTTP/1.0 500 ")


_OPTIMIZED_CHECK = """
import io
import re
from wsgi_handlers import SimpleHandler
env = {"SERVER_PROTOCOL": "HTTP/1.0", "REQUEST_METHOD": "GET"}
results = []
cases = [("200", []), ("200 OK\\r\\nX: y", []), ("200 OK", [("Connection", "close")]),
         ("200 OK", [("X", "\\u20ac")]), ("200 OK", [("X", "a\\r\\nb")])]
for status, headers in cases:
    h = SimpleHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), env)
    h.setup_environ()
    try:
        h.start_response(status, headers)
    except (AssertionError, ValueError) as exc:
        results.append(type(exc).__name__)
    else:
        results.append("accepted")
h = SimpleHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), env)
h.setup_environ()
h.start_response("200 OK", [])
try:
    h.write("str")
except AssertionError:
    results.append("AssertionError")
print(" ".join(results))
"""


def test_the_checks_hold_under_python_dash_o() -> None:
    proc = subprocess.run(
        [sys.executable, "-O", "-c", _OPTIMIZED_CHECK],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stdout.split() == [
        "AssertionError",
        "ValueError",
        "AssertionError",
        "ValueError",
        "ValueError",
        "AssertionError",
    ]


@given(
    st.text(
        alphabet=st.characters(codec="latin-1", exclude_characters="\t"), min_size=0, max_size=12
    )
)
def test_any_status_either_passes_whole_or_is_refused(reason: str) -> None:
    status = "200 " + reason
    h = SimpleHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), {"SERVER_PROTOCOL": "HTTP/1.0"})
    h.setup_environ()
    controls = any(ord(c) < 0x20 or ord(c) == 0x7F for c in reason)
    if controls:
        with pytest.raises(ValueError, match="invalid status"):
            h.start_response(status, [])
    else:
        h.start_response(status, [])
        h.finish_content()
        assert h.stdout.getvalue().startswith(f"HTTP/1.0 {status}\r\n".encode("latin-1"))  # type: ignore[attr-defined]


def test_a_value_replaced_by_a_non_str_after_start_response_is_refused(
    environ: dict[str, Any],
) -> None:
    h, out = handler(environ)
    headers = [("Content-Type", "text/plain")]
    h.start_response("200 OK", headers)
    headers[0] = ("Content-Type", 42)  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="must be of type str"):
        h.write(b"body")
    assert out.getvalue() == b""


_NAME = st.sampled_from(["Content-Type", "Set-Cookie", "X-Custom", "x-a", "Date", "Server"])
_VALUE = st.text(alphabet=st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=10)


@given(st.lists(st.tuples(_NAME, _VALUE), max_size=6), st.booleans())
def test_the_header_block_is_the_one_headers_would_write(
    pairs: list[tuple[str, str]], one_block: bool
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", list(pairs))
        return [b"xyz"] if one_block else iter([b"xyz"])

    environ = {"SERVER_PROTOCOL": "HTTP/1.0", "REQUEST_METHOD": "GET"}
    ours, theirs = io.BytesIO(), io.BytesIO()
    SimpleHandler(io.BytesIO(), ours, io.StringIO(), dict(environ)).run(app)
    ref.SimpleHandler(io.BytesIO(), theirs, io.StringIO(), dict(environ)).run(app)
    date = re.compile(rb"Date: [^\r]*\r\n")
    assert date.sub(b"", ours.getvalue()) == date.sub(b"", theirs.getvalue())


def test_start_response_with_an_empty_exc_info_after_headers_reraises_the_current_error(
    environ: dict[str, Any],
) -> None:
    h, _ = handler(environ)
    h.start_response("200 OK", [])
    h.write(b"x")
    with pytest.raises(RuntimeError, match="No active exception to reraise"):
        h.start_response("500 Oops", [], (None, None, None))
    try:
        raise KeyError("being handled")
    except KeyError:
        with pytest.raises(KeyError, match="being handled"):
            h.start_response("500 Oops", [], (None, None, None))
