"""The checks on environ, the status and the headers, in the stdlib's order.

Each public ``check_*`` function is ``wsgiref.validate``'s, same signature and
messages, raising ``AssertionError`` explicitly (never ``assert``). Each has a private
twin taking the request's ``_Exchange``, which is what the validator calls: there a
broken rule may be recorded instead of raised, so the code after every ``fail`` must
go on safely.

Rules the stdlib does not check run after the stdlib's checks of the same phase, so
that whenever the stdlib raises, the first message raised here is the same one.
"""

import re
from types import TracebackType
from typing import Any, NamedTuple

from wsgi_util import HOP_BY_HOP_HEADERS

from wsgi_validate._context import STDLIB_EXCHANGE, STDLIB_POLICY, _Exchange

# RFC 9110 section 5.6.2: token = 1*tchar; tchar = "!" / "#" / "$" / "%" / "&" / "'" /
# "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
_TCHAR = r"[-!#$%&'*+.^_`|~0-9A-Za-z]"

header_re = re.compile(r"^[a-zA-Z]" + _TCHAR + r"*$")
"""Header names by default: a letter, then RFC 9110 token characters.

The stdlib allows only letters, digits, ``-`` and ``_`` after the letter, refusing
valid names such as ``X.Trace`` or ``X-Ok!``; those are accepted here.
"""

_token_re = re.compile(_TCHAR + r"+")
"""Header names with ``strict_stdlib=False``: any RFC 9110 token (RFC 9110 §5.1)."""

# RFC 9110 section 5.5: field-value = *field-content, with SP and HTAB allowed inside;
# every other control character, DEL included, is refused. The stdlib refuses HTAB
# (a false positive) and lets DEL through.
bad_header_value_re = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""A character not allowed in a header value or a status line."""
_stdlib_bad_value = re.compile(r"[\x00-\x08\x0a-\x1f]").search

# PEP 3333 §Unicode Issues: every "string" holds only code points U+0000..U+00FF.
_not_latin_1 = re.compile(r"[^\x00-\xff]").search

# RFC 9110 section 8.8.3: entity-tag = [ weak ] opaque-tag; weak = %s"W/";
# opaque-tag = DQUOTE *etagc DQUOTE; etagc = %x21 / %x23-7E / obs-text
_entity_tag = re.compile(r'(?:W/)?"[\x21\x23-\x7e\x80-\xff]*"').fullmatch

_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "OPTIONS", "PATCH", "PUT", "DELETE", "TRACE"})
_REQUIRED_KEYS = (
    "REQUEST_METHOD",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.version",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)
_REQUIRED_KEY_SET = frozenset(_REQUIRED_KEYS)
# PEP 3333 §environ Variables: REQUEST_METHOD "cannot ever be an empty string";
# SERVER_NAME and SERVER_PORT "are required strings and must never be empty".
_NEVER_EMPTY = ("REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT")
_INPUT_ATTRIBUTES = ("read", "readline", "readlines", "__iter__")
_ERRORS_ATTRIBUTES = ("flush", "write", "writelines")
_NO_MESSAGE_BODY = (204, 304)


def assert_(cond: object, *args: object) -> None:
    """Raise ``AssertionError(*args)`` unless *cond* is true (holds under ``-O``)."""
    if not cond:
        raise AssertionError(*args)


def check_string_type(value: Any, title: str) -> str:
    """Return *value* if it is exactly a ``str``; raise ``AssertionError`` otherwise."""
    if type(value) is str:
        return value
    raise AssertionError(f"{title} must be of type str (got {value!r})")


# -- environ -------------------------------------------------------------------------


def check_environ(environ: Any) -> None:
    """Check the environ dict a server passes (PEP 3333 "environ Variables")."""
    _check_environ(environ, _Exchange(STDLIB_POLICY))


def _check_environ(environ: Any, ex: _Exchange) -> None:  # noqa: PLR0912
    if type(environ) is not dict:
        ex.fail("environ-type", type(environ), environ)
        if not isinstance(environ, dict):
            return
    if not environ.keys() >= _REQUIRED_KEY_SET:
        for key in _REQUIRED_KEYS:
            if key not in environ:
                ex.fail("environ-required-key", key)
    if "HTTP_CONTENT_TYPE" in environ or "HTTP_CONTENT_LENGTH" in environ:
        for key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            if key in environ:
                ex.fail("environ-http-content-header", key, key[5:])
    policy = ex.policy
    if policy.strict and "QUERY_STRING" not in environ:
        ex.fail("environ-query-string")
    # One pass over the CGI variables (keys without a dot: extensions may hold any
    # type) for two rules, str values and ISO-8859-1 text (isascii() is its fast pass).
    try:
        suspects = [
            k
            for k, v in environ.items()
            if "." not in k and not (type(v) is str and v.isascii() and k.isascii())
        ]
    except TypeError:  # a key that is not a str ("." in 1 raises)
        for key in [k for k in environ if type(k) is not str]:
            ex.fail("environ-key-type", key)
        suspects = [
            k
            for k, v in environ.items()
            if type(k) is str
            and "." not in k
            and not (type(v) is str and v.isascii() and k.isascii())
        ]
    for key in [k for k in suspects if type(environ[k]) is not str]:
        value = environ[key]
        ex.fail("environ-value-type", key, type(value), value)

    version = environ.get("wsgi.version")
    if type(version) is not tuple and "wsgi.version" in environ:
        ex.fail("environ-wsgi-version", version)
    if "wsgi.url_scheme" not in environ:
        # The stdlib fails here with KeyError('wsgi.url_scheme').
        ex.fail("environ-required-key", "wsgi.url_scheme")
    elif environ["wsgi.url_scheme"] not in ("http", "https"):
        ex.fail("environ-url-scheme", environ["wsgi.url_scheme"])
    if "wsgi.input" in environ:
        _check_input(environ["wsgi.input"], ex)
    if "wsgi.errors" in environ:
        _check_errors(environ["wsgi.errors"], ex)

    method = environ.get("REQUEST_METHOD")
    if policy.strict and type(method) is str and method not in _KNOWN_METHODS:
        ex.fail("environ-request-method", method)
    ex.head = method == "HEAD"

    _check_environ_paths(environ, ex)
    # After every stdlib check, so that the first message is the stdlib's.
    if type(version) is tuple and version != (1, 0):
        ex.fail("environ-wsgi-version-value", version)
    for key in _NEVER_EMPTY:
        if environ.get(key) == "":
            ex.fail("environ-empty-value", key)
    for key in suspects:
        _check_environ_latin_1(key, environ[key], ex)
    if "wsgi.file_wrapper" in environ and not callable(environ["wsgi.file_wrapper"]):
        ex.fail("file-wrapper-callable", environ["wsgi.file_wrapper"])


def _check_environ_latin_1(key: str, value: object, ex: _Exchange) -> None:
    bad = _not_latin_1(key) or (_not_latin_1(value) if type(value) is str else None)
    if bad is not None:
        char = bad.group(0)
        ex.fail("environ-latin-1", key, char, ord(char), value)


def _check_environ_paths(environ: dict[str, Any], ex: _Exchange) -> None:
    script_name = environ.get("SCRIPT_NAME")
    if script_name and type(script_name) is str and not script_name.startswith("/"):
        ex.fail("environ-script-name", script_name)
    path_info = environ.get("PATH_INFO")
    if path_info and type(path_info) is str and not path_info.startswith("/"):
        ex.fail("environ-path-info", path_info)
    content_length = environ.get("CONTENT_LENGTH")
    if content_length:
        try:
            length = int(content_length)
        except (TypeError, ValueError):  # the stdlib lets ValueError escape here
            length = -1
        if length < 0:
            ex.fail("environ-content-length", content_length)
        else:
            ex.input_left = length
    if not script_name and "PATH_INFO" not in environ:
        ex.fail("environ-path-required")
    if script_name == "/":
        ex.fail("environ-script-name-root")


def check_input(wsgi_input: Any) -> None:
    """Check that ``wsgi.input`` has the methods PEP 3333 requires."""
    _check_input(wsgi_input, STDLIB_EXCHANGE)


def _check_input(wsgi_input: Any, ex: _Exchange) -> None:
    if type(wsgi_input) in _complete_inputs:
        return
    for attr in _INPUT_ATTRIBUTES:
        if not hasattr(wsgi_input, attr):
            ex.fail("input-attribute", wsgi_input, attr)
    _remember_if_complete(type(wsgi_input), _INPUT_ATTRIBUTES, _complete_inputs)


def check_errors(wsgi_errors: Any) -> None:
    """Check that ``wsgi.errors`` has the methods PEP 3333 requires."""
    _check_errors(wsgi_errors, STDLIB_EXCHANGE)


def _check_errors(wsgi_errors: Any, ex: _Exchange) -> None:
    if type(wsgi_errors) in _complete_errors:
        return
    for attr in _ERRORS_ATTRIBUTES:
        if not hasattr(wsgi_errors, attr):
            ex.fail("errors-attribute", wsgi_errors, attr)
    _remember_if_complete(type(wsgi_errors), _ERRORS_ATTRIBUTES, _complete_errors)


# Stream classes whose every instance has the methods PEP 3333 requires, because the
# class itself has them: per request, checking the type is then one set lookup.
_complete_inputs: set[type] = set()
_complete_errors: set[type] = set()
_MAX_COMPLETE_TYPES = 64


def _remember_if_complete(cls: type, attributes: tuple[str, ...], known: set[type]) -> None:
    if len(known) < _MAX_COMPLETE_TYPES and all(hasattr(cls, a) for a in attributes):
        known.add(cls)


# -- start_response --------------------------------------------------------------------


def check_status(status: Any) -> None:
    """Check the status string given to ``start_response`` (stdlib rules, and only
    ISO-8859-1 characters: PEP 3333 §Unicode Issues makes any other a fatal error)."""
    _check_status(status, STDLIB_EXCHANGE)
    if type(status) is str and (wide := _not_latin_1(status)) is not None:
        char = wide.group(0)
        STDLIB_EXCHANGE.fail("status-latin-1", char, ord(char), status)


def _check_status(status: Any, ex: _Exchange) -> int | None:
    """Apply the stdlib's status checks; return the status code, or None if unusable."""
    if type(status) is not str:
        ex.fail("status-type", "Status", status)
        return None
    parts = status.split(None, 1)
    status_code = parts[0] if parts else ""
    if len(status_code) != 3:
        ex.fail("status-code-length", status_code)
    try:
        code = int(status_code)
    except ValueError:  # the stdlib lets ValueError escape here
        ex.fail("status-code-integer", status_code)
        return None
    if code < 100:
        ex.fail("status-code-range", code)
    if len(status) < 4 or status[3] != " ":
        ex.fail("status-format", status)
    return code


def _check_status_syntax(status: str, code: int | None, ex: _Exchange) -> None:
    """The status rules the stdlib misses: code at most 599, no control characters,
    only ISO-8859-1 (PEP 3333 §Unicode Issues)."""
    if code is not None:
        code_text = status[:3]
        if not (code_text.isascii() and code_text.isdigit()):
            # int() also takes "+20", "1_0", " 20" and non-ASCII digits.
            ex.fail("status-code-integer", code_text)
        elif code > 599:
            ex.fail("status-code-range", code)
    bad = bad_header_value_re.search(status)
    if bad is not None:
        ex.fail("status-control-char", status, bad.group(0))
    if not status.isascii():
        wide = _not_latin_1(status)
        if wide is not None:
            char = wide.group(0)
            ex.fail("status-latin-1", char, ord(char), status)


def check_headers(headers: Any) -> None:
    """Check the response headers given to ``start_response`` (stdlib rules, DEL, and
    only ISO-8859-1 characters: PEP 3333 §Unicode Issues)."""
    notes = _check_headers(headers, STDLIB_EXCHANGE)
    if notes.with_del is not None:
        STDLIB_EXCHANGE.fail("header-value-control-char", notes.with_del, "\x7f")
    if notes.wide is not None:
        _check_header_latin_1(*notes.wide, STDLIB_EXCHANGE)


class _HeaderNotes(NamedTuple):
    """What the stdlib's header checks saw that the later checks need."""

    hop_by_hop: str | None  # the first hop-by-hop header name
    lengths: list[str] | None  # every Content-Length value
    with_del: str | None  # the first value holding a DEL (the stdlib lets DEL through)
    etag: str | None  # the ETag value
    wide: tuple[str, str] | None  # the first (name, value) with a non-ISO-8859-1 char


_NOTHING_NOTED = _HeaderNotes(None, None, None, None, None)


def _check_headers(headers: Any, ex: _Exchange) -> _HeaderNotes:  # noqa: PLR0912, PLR0915
    """Apply the stdlib's header checks in its order; return what later checks need."""
    hop_by_hop: str | None = None
    lengths: list[str] | None = None
    with_del: str | None = None
    etag: str | None = None
    wide: tuple[str, str] | None = None
    if type(headers) is not list:
        ex.fail("headers-type", headers, type(headers))
        if not isinstance(headers, list | tuple):
            return _NOTHING_NOTED
    strict = ex.policy.strict
    name_re = header_re if strict else _token_re
    for item in headers:
        if type(item) is not tuple:
            ex.fail("header-item-type", item, type(item))
            if not isinstance(item, tuple | list):
                continue
        if len(item) != 2:
            ex.fail("header-item-length")
            continue
        name, value = item
        if type(name) is not str:
            ex.fail("header-type", "Header name", name)
            name = None
        if type(value) is not str:
            ex.fail("header-type", "Header value", value)
            value = None
        if name is not None:
            lower = name.lower()
            if lower == "status":
                ex.fail("header-status", value)
            if "\n" in name or ":" in name:
                ex.fail("header-name-newline-colon", name)
            if name_re.fullmatch(name) is None:
                ex.fail("header-name-syntax", name)
            if strict and name.endswith(("-", "_")):
                ex.fail("header-name-ending", name)
            if lower in HOP_BY_HOP_HEADERS and hop_by_hop is None:
                hop_by_hop = name
            if lower == "content-length" and value is not None:
                if lengths is None:
                    lengths = [value]
                else:
                    lengths.append(value)
            elif lower == "etag":
                etag = value
        if value is not None:
            bad = _stdlib_bad_value(value)
            if bad is not None:
                ex.fail("header-value-control-char", value, bad.group(0))
            elif "\x7f" in value and with_del is None:
                with_del = value
        if wide is None and not (
            (name is None or name.isascii()) and (value is None or value.isascii())
        ):
            wide = (name or "", value or "")
    if (
        hop_by_hop is None
        and lengths is None
        and with_del is None
        and etag is None
        and wide is None
    ):
        return _NOTHING_NOTED
    return _HeaderNotes(hop_by_hop, lengths, with_del, etag, wide)


def _check_header_notes(notes: _HeaderNotes, code: int | None, ex: _Exchange) -> int | None:
    """Apply the header rules the stdlib misses; return the declared body length."""
    if notes is _NOTHING_NOTED:
        return None
    if notes.with_del is not None:
        ex.fail("header-value-control-char", notes.with_del, "\x7f")
    if notes.hop_by_hop is not None:
        ex.fail("header-hop-by-hop", notes.hop_by_hop)
    if notes.etag is not None and _entity_tag(notes.etag) is None:
        ex.fail("etag-syntax", notes.etag)
    declared = None
    if notes.lengths is not None:
        if code is not None and (code < 200 or code == 204):
            ex.fail("content-length-not-allowed", code)
        else:
            declared = _check_content_length(notes.lengths, ex)
    if notes.wide is not None:
        _check_header_latin_1(*notes.wide, ex)
    return declared


def _check_header_latin_1(name: str, value: str, ex: _Exchange) -> None:
    bad = _not_latin_1(name)
    if bad is not None:
        char = bad.group(0)
        ex.fail("header-name-latin-1", char, ord(char), name)
    bad = _not_latin_1(value)
    if bad is not None:
        char = bad.group(0)
        ex.fail("header-value-latin-1", char, ord(char), name, value)


def check_content_type(status: Any, headers: Any) -> None:
    """Check that Content-Type is given exactly when the status allows content."""
    status = check_string_type(status, "Status")
    code = int(status.split(None, 1)[0])
    for name, _value in headers:
        check_string_type(name, "Header name")
    _check_content_type(code, headers, STDLIB_EXCHANGE)


def _check_content_type(code: int, headers: Any, ex: _Exchange) -> None:
    for item in headers:
        if (
            type(item) is tuple
            and len(item) == 2
            and type(item[0]) is str
            and item[0].lower() == "content-type"
        ):
            if code in _NO_MESSAGE_BODY:
                ex.fail("content-type-forbidden", code)
            return
    if code not in _NO_MESSAGE_BODY:
        ex.fail("content-type-missing", headers)


def check_exc_info(exc_info: Any) -> None:
    """Check that *exc_info* is None or a tuple."""
    _check_exc_info(exc_info, STDLIB_EXCHANGE)


def _check_exc_info(exc_info: Any, ex: _Exchange) -> None:
    if exc_info is not None and type(exc_info) is not tuple:
        ex.fail("exc-info-type", exc_info, type(exc_info))


def _check_exc_info_value(exc_info: tuple[Any, ...], ex: _Exchange) -> None:
    """PEP 3333: exc_info "must be a Python sys.exc_info() tuple"."""
    if len(exc_info) == 3:
        kind, error, traceback = exc_info
        if kind is None and error is None and traceback is None:
            return  # what sys.exc_info() gives outside an except block
        if (
            isinstance(kind, type)
            and isinstance(error, kind)
            and isinstance(error, BaseException)
            and (traceback is None or isinstance(traceback, TracebackType))
        ):
            return
    ex.fail("exc-info-value", exc_info)


def _check_content_length(lengths: list[str], ex: _Exchange) -> int | None:
    """Return the declared body length, or None (after a failure) if there is none."""
    declared: int | None = None
    for value in lengths:
        if not (value.isascii() and value.isdigit()):
            ex.fail("content-length-syntax", value)
            return None
        if declared is not None and int(value) != declared:
            ex.fail("content-length-syntax", ", ".join(lengths))
            return None
        declared = int(value)
    return declared


# -- the application's return value ------------------------------------------------------


def check_iterator(iterator: Any) -> None:
    """Check that the application did not return a str or bytes object."""
    _check_iterator(iterator, STDLIB_EXCHANGE)


def _check_iterator(iterator: Any, ex: _Exchange) -> bool:
    """Return false if *iterator* is a string (after failing)."""
    # A bytestring is legal as an iterable, which is why it is a really bad idea: the
    # response goes out one byte at a time.
    if isinstance(iterator, str | bytes):
        ex.fail("app-return-string")
        return False
    return True
