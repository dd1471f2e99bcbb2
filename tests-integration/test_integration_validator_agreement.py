"""The validator and the stack's own ``start_response`` agree on every status and header.

``wsgi_validate`` must not depend on ``wsgi_handlers`` (an application checker stands
on its own), so the two are written apart; this is where they are held together. For
any status string and header field, ``validator(app, report=..., strict_stdlib=False)``
records no violation exactly when ``wsgi_handlers.check_response_start`` (what
``BaseHandler`` and the server call) accepts them, with two differences stated here:

* a status code outside 100-599 (RFC 9110 §15) is refused by the validator only;
* the fields with rules of their own (``Status``, ``Content-Length``, ``ETag``) are left
  out: the validator checks what they say, ``start_response`` only their syntax.

The default ``strict_stdlib=True`` is stricter on names, as the stdlib is (a letter
first, no ``-`` or ``_`` last): that difference is the option's documented purpose.
"""

from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from wsgi_handlers import check_response_start
from wsgi_util import setup_testing_defaults
from wsgi_util.types import WSGIEnvironment
from wsgi_validate import ValidationReport, validator

_FIELD_RULE_NAMES = frozenset({"status", "content-length", "etag"})

# Characters around every boundary the rules draw: controls, HTAB, DEL, C1 controls,
# ISO-8859-1 text, and beyond U+00FF.
_CHARS = st.one_of(
    st.sampled_from("\x00\t\n\r \x1f\x7f\x80\x85\x9f\xa0\xe9\xff\u0100\u5831\U0001f600:;,()"),
    st.characters(min_codepoint=0x21, max_codepoint=0x7E),
    st.characters(max_codepoint=0x2FF),
)
_TEXT = st.text(_CHARS, max_size=12)
_STATUSES = st.one_of(
    st.builds(lambda code, reason: f"{code:03d} {reason}", st.integers(0, 999), _TEXT),
    st.builds(lambda code, rest: f"{code}{rest}", st.integers(0, 9999), _TEXT),
    _TEXT,
)
_NAMES = st.one_of(
    st.sampled_from(
        ["Content-Type", "X-A", "X.Trace", "X-Ok!", "1X", "X-", "Connection", "Keep-Alive",
         "Transfer-Encoding", "Upgrade", "TE", "X-Ça", "X-😀", "X Y", "X:Y", ""]
    ),
    _TEXT,
)  # fmt: skip
_HEADERS = st.lists(st.tuples(_NAMES, _TEXT), max_size=3)


def _server_accepts(status: str, headers: list[tuple[str, str]]) -> bool:
    try:
        check_response_start(status, headers)
    except (AssertionError, ValueError, TypeError):
        return False
    return True


def _validator_accepts(status: str, headers: list[tuple[str, str]]) -> set[str]:
    """Return the rules the validator finds broken (empty: accepted)."""

    def app(environ: WSGIEnvironment, start_response: Any) -> list[bytes]:
        start_response(status, headers)
        return []

    environ: WSGIEnvironment = {"QUERY_STRING": ""}
    setup_testing_defaults(environ)
    report = ValidationReport()
    result: Any = validator(app, report=report, strict_stdlib=False)(
        environ, lambda *args: lambda data: None
    )
    result.close()
    return report.rules()


def _code_in_range(status: str) -> bool:
    code = status[:3]
    return code.isascii() and code.isdigit() and 100 <= int(code) <= 599


@settings(max_examples=600, deadline=None)
@given(_STATUSES, _HEADERS)
def test_property_validator_accepts_exactly_what_start_response_accepts(
    status: str, headers: list[tuple[str, str]]
) -> None:
    assume(all(name.lower() not in _FIELD_RULE_NAMES for name, _value in headers))
    broken = _validator_accepts(status, headers)
    expected = _server_accepts(status, headers) and _code_in_range(status)
    assert (not broken) is expected, (status, headers, broken)


@settings(max_examples=300, deadline=None)
@given(_TEXT, _TEXT)
def test_property_iso_8859_1_is_the_line_for_both(reason: str, value: str) -> None:
    status, headers = f"200 {reason}", [("X-Text", value)]
    wide = any(ord(c) > 0xFF for c in reason + value)
    broken = _validator_accepts(status, headers)
    if wide:
        assert not _server_accepts(status, headers)
        assert broken & {"status-latin-1", "header-value-latin-1"}
    if not broken:
        assert _server_accepts(status, headers)
