"""The checks ``start_response`` makes, as real exceptions that hold under ``python -O``.

Where the stdlib checked with ``assert``, the same ``AssertionError`` and message are
raised explicitly; what the stdlib did not check (control characters, text that
cannot be sent as ISO-8859-1) raises ``ValueError`` with a clear message. Every check
runs before anything is stored or written.
"""

import re

from wsgi_headers import check_field_name, check_field_value
from wsgi_util import HOP_BY_HOP_HEADERS

# RFC 9112 section 4:
#   status-line   = HTTP-version SP status-code SP [ reason-phrase ]
#   status-code   = 3DIGIT
#   reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )
# A WSGI status is "status-code SP [ reason-phrase ]" (PEP 3333); the stdlib allows
# an empty reason, so do we.
_well_formed_status = re.compile(r"[0-9]{3} [\t\x20-\x7e\x80-\xff]*").fullmatch

# Field values go out as ISO-8859-1 (RFC 9110 section 5.5: VCHAR / obs-text, SP, HTAB).
_not_sendable_in_value = re.compile(r"[^\t\x20-\x7e\x80-\xff]").search

_is_hop_by_hop_lower = HOP_BY_HOP_HEADERS.__contains__

# Statuses and header names already found good: applications send the same few
# again and again, so the common case is one set lookup. Bounded, never evicted.
_MAX_REMEMBERED = 512
_good_statuses: set[str] = set()
_good_names: set[str] = {
    "Cache-Control",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Length",
    "Content-Type",
    "Date",
    "ETag",
    "Last-Modified",
    "Location",
    "Server",
    "Set-Cookie",
    "Vary",
}


def check_status(status: str) -> None:
    """Raise unless *status* (a ``str``) is a 3-digit code, a space and a reason."""
    if status in _good_statuses:
        return
    if _well_formed_status(status) is not None:
        if len(_good_statuses) < _MAX_REMEMBERED:
            _good_statuses.add(status)
        return
    if len(status) < 4:
        raise AssertionError("Status must be at least 4 characters")
    code = status[:3]
    if not (code.isascii() and code.isdigit()):
        raise AssertionError("Status message must begin w/3-digit code")
    if status[3] != " ":
        raise AssertionError("Status message must have a space after code")
    raise ValueError(
        f"invalid status {status!r}: the reason phrase may hold no control characters "
        "(CR, LF, NUL, ...) and only ISO-8859-1 text"
    )


def check_header(name: str, value: str, *, full: bool) -> None:
    """Raise if the pair must not reach the wire from an application.

    *full* also re-checks the RFC 9110 field syntax, for a ``headers_class`` that
    does not check it itself.
    """
    if _is_hop_by_hop_lower(name.lower()):
        raise AssertionError(f"Hop-by-hop header, '{name}: {value}', not allowed")
    if full:
        check_field_name(name)
        check_field_value(value, name)
    if not value.isascii() and _not_sendable_in_value(value) is not None:
        raise ValueError(
            f"invalid value {value!r} for header {name!r}: a header value must be "
            "ISO-8859-1 text (encode other text, e.g. RFC 8187)"
        )


def check_app_headers(headers: list[tuple[str, str]]) -> None:
    """``check_header`` for every pair of *headers*, already known to be ``str`` pairs
    with valid RFC 9110 syntax (``wsgi_headers.Headers`` accepted them)."""
    for name, value in headers:
        if name not in _good_names:
            if _is_hop_by_hop_lower(name.lower()):
                raise AssertionError(f"Hop-by-hop header, '{name}: {value}', not allowed")
            if len(_good_names) < _MAX_REMEMBERED:
                _good_names.add(name)
        if not value.isascii() and _not_sendable_in_value(value) is not None:
            check_header(name, value, full=False)


def serialize_known_good(pairs: list[tuple[str, str]]) -> bytes | None:
    """The header block of *pairs* on the wire, or None if a pair needs a full check.

    The fast path for pairs ``start_response`` has already seen: every name one
    known to be a token (and not hop-by-hop), every value a ``str`` of sendable
    ISO-8859-1 text. Anything else returns None and the caller falls back to
    ``bytes(headers)``, which checks everything and raises the precise error.
    """
    good_names = _good_names
    lines = []
    values = []
    for name, value in pairs:
        if name not in good_names or type(value) is not str:
            return None
        lines.append(f"{name}: {value}\r\n")
        values.append(value)
    if _not_sendable_in_value("".join(values)) is not None:
        return None
    lines.append("\r\n")
    return "".join(lines).encode("iso-8859-1")
