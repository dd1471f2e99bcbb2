"""The checks ``start_response`` makes, as real exceptions that hold under ``python -O``.

Where the stdlib checked with ``assert``, the same ``AssertionError`` and message are
raised explicitly; what the stdlib did not check (control characters, text that
cannot be sent as ISO-8859-1) raises ``ValueError`` with a clear message. Every check
runs before anything is stored or written.
"""

import re
import sys
from types import TracebackType
from typing import TypeAlias

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

ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType]
OptExcInfo: TypeAlias = ExcInfo | tuple[None, None, None]

# Statuses and header fields already found good: applications send the same few
# again and again, so the common case is one lookup. One bounded cache per kind of
# value; the fields' one starts a new generation when full (values like cookies vary).
_MAX_REMEMBERED = 512
_good_statuses: set[str] = set()
_MAX_FIELDS = 4096
_good_fields: dict[tuple[str, str], str] = {}  # (name, value) -> "name: value\r\n"


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


def _require_str(value: object, title: str) -> str:
    # The stdlib's _convert_string_type check and message, raised explicitly.
    if type(value) is not str:
        raise AssertionError(f"{title} must be of type str (got {value!r})")
    return value


def check_response_start(
    status: str,
    headers: list[tuple[str, str]],
    exc_info: OptExcInfo | None = None,
    headers_set: bool = False,
    headers_sent: bool = False,
) -> None:
    """Every check ``start_response`` makes on its *status* and *headers* (PEP 3333).

    With *exc_info* (a second call after an error): when the headers were sent
    already (*headers_sent*), the application's error is raised again, as PEP 3333
    says. Without it, a second call (*headers_set*) raises ``AssertionError("Headers
    already set!")``.

    Raises ``AssertionError`` (the stdlib's messages) for a non-``str`` status, name
    or value and for a hop-by-hop header; ``TypeError`` when *headers* is not a
    ``list`` of 2-item ``tuple`` pairs; ``ValueError`` for control characters, a name
    that is not a token, or text that is not ISO-8859-1. Shared by every gateway, so
    the same application gets the same verdict from ``SimpleHandler`` and the server.
    """
    if exc_info:
        try:
            if headers_sent:
                # Too late for another status: re-raise the application's error, or
                # the one being handled if exc_info holds none.
                error = exc_info[1] or sys.exc_info()[1]
                if error is None:
                    raise RuntimeError("No active exception to reraise")
                raise error.with_traceback(exc_info[2] or error.__traceback__)
        finally:
            exc_info = None  # avoid a dangling circular reference
    elif headers_set:
        raise AssertionError("Headers already set!")
    if status not in _good_statuses:
        check_status(_require_str(status, "Status"))
    if type(headers) is not list:
        raise TypeError("Headers must be a list of name/value tuples")
    good = _good_fields
    for pair in headers:
        try:
            if pair in good:  # only (str, str) tuples that passed every check are there
                continue
        except TypeError:  # unhashable: not a tuple of two str, as _field_line says
            pass
        _field_line(pair)


def _field_line(pair: tuple[str, str]) -> str:
    # The wire line of a pair, after every check (remembered once it passes).
    if type(pair) is not tuple or len(pair) != 2:
        raise TypeError(f"Headers must be a list of name/value tuples (got {pair!r})")
    name, value = pair
    check_header(_require_str(name, "Header name"), _require_str(value, "Header value"), full=True)
    line = f"{name}: {value}\r\n"
    good = _good_fields
    if len(good) >= _MAX_FIELDS:
        good.clear()  # a new generation: the pairs in use come back at once
    good[pair] = line
    return line


def serialize_pairs(pairs: list[tuple[str, str]]) -> str:
    """The header fields *pairs* as they go on the wire (``"Name: value\\r\\n"`` each,
    no blank line).

    Every pair is checked again (a list ``start_response`` accepted may have been
    changed since); a pair already found good is one dictionary lookup, anything
    else gets the full check, which raises the precise error.
    """
    good = _good_fields
    lines = []
    for pair in pairs:
        try:
            line = good.get(pair)  # only (str, str) tuples that passed every check
        except TypeError:  # unhashable: not a tuple of two str
            line = None
        lines.append(line or _field_line(pair))
    return "".join(lines)
