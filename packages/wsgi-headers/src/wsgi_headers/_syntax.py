"""Header field syntax, transcribed from RFC 9110 section 5, and the checks on it.

These checks are ordinary ``if`` statements, never ``assert``: they hold under
``python -O``.
"""

import re

# RFC 9110 section 5.6.2:
#   token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
_TCHAR = r"[-!#$%&'*+.^_`|~0-9A-Za-z]"
TOKEN = _TCHAR + "+"

# RFC 9110 section 5.5:
#   field-value = *field-content
#   field-vchar = VCHAR / obs-text        ; obs-text = %x80-FF
# with SP and HTAB allowed inside. Anything else below %x20, and DEL, is refused:
# CR, LF and NUL above all, which would end the field or the header block early.
FORBIDDEN_IN_VALUE = r"[\x00-\x08\x0a-\x1f\x7f]"

_token = re.compile(TOKEN).fullmatch
_forbidden_in_value = re.compile(FORBIDDEN_IN_VALUE).search


def check_field_name(name: str) -> str:
    """Return *name* if it is an RFC 9110 token; raise ``ValueError`` otherwise."""
    if _token(name) is None:
        raise ValueError(f"invalid header name {name!r}: not an RFC 9110 token")
    return name


def check_field_value(value: str, name: str = "") -> str:
    """Return *value* if it has no control characters but HTAB; raise ``ValueError``
    otherwise (RFC 9110 section 5.5). *name* only labels the error message."""
    if _forbidden_in_value(value) is not None:
        raise ValueError(
            f"invalid value {value!r} for header {name!r}: control characters "
            "(CR, LF, NUL, ...) are not allowed in a header value"
        )
    return value
