"""Header field syntax, transcribed from RFC 9110 section 5, and the checks on it.

These checks are ordinary ``if`` statements, never ``assert``: they hold under
``python -O``.
"""

import re

# RFC 9110 section 5.6.2:
#   token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
#           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
TOKEN = r"[-!#$%&'*+.^_`|~0-9A-Za-z]+"

# RFC 9110 section 5.5:
#   field-value = *field-content
#   field-vchar = VCHAR / obs-text        ; obs-text = %x80-FF
# with SP and HTAB allowed inside. Anything else below %x20, and DEL, is refused:
# CR, LF and NUL above all, which would end the field or the header block early.
VALUE = r"[^\x00-\x08\x0a-\x1f\x7f]*"

_token = re.compile(TOKEN).fullmatch
_value = re.compile(VALUE).fullmatch

valid_names: set[str] = set()
"""Names already found to be tokens, so that the common ones (``Content-Type``, ...)
are matched once per process. Bounded: distinct names cannot grow it without end."""
_MAX_REMEMBERED_NAMES = 1024


def check_field_name(name: str) -> str:
    """Return *name* if it is an RFC 9110 token; raise ``ValueError`` otherwise."""
    if name not in valid_names:
        if _token(name) is None:
            raise ValueError(f"invalid header name {name!r}: not an RFC 9110 token")
        if len(valid_names) < _MAX_REMEMBERED_NAMES:
            valid_names.add(name)
    return name


def check_field_value(value: str, name: str = "") -> str:
    """Return *value* if it has no control characters but HTAB; raise ``ValueError``
    otherwise (RFC 9110 section 5.5). *name* only labels the error message."""
    # isprintable() is a fast exact pass for the usual value; tabs and some non-ASCII
    # characters are not "printable" yet allowed, so those take the regular expression.
    if not value.isprintable() and _value(value) is None:
        raise ValueError(
            f"invalid value {value!r} for header {name!r}: control characters "
            "(CR, LF, NUL, ...) are not allowed in a header value"
        )
    return value
