"""``Headers``: a list of response header pairs with a case-insensitive mapping view.

Drop-in for ``wsgiref.headers.Headers``: the same methods, the same sharing of the
list it is given, the same ``AssertionError`` for a name or value that is not a
``str``. Beyond it, every way a header enters is checked against RFC 9110, and
``str()``/``bytes()`` check every pair again, so nothing that could split or end the
header block early (CR, LF, NUL, other controls, a name that is not a token) reaches
the wire, also when the shared list was changed behind the object's back.
"""

import re
from typing import overload

from wsgi_headers._syntax import check_field_name, check_field_value, valid_names

# Characters that force a MIME parameter value into quotes (as in ``wsgiref.headers``).
tspecials = re.compile(r'[ \(\)<>@,;:\\"/\[\]\?=]')

_HeaderList = list[tuple[str, str]]


def _require_str(value: object) -> str:
    # The stdlib's check and message; raised explicitly so it survives ``python -O``.
    if type(value) is not str:
        raise AssertionError(f"Header names/values must be of type str (got {value!r})")
    return value


def _checked(name: str, value: str) -> tuple[str, str]:
    """Return the pair if it is well-formed; raise ``AssertionError`` for a non-str,
    ``ValueError`` for bad syntax."""
    if name in valid_names and type(value) is str and value.isprintable():
        return name, value  # the fast path: a known name and a plain value
    return check_field_name(_require_str(name)), check_field_value(_require_str(value), name)


def _format_param(param: str, value: str | None) -> str:
    # Always quoted, as wsgiref's add_header does; backslash and quote escaped.
    if value:
        escaped = value.replace("\\", "\\\\").replace('"', r"\"")
        return f'{param}="{escaped}"'
    return param


class Headers:
    """Manage a collection of HTTP response headers.

    *headers* must be a ``list`` of ``(name, value)`` string pairs (else
    ``TypeError``). The list is used in place, not copied: changes through this object
    show in it. Names are tokens (RFC 9110 section 5.6.2); values carry no control
    character but HTAB (section 5.5); anything else raises ``ValueError``.
    """

    def __init__(self, headers: _HeaderList | None = None) -> None:
        headers = headers if headers is not None else []
        if type(headers) is not list:
            raise TypeError("Headers must be a list of name/value tuples")
        for name, value in headers:
            if name not in valid_names or type(value) is not str or not value.isprintable():
                _checked(name, value)  # the slow path: raises, or accepts a tab, say
        self._headers = headers

    def __len__(self) -> int:
        """Return the total number of headers, including duplicates."""
        return len(self._headers)

    def __setitem__(self, name: str, val: str) -> None:
        """Set the value of a header, replacing every earlier one of that name."""
        pair = _checked(name, val)
        lowered = name.lower()
        self._headers[:] = [kv for kv in self._headers if kv[0].lower() != lowered]
        self._headers.append(pair)

    def __delitem__(self, name: str) -> None:
        """Delete all occurrences of a header; a missing header is no error."""
        if type(lowered := name.lower()) is not str:
            _require_str(lowered)
        self._headers[:] = [kv for kv in self._headers if kv[0].lower() != lowered]

    def __getitem__(self, name: str) -> str | None:
        """Return the first value for *name*, or ``None`` if it is missing."""
        return self.get(name)

    def __contains__(self, name: str) -> bool:
        """Return true if a header named *name* is present."""
        return self.get(name) is not None

    def get_all(self, name: str) -> list[str]:
        """Return every value for *name* in list order (``[]`` if none)."""
        if type(lowered := name.lower()) is not str:
            _require_str(lowered)
        return [v for k, v in self._headers if k.lower() == lowered]

    @overload
    def get(self, name: str, default: str) -> str: ...
    @overload
    def get(self, name: str, default: str | None = None) -> str | None: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """Return the first value for *name*, or *default* if it is missing."""
        if type(lowered := name.lower()) is not str:
            _require_str(lowered)
        for k, v in self._headers:
            if k.lower() == lowered:
                return v
        return default

    def keys(self) -> list[str]:
        """Return all header names in list order, duplicates included."""
        return [k for k, _ in self._headers]

    def values(self) -> list[str]:
        """Return all header values in list order, duplicates included."""
        return [v for _, v in self._headers]

    def items(self) -> _HeaderList:
        """Return a copy of the ``(name, value)`` list."""
        return self._headers[:]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._headers!r})"

    def __str__(self) -> str:
        """Return the header block, each field ending in CRLF, then a blank line.

        Raises ``ValueError`` if the shared list now holds a malformed header.
        """
        pairs = self._headers
        # One pass formats the known-good pairs; if any pair was left out (or a value
        # is no str at all), the full check below raises, or accepts it (a tab, say).
        try:
            lines = [f"{k}: {v}\r\n" for k, v in pairs if k in valid_names and v.isprintable()]
        except AttributeError:
            lines = []
        if len(lines) != len(pairs):
            lines = [f"{k}: {v}\r\n" for k, v in (_checked(k, v) for k, v in pairs)]
        lines.append("\r\n")
        return "".join(lines)

    def __bytes__(self) -> bytes:
        """Return ``str(self)`` encoded as ISO-8859-1, the wire form."""
        return str(self).encode("iso-8859-1")

    def setdefault(self, name: str, value: str) -> str:
        """Return the first value for *name*; if there is none, add *value* and
        return it."""
        if type(lowered := name.lower()) is not str:
            _require_str(lowered)
        for k, v in self._headers:  # get(), inlined: a response sets several defaults
            if k.lower() == lowered:
                return v
        self._headers.append(_checked(name, value))
        return value

    def add_header(self, _name: str, _value: str | None, **_params: str | None) -> None:
        """Add a header with optional MIME parameters.

        Each keyword becomes a parameter, underscores turned to dashes: ``key="value"``
        (quoted and escaped), or a bare ``key`` when the value is ``None``. Example::

            h.add_header("content-disposition", "attachment", filename="bud.gif")
        """
        parts = []
        if _value is not None:
            parts.append(_value if type(_value) is str else _require_str(_value))
        for key, value in _params.items():
            param = key.replace("_", "-")
            if param not in valid_names:
                check_field_name(param)
            if value is None:
                parts.append(param)
            else:
                parts.append(
                    _format_param(param, value if type(value) is str else _require_str(value))
                )
        joined = "; ".join(parts)
        if _name in valid_names and joined.isprintable():
            self._headers.append((_name, joined))
        else:
            self._headers.append(_checked(_name, joined))
