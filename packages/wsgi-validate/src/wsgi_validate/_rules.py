"""Every rule the validator enforces, as data: id, side, severity, reference, message.

A message is a ``%`` template filled only when the rule is broken, so the checks cost
nothing on a conforming request. ``message=None`` means the stdlib raises a bare
``AssertionError()`` for it (``wsgiref`` test suites compare that empty text); the
``summary`` is then what a report shows.

``origin`` says where the rule comes from: ``"stdlib"`` (``wsgiref.validate`` makes
the same check with the same message), ``"new"`` (a PEP 3333 / RFC 9110 rule the
stdlib misses). ``strict_only`` marks the stdlib checks stricter than PEP 3333: they
apply by default and are dropped by ``validator(..., strict_stdlib=False)``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, TypeAlias

Side: TypeAlias = Literal["application", "server"]
Severity: TypeAlias = Literal["error", "warning"]
Origin: TypeAlias = Literal["stdlib", "new"]

_SPEC = "PEP 3333 §Specification Details"
_ENVIRON = "PEP 3333 §environ Variables"
_STREAMS = "PEP 3333 §Input and Error Streams"
_START = "PEP 3333 §The start_response() Callable"
_LENGTH = "PEP 3333 §Handling the Content-Length Header"
_BUFFERING = "PEP 3333 §Buffering and Streaming"
_HTTP = "PEP 3333 §Other HTTP Features"
_UNICODE = "PEP 3333 §Unicode Issues"
_SERVER = "PEP 3333 §The Server/Gateway Side"
_ERRORS = "PEP 3333 §Error Handling"
_WRITE = "PEP 3333 §The write() Callable"
_FILES = "PEP 3333 §Optional Platform-Specific File Handling"


@dataclass(frozen=True, slots=True)
class Rule:
    """One conformance rule: what it checks, who breaks it, and where it is written."""

    id: str
    side: Side
    reference: str
    summary: str
    message: str | None
    origin: Origin = "stdlib"
    severity: Severity = "error"
    strict_only: bool = False

    def format(self, args: tuple[object, ...]) -> str:
        """Return the message for this rule filled with *args* (the summary if bare)."""
        if self.message is None:
            return self.summary
        return self.message % args if args else self.message


# PEP 3333 §Unicode Issues, quoted by the messages of the ISO-8859-1 rules.
_FATAL_UNICODE = (
    'PEP 3333 says "It is a fatal error for an application to supply strings containing '
    'any other Unicode character or code point" than U+0000..U+00FF; encode such text '
    "(RFC 2047, RFC 8187)"
)


def _rules(*rules: Rule) -> dict[str, Rule]:
    return {rule.id: rule for rule in rules}


# fmt: off
RULES: Mapping[str, Rule] = MappingProxyType(_rules(
    # -- the call into the application ------------------------------------------------
    Rule("call-arguments", "server", _SPEC,
         "the application is called with environ and start_response, positionally",
         "Two arguments required"),
    Rule("call-keywords", "server", _SPEC,
         "the application is called without keyword arguments",
         "No keyword arguments allowed"),
    # -- environ --------------------------------------------------------------------------
    Rule("environ-type", "server", _SPEC,
         "environ is a builtin dict, not a subclass",
         "Environment is not of the right type: %r (environment: %r)"),
    Rule("environ-required-key", "server", _ENVIRON,
         "environ holds every key PEP 3333 requires",
         "Environment missing required key: %r"),
    Rule("environ-http-content-header", "server", _ENVIRON,
         "Content-Type and Content-Length appear as CONTENT_TYPE and CONTENT_LENGTH",
         "Environment should not have the key: %s (use %s instead)"),
    Rule("environ-query-string", "server", _ENVIRON,
         "QUERY_STRING is present",
         "QUERY_STRING is not in the WSGI environment; the cgi module will use sys.argv "
         "when this variable is missing, so application errors are more likely",
         severity="warning", strict_only=True),
    Rule("environ-key-type", "server", _SPEC,
         "environ keys are str",
         "Environment keys must be of type str: %r", origin="new"),
    Rule("environ-value-type", "server", _UNICODE,
         "CGI variables (keys without a dot) hold native strings",
         "Environmental variable %s is not a string: %r (value: %r)"),
    Rule("environ-wsgi-version", "server", _ENVIRON,
         "wsgi.version is a tuple",
         "wsgi.version should be a tuple (%r)"),
    Rule("environ-url-scheme", "server", _ENVIRON,
         "wsgi.url_scheme is 'http' or 'https'",
         "wsgi.url_scheme unknown: %r"),
    Rule("input-attribute", "server", _STREAMS,
         "wsgi.input has read, readline, readlines and __iter__",
         "wsgi.input (%r) doesn't have the attribute %s"),
    Rule("errors-attribute", "server", _STREAMS,
         "wsgi.errors has flush, write and writelines",
         "wsgi.errors (%r) doesn't have the attribute %s"),
    Rule("environ-request-method", "server", _ENVIRON,
         "REQUEST_METHOD is one the stdlib knows",
         "Unknown REQUEST_METHOD: %r",
         severity="warning", strict_only=True),
    Rule("environ-script-name", "server", _ENVIRON,
         "SCRIPT_NAME is empty or starts with '/'",
         "SCRIPT_NAME doesn't start with /: %r"),
    Rule("environ-path-info", "server", _ENVIRON,
         "PATH_INFO is empty or starts with '/'",
         "PATH_INFO doesn't start with /: %r"),
    Rule("environ-content-length", "server", _ENVIRON,
         "CONTENT_LENGTH, when not empty, is a non-negative integer",
         "Invalid CONTENT_LENGTH: %r"),
    Rule("environ-path-required", "server", _ENVIRON,
         "one of SCRIPT_NAME or PATH_INFO is present",
         "One of SCRIPT_NAME or PATH_INFO are required (PATH_INFO should at least be '/' "
         "if SCRIPT_NAME is empty)"),
    Rule("environ-script-name-root", "server", _ENVIRON,
         "SCRIPT_NAME is never '/'",
         "SCRIPT_NAME cannot be '/'; it should instead be '', and PATH_INFO should be '/'"),
    Rule("environ-wsgi-version-value", "server", _ENVIRON,
         "wsgi.version is (1, 0)",
         "wsgi.version should be (1, 0), not %r", origin="new"),
    Rule("environ-empty-value", "server", _ENVIRON,
         "REQUEST_METHOD, SERVER_NAME and SERVER_PORT are never empty",
         "Environment variable %s is empty; PEP 3333 says it must never be empty",
         origin="new"),
    Rule("environ-latin-1", "server", _UNICODE,
         "CGI variables hold only ISO-8859-1 characters (U+0000..U+00FF)",
         "Environment variable %r holds %r (U+%04X), which is not ISO-8859-1: servers "
         '"must not supply strings to an application containing any other Unicode '
         'characters" (PEP 3333 §Unicode Issues); value: %r', origin="new"),
    Rule("file-wrapper-callable", "server", _FILES,
         "wsgi.file_wrapper, when present, is callable",
         "wsgi.file_wrapper must be a callable (got %r)", origin="new"),
    # -- wsgi.input -----------------------------------------------------------------------
    Rule("input-read-size", "application", _STREAMS,
         "wsgi.input.read() is called with a size", None, strict_only=True),
    Rule("input-arguments", "application", _STREAMS,
         "wsgi.input methods are called with at most one argument", None),
    Rule("input-return-type", "server", _STREAMS,
         "wsgi.input returns bytes (readlines: a list of bytes)", None),
    Rule("input-read-semantics", "server", _STREAMS,
         "wsgi.input.read(n) and readline(n) return at most n bytes, readline one line",
         "wsgi.input.%s(%s) returned %s: PEP 3333 gives the methods the semantics of the "
         "Python Library Reference (at most the size asked for, one line from readline)",
         origin="new"),
    Rule("input-close", "application", _STREAMS,
         "the application never closes wsgi.input",
         "input.close() must not be called"),
    Rule("input-past-content-length", "application", _STREAMS,
         "the application does not read wsgi.input past CONTENT_LENGTH",
         "Application read past CONTENT_LENGTH: asked for %d bytes with %d left",
         origin="new"),
    Rule("input-other-attribute", "application", _STREAMS,
         "the application uses only read, readline, readlines and __iter__ of wsgi.input",
         "Application used wsgi.input.%s: applications \"must not use any other methods "
         'or attributes of the input or errors objects" (PEP 3333 §Input and Error '
         "Streams); wsgi.input has read, readline, readlines and __iter__", origin="new"),
    # -- wsgi.errors ----------------------------------------------------------------------
    Rule("errors-write-type", "application", _STREAMS,
         "wsgi.errors.write() and writelines() get str", None),
    Rule("errors-close", "application", _STREAMS,
         "the application never closes wsgi.errors",
         "errors.close() must not be called"),
    Rule("errors-other-attribute", "application", _STREAMS,
         "the application uses only write, writelines and flush of wsgi.errors",
         "Application used wsgi.errors.%s: applications \"must not use any other methods "
         'or attributes of the input or errors objects" (PEP 3333 §Input and Error '
         "Streams); wsgi.errors has write, writelines and flush", origin="new"),
    # -- start_response ---------------------------------------------------------------------
    Rule("start-response-arguments", "application", _START,
         "start_response gets status, headers and optionally exc_info",
         "Invalid number of arguments: %s"),
    Rule("start-response-keywords", "application", _START,
         "start_response is called without keyword arguments",
         "No keyword arguments allowed"),
    Rule("status-type", "application", _START,
         "the status is a str",
         "%s must be of type str (got %r)"),
    Rule("status-code-length", "application", _START,
         "the status starts with a three-character code",
         "Status codes must be three characters: %r"),
    Rule("status-code-integer", "application", _START,
         "the status code is an integer",
         "Status code is invalid: %r", origin="new"),
    Rule("status-code-range", "application", "RFC 9110 §15",
         "the status code is within 100-599 (the stdlib checks only >= 100)",
         "Status code is invalid: %r"),
    Rule("status-format", "application", _START,
         "the status is a three-digit code, one space and a reason phrase",
         "The status string (%r) should be a three-digit integer followed by a single "
         "space and a status explanation",
         severity="warning"),
    Rule("status-control-char", "application", "RFC 9112 §4",
         "the status has no control characters but HTAB (DEL included)",
         "Status contains a control character: %r (bad char: %r)", origin="new"),
    Rule("status-latin-1", "application", _UNICODE,
         "the status holds only ISO-8859-1 characters (U+0000..U+00FF)",
         "Status contains %r (U+%04X), which is not ISO-8859-1: " + _FATAL_UNICODE + ": %r",
         origin="new"),
    Rule("headers-type", "application", _START,
         "response_headers is a builtin list",
         "Headers (%r) must be of type list: %r"),
    Rule("header-item-type", "application", _START,
         "each header is a builtin tuple",
         "Individual headers (%r) must be of type tuple: %r"),
    Rule("header-item-length", "application", _START,
         "each header is a (name, value) pair", None),
    Rule("header-type", "application", _START,
         "header names and values are str",
         "%s must be of type str (got %r)"),
    Rule("header-status", "application", _START,
         "no Status header (CGI only)",
         "The Status header cannot be used; it conflicts with CGI script, and HTTP status "
         "is not given through headers (value: %r)."),
    Rule("header-name-newline-colon", "application", _START,
         "header names have no ':' or newline",
         "Header names may not contain ':' or '\\n': %r"),
    Rule("header-name-syntax", "application", "RFC 9110 §5.1",
         "header names are RFC 9110 tokens (by default also starting with a letter)",
         "Bad header name: %r"),
    Rule("header-name-ending", "application", _START,
         "header names do not end in '-' or '_'",
         "Names may not end in '-' or '_': %r", strict_only=True),
    Rule("header-value-control-char", "application", "RFC 9110 §5.5",
         "header values have no control characters but HTAB (DEL included)",
         "Bad header value: %r (bad char: %r)"),
    Rule("header-name-latin-1", "application", _UNICODE,
         "header names hold only ISO-8859-1 characters (U+0000..U+00FF)",
         "Header name contains %r (U+%04X), which is not ISO-8859-1: " + _FATAL_UNICODE
         + ": %r", origin="new"),
    Rule("header-value-latin-1", "application", _UNICODE,
         "header values hold only ISO-8859-1 characters (U+0000..U+00FF)",
         "Header value contains %r (U+%04X), which is not ISO-8859-1: " + _FATAL_UNICODE
         + ": %r: %r", origin="new"),
    Rule("content-type-missing", "application", "RFC 9110 §8.3",
         "a response with content has a Content-Type header",
         "No Content-Type header found in headers (%s)", strict_only=True),
    Rule("content-type-forbidden", "application", "RFC 9110 §8.3",
         "a 204 or 304 response has no Content-Type header",
         "Content-Type header found in a %s response, which must not return content.",
         strict_only=True),
    Rule("exc-info-type", "application", _START,
         "exc_info is a tuple or None",
         "exc_info (%r) is not a tuple: %r"),
    Rule("exc-info-value", "application", _START,
         "exc_info is a sys.exc_info() triple: (type, exception, traceback)",
         "exc_info must be a sys.exc_info() tuple (type, exception, traceback), not %r",
         origin="new"),
    Rule("header-hop-by-hop", "application", _HTTP,
         "the application sets no hop-by-hop header (Connection, Transfer-Encoding, ...)",
         "Hop-by-hop header not allowed in a WSGI response: %r", origin="new"),
    Rule("content-length-syntax", "application", "RFC 9110 §8.6",
         "a Content-Length header is a string of digits",
         "Content-Length header is not a non-negative integer: %r", origin="new"),
    Rule("etag-syntax", "application", "RFC 9110 §8.8.3",
         "an ETag is a quoted entity-tag, optionally prefixed by W/",
         "ETag header is not an entity-tag (a quoted string, optionally prefixed by W/): %r",
         origin="new", severity="warning"),
    Rule("content-length-not-allowed", "application", "RFC 9110 §8.6",
         "no Content-Length header on a 1xx or 204 response",
         "A %d response must not have a Content-Length header", origin="new"),
    Rule("start-response-twice", "application", _START,
         "start_response is called again only with exc_info",
         "start_response() called a second time without exc_info", origin="new"),
    Rule("write-not-callable", "server", _START,
         "start_response returns a write() callable",
         "start_response must return a write(body_data) callable, not %r", origin="new"),
    Rule("exc-info-not-reraised", "server", _START,
         "start_response re-raises exc_info once the headers are sent",
         "start_response() got exc_info after the headers were sent and returned "
         "instead of re-raising it", origin="new"),
    Rule("exc-info-trapped", "application", _ERRORS,
         "the application lets the exception start_response re-raised propagate",
         "The application caught the exception start_response() re-raised for exc_info "
         "after the headers were sent; it must let it propagate", origin="new"),
    # -- the response body ------------------------------------------------------------------
    Rule("app-return-none", "application", _SPEC,
         "the application returns an iterable",
         "The application must return an iterator, if only an empty list"),
    Rule("app-return-string", "application", _BUFFERING,
         "the application does not return a str or bytes object as its iterable",
         "You should not return a string as your application iterator, instead return "
         "a single-item list containing a bytestring."),
    Rule("app-return-not-iterable", "application", _SPEC,
         "the application returns an iterable",
         "The application must return an iterable yielding bytestrings, not %r",
         origin="new"),
    Rule("write-type", "application", _START,
         "write() gets bytes", None),
    Rule("write-from-iterable", "application", _WRITE,
         "write() is not called once the application has returned its iterable",
         "Applications must not invoke write() from within their return iterable "
         "(PEP 3333 §The write() Callable)", origin="new"),
    Rule("iterator-read-after-close", "server", _SERVER,
         "the server does not iterate the body after closing it",
         "Iterator read after closed"),
    Rule("iterator-item-type", "application", _UNICODE,
         "the body iterable yields bytes",
         "Iterator yielded non-bytestring (%r)"),
    Rule("iterator-before-start-response", "application", _BUFFERING,
         "start_response is called before the first body bytes are yielded",
         "The application returns and we started iterating over its body, but "
         "start_response has not yet been called"),
    Rule("iterator-not-closed", "server", _SPEC,
         "the server calls close() on the body iterable",
         "Iterator garbage collected without being closed"),
    Rule("content-length-mismatch", "application", _LENGTH,
         "the body has exactly the length the Content-Length header gives",
         "Content-Length header says %d bytes but the application produced %s",
         origin="new"),
    Rule("body-not-allowed", "application", "RFC 9110 §6.4.1",
         "no body on a 1xx, 204 or 304 response",
         "A %d response must not have a body, but the application produced %d bytes",
         origin="new"),
    Rule("head-response-body", "application", "RFC 9110 §9.3.2",
         "no body on the response to a HEAD request",
         "The response to a HEAD request must not have a body, but the application "
         "produced %d bytes", origin="new", severity="warning"),
    Rule("iterator-length", "application", _SPEC,
         "when len() of the returned iterable works, it is the number of items yielded",
         "len() of the application's iterable said %d but it yielded %d items: a working "
         "__len__() must return an accurate result", origin="new"),
    # -- wsgi.file_wrapper ----------------------------------------------------------------
    Rule("file-wrapper-filelike", "application", _FILES,
         "the object given to wsgi.file_wrapper has a read() method",
         "The object given to wsgi.file_wrapper must be file-like, with a read() method: "
         "%r", origin="new"),
    Rule("file-wrapper-return", "server", _FILES,
         "wsgi.file_wrapper returns an iterable, with close() if the file-like object has one",
         "wsgi.file_wrapper returned %r: %s", origin="new"),
))
# fmt: on
"""Every rule by id (read-only); ``validator(..., ignore=[...])`` takes these ids."""
