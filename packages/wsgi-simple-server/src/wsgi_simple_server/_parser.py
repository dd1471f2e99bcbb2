"""Sans-IO parsing of an HTTP/1.x request head: bytes in, a ``Request`` or a ``ParseError`` out.

The rules are those of RFC 9112 with no leniency that could let two parsers disagree
on where a request ends: CRLF line endings only, no obs-fold, no whitespace before a
field's colon, one exact ``Content-Length`` or ``Transfer-Encoding: chunked`` and never
both, one ``Host`` in HTTP/1.1. Where the standard library's ``BaseHTTPRequestHandler``
also refuses a request, the error carries its status, message and version, so the
page the server renders is the one ``wsgiref.simple_server`` sends.
"""

from __future__ import annotations

from collections.abc import Iterable

from wsgi_simple_server import _abnf
from wsgi_simple_server._config import ServerConfig

_CRLF = b"\r\n"
_HEAD_END = b"\r\n\r\n"


class ParseError(Exception):
    """A request the server refuses, with the status and message to answer it with.

    :ivar status: the HTTP status code to send (400, 413, 414, 417, 431, 501, 505).
    :ivar message: the reason phrase, as ``BaseHTTPRequestHandler.send_error`` takes it.
    :ivar explain: the longer text of the error page, or ``None`` for the default.
    :ivar request_version: the version the standard library would answer in
        (``"HTTP/0.9"`` when it had not parsed one: no status line is sent then).
    :ivar requestline: the request line as far as it is known, for the access log.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        explain: str | None = None,
        request_version: str = "HTTP/1.1",
        requestline: str = "",
        command: str = "",
    ) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.explain = explain
        self.request_version = request_version
        self.requestline = requestline
        self.command = command

    def __repr__(self) -> str:
        return f"ParseError({self.status}, {self.message!r})"


class Request:
    """A parsed request head.

    ``headers`` keeps the fields in order as ``(name, value)`` strings (ISO-8859-1
    decoded, surrounding whitespace removed); the framing and connection attributes
    are the parser's verdict on them.
    """

    __slots__ = (
        "chunked",
        "content_length",
        "expect_continue",
        "headers",
        "http11",
        "keep_alive",
        "method",
        "path",
        "query",
        "requestline",
        "target",
        "version",
    )

    def __init__(  # noqa: PLR0917 - the request line's parts, in order (positional: fast)
        self,
        method: str,
        target: str,
        path: str,
        query: str,
        version: str,
        headers: list[tuple[str, str]],
        content_length: int | None = None,
        chunked: bool = False,
        keep_alive: bool = True,
        expect_continue: bool = False,
        requestline: str | None = None,
    ) -> None:
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.http11 = version != "HTTP/1.0"
        self.headers = headers
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.expect_continue = expect_continue
        self.requestline = requestline or f"{method} {target} {version}"

    @property
    def has_body(self) -> bool:
        """Whether a body follows the head (chunked, or a non-zero Content-Length)."""
        return self.chunked or bool(self.content_length)

    def __repr__(self) -> str:
        return f"<Request {self.requestline!r} {len(self.headers)} fields>"


def _line_for_log(buf: bytes | bytearray) -> str:
    end = buf.find(b"\n")
    line = bytes(buf if end < 0 else buf[:end])
    return line.rstrip(b"\r").decode("iso-8859-1")


def find_head_end(buf: bytes | bytearray, config: ServerConfig, *, start: int = 0) -> int:
    """Return the length of the request head at the start of *buf*, blank line included.

    Return -1 when the head is not complete yet. Raise ``ParseError`` as soon as the
    bytes received break a limit or use a bare LF line ending, so that no more is
    read from such a client. *start* is how many bytes of *buf* an earlier call found
    incomplete (it returned -1 for ``buf[:start]``): the searches for the blank line
    and for bare LFs resume there, so a head received in many pieces is scanned once.
    """
    end = buf.find(_HEAD_END, max(start - 3, 0))
    line_end = buf.find(_CRLF)
    if line_end < 0:
        if len(buf) > config.max_request_line_bytes:
            raise _uri_too_long()
        if buf.find(b"\n", start) >= 0:
            raise _bare_lf(buf)
        return -1
    if line_end + 2 > config.max_request_line_bytes:
        raise _uri_too_long()
    head_len = len(buf) if end < 0 else end + 4
    if head_len - line_end - 2 > config.max_header_bytes + 2:
        raise _fields_too_large(buf, line_end + 2, head_len, config)
    if end < 0:
        if buf.count(b"\n", start) != buf.count(_CRLF, max(start - 1, 0)):
            raise _bare_lf(buf)
        return -1
    return end + 4


def _fields_too_large(
    buf: bytes | bytearray, start: int, end: int, config: ServerConfig
) -> ParseError:
    # One line longer than the standard library reads (http.client's 65,536 bytes) is
    # refused with its words; many lines past max_header_bytes with ours.
    lines = bytes(buf[start:end]).split(_CRLF)
    if max(map(len, lines)) > _STDLIB_MAX_LINE:
        message = "Line too long"
        explain = f"got more than {_STDLIB_MAX_LINE} bytes when reading header line"
    else:
        message = "Request Header Fields Too Large"
        explain = f"got more than {config.max_header_bytes} bytes of header fields"
    return ParseError(
        431, message, explain=explain, request_version="HTTP/1.0", requestline=_line_for_log(buf)
    )


_STDLIB_MAX_LINE = 65536


def _uri_too_long() -> ParseError:
    # The standard library answers with an empty request line and version.
    return ParseError(414, "Request-URI Too Long", request_version="", requestline="")


def _bare_lf(buf: bytes | bytearray) -> ParseError:
    line = _line_for_log(buf)
    return ParseError(
        400, f"Bad request syntax ({line!r})", request_version="HTTP/1.0", requestline=line
    )


def parse_head(head: bytes, config: ServerConfig) -> Request:
    """Parse a complete request head (as delimited by ``find_head_end``).

    Raise ``ParseError`` for anything RFC 9112 does not allow or a limit refuses.
    """
    body = head[:-4] if head.endswith(_HEAD_END) else head
    lines = body.split(_CRLF)
    if body.count(b"\r") != len(lines) - 1 or body.count(b"\n") != len(lines) - 1:
        raise ParseError(
            400,
            "Bad request syntax (bare CR or LF in the head)",
            request_version="HTTP/1.0",
            requestline=_line_for_log(lines[0]),
        )
    start = _known_request_lines.get(lines[0])
    if start is None:
        start = _request_start(lines[0])
    try:
        return _parse_rest(start, lines, config)
    except _RefusalError as refusal:
        method, _, version, requestline, *_ = start
        raise _refused(refusal, method, version, requestline) from None


def origin_form(method: str, target: str, *, obs_text: bool = False) -> tuple[str, str | None]:
    """The origin-form of a request *target* as the engine reads it, and the ``Host``
    an absolute-form target names (None for the other forms).

    For a head that ``parse_head`` did not read (the standard library's one-request
    path): the path and query of the target (RFC 9112 section 3.2), and the target's
    authority that takes the place of the Host field (section 3.2.2). *target* is the
    request line's, decoded as ISO-8859-1. Raise ``ParseError`` (400) for a target the
    engine refuses: not the method's form, or with bytes the grammar does not allow
    (spaces, controls, and raw non-ASCII bytes unless *obs_text*). With *obs_text* a
    raw byte from 0x80 to 0xFF is taken as the standard library takes it: in the path
    as its percent-encoding (``PATH_INFO`` is the same once decoded), in the query as
    it is.
    """
    try:
        raw = target.encode("iso-8859-1")
    except UnicodeEncodeError:
        raise ParseError(400, "Bad Request (invalid request-target)", command=method) from None
    query_raw: str | None = None
    if obs_text and not raw.isascii():
        path_part, mark, query_part = raw.partition(b"?")
        raw = _quote_obs_text(path_part) + mark + _quote_obs_text(query_part)
        query_raw = target.partition("?")[2]
    try:
        path, query, authority = _split_target(method, raw)
    except _RefusalError as refusal:
        raise ParseError(400, refusal.message, command=method) from None
    if query_raw is not None and query:
        query = query_raw
    host = None if authority is None else _authority_host(authority)
    return (path + "?" + query if query else path), host


def _quote_obs_text(raw: bytes) -> bytes:
    return b"".join(b"%%%02X" % c if c >= 0x80 else bytes((c,)) for c in raw)


def body_framing(
    version: str, headers: Iterable[tuple[str, str]], config: ServerConfig
) -> tuple[int | None, bool]:
    """The Content-Length (or None) and whether the body is chunked, as the engine
    frames a request body (RFC 9112 section 6.3), for a head that ``parse_head`` did
    not read (the standard library's one-request path).

    *headers* are the request's (name, value) fields, values decoded as ISO-8859-1.
    Raise ``ParseError`` as the engine refuses: ``400`` for Content-Length with
    Transfer-Encoding, a Transfer-Encoding in HTTP/1.0, an invalid Content-Length;
    ``501`` for a transfer coding other than chunked; ``413`` past ``max_body_bytes``.
    """
    fields = _Fields([])
    for name, value in headers:
        lname = name.lower()
        if lname in ("content-length", "transfer-encoding"):
            fields.note(lname.encode("ascii"), value.strip(" \t").encode("iso-8859-1"))
    try:
        return _framing(fields, version not in ("HTTP/1.0", "HTTP/0.9"), config)
    except _RefusalError as refusal:
        raise ParseError(
            refusal.status, refusal.message, explain=refusal.explain, request_version=version
        ) from None


def _refused(refusal: _RefusalError, method: str, version: str, requestline: str) -> ParseError:
    return ParseError(
        refusal.status,
        refusal.message,
        explain=refusal.explain,
        request_version=version,
        requestline=requestline,
        command=method,
    )


# Request lines already parsed, by their bytes (a client asks for the same few paths):
# (method, target, version, request line for the log, path, query, authority of an
# absolute-form target). Bounded: a new generation starts when it is full.
_known_request_lines: dict[bytes, tuple[str, str, str, str, str, str, bytes | None]] = {}
_MAX_KNOWN_REQUEST_LINES = 1024
_MAX_KNOWN_REQUEST_LINE_BYTES = 512


def _request_start(line: bytes) -> tuple[str, str, str, str, str, str, bytes | None]:
    """Parse a request line and its target's form (RFC 9112 sections 3 and 3.2)."""
    method, target_b, version = _parse_request_line(line)
    target = target_b.decode("iso-8859-1")
    requestline = f"{method} {target} {version}"
    try:
        path, query, authority = _split_target(method, target_b)
    except _RefusalError as refusal:
        raise _refused(refusal, method, version, requestline) from None
    start = (method, target, version, requestline, path, query, authority)
    if len(line) <= _MAX_KNOWN_REQUEST_LINE_BYTES:  # about 0.5 MiB at most
        if len(_known_request_lines) >= _MAX_KNOWN_REQUEST_LINES:
            _known_request_lines.clear()
        _known_request_lines[line] = start
    return start


class _RefusalError(Exception):
    """A refusal raised below ``parse_head``, which adds what it knows of the request."""

    def __init__(self, status: int, message: str, explain: str | None = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message
        self.explain = explain


def _parse_rest(
    start: tuple[str, str, str, str, str, str, bytes | None],
    lines: list[bytes],
    config: ServerConfig,
) -> Request:
    """The request with the field lines of *lines* (the request line is *start*)."""
    method, target, version, requestline, path, query, authority = start
    if len(lines) - 1 > config.max_header_count:
        raise _RefusalError(
            431, "Too many headers", f"got more than {config.max_header_count} headers"
        )
    fields = _Fields(lines)
    http11 = version == "HTTP/1.1"
    hosts = fields.hosts
    if len(hosts) != 1:
        if http11:
            raise _RefusalError(400, "Bad Request (an HTTP/1.1 request needs exactly one Host)")
        if hosts:
            raise _RefusalError(400, "Bad Request (several Host fields)")
    elif _abnf.host_re.fullmatch(hosts[0]) is None:
        raise _RefusalError(400, "Bad Request (invalid Host)")
    headers = fields.headers if authority is None else _with_host(fields.headers, authority)
    if method == "CONNECT" and (fields.content_lengths or fields.transfer_codings):
        # RFC 9110 section 9.3.6: "A CONNECT request message does not have content."
        # Parsers disagree on what follows such a head (a body, or the tunnel's first
        # bytes), so it is refused rather than framed one way.
        raise _RefusalError(400, "Bad Request (CONNECT with Content-Length or Transfer-Encoding)")
    content_length, chunked = _framing(fields, http11, config)
    keep_alive = http11
    if fields.connection:
        tokens = _list_members(fields.connection)
        keep_alive = b"close" not in tokens and (http11 or b"keep-alive" in tokens)
    # RFC 9110 section 10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
    expect_continue = fields.expect is not None and http11 and _expects_continue(fields.expect)
    # Positional: a keyword call costs twice as much, and every request makes one.
    return Request(
        method,
        target,
        path,
        query,
        version,
        headers,
        content_length,
        chunked,
        keep_alive,
        expect_continue,
        requestline,
    )


def _list_members(value: bytes) -> list[bytes]:
    """Return the members of a ``#rule`` list field value, lowercased (RFC 9110 5.6.1).

    Members are separated by commas with optional whitespace around them; "a recipient
    MUST parse and ignore a reasonable number of empty list elements" (5.6.1.2), so
    ``"a, , b,"`` has the members ``a`` and ``b``.
    """
    return [m for m in (part.strip(b" \t").lower() for part in value.split(b",")) if m]


def _expects_continue(value: bytes) -> bool:
    """Whether an Expect field value asks for ``100 Continue`` (RFC 9110 section 10.1.1).

    ``Expect = #expectation``: an empty list asks for nothing and is ignored. A member
    other than ``100-continue`` (the only expectation defined) is answered with ``417``.
    """
    members = _list_members(value)
    if any(m != b"100-continue" for m in members):
        raise _RefusalError(417, "Expectation Failed")
    return bool(members)


def _with_host(headers: list[tuple[str, str]], authority: bytes) -> list[tuple[str, str]]:
    """Return *headers* with the Host field replaced by an absolute-form's *authority*.

    RFC 9112 section 3.2.2: "When an origin server receives a request with an
    absolute-form of request-target, the origin server MUST ignore the received Host
    header field (if any) and instead use the host information of the request-target."
    An empty port is dropped with its colon (RFC 3986 section 6.2.3).
    """
    host = ("Host", _authority_host(authority))
    replaced = [host if name.lower() == "host" else (name, value) for name, value in headers]
    if host not in replaced:
        replaced.append(host)  # an HTTP/1.0 request may come without Host
    return replaced


def _authority_host(authority: bytes) -> str:
    """The Host field value of an absolute-form's authority: an empty port is dropped
    with its colon (RFC 3986 section 6.2.3)."""
    return authority.removesuffix(b":").decode("ascii")


def _parse_request_line(line: bytes) -> tuple[str, bytes, str]:
    """Return the method, the request-target and the version of a request line."""
    m = _abnf.request_line_re.fullmatch(line)
    if m is None:
        raise _request_line_error(line)
    method = m["method"].decode("ascii")
    version = f"HTTP/{m['major'].decode()}.{m['minor'].decode()}"
    if m["major"] != b"1":
        # The standard library refuses 2.0 and up before it records the version.
        raise ParseError(
            505,
            f"Invalid HTTP version ({version[5:]})",
            request_version="HTTP/0.9" if m["major"] >= b"2" else version,
            requestline=f"{method} {m['target'].decode('iso-8859-1')} {version}",
            command=method,
        )
    # RFC 9110 section 2.5: a higher minor version is answered as 1.1.
    return method, m["target"], "HTTP/1.0" if m["minor"] == b"0" else "HTTP/1.1"


class _Fields:
    """The field lines of a head, checked, with the framing fields picked out."""

    __slots__ = ("connection", "content_lengths", "expect", "headers", "hosts", "transfer_codings")

    def __init__(self, lines: list[bytes]) -> None:
        self.headers: list[tuple[str, str]] = []
        self.content_lengths: list[bytes] = []
        self.transfer_codings: list[bytes] = []
        self.hosts: list[bytes] = []
        self.connection = b""
        self.expect: bytes | None = None
        known = _known_lines
        append = self.headers.append
        for i in range(1, len(lines)):
            raw = lines[i]
            line = known.get(raw)
            if line is None:
                line = _field(raw)
            framing_name, value_b, pair = line
            if framing_name is not None:
                self.note(framing_name, value_b)
            append(pair)

    def note(self, lname: bytes, value: bytes) -> None:
        """Take the value of a framing field (lowercased *lname*)."""
        if lname == b"content-length":
            self.content_lengths.append(value)
        elif lname == b"transfer-encoding":
            self.transfer_codings.append(value)
        elif lname == b"host":
            self.hosts.append(value)
        elif lname == b"connection":
            self.connection = self.connection + b"," + value if self.connection else value
        else:
            self.expect = value if self.expect is None else self.expect + b"," + value


_FRAMING_FIELDS = frozenset(
    {b"content-length", b"transfer-encoding", b"host", b"connection", b"expect"}
)

# Field lines already found well-formed, by their bytes: clients send the same few
# (Host, User-Agent, Accept, ...) on every request. Each maps to (the lowercased name
# if it is a framing field, else None; the value's bytes; the (name, value) pair).
# Bounded: a new generation starts when it is full.
_known_lines: dict[bytes, tuple[bytes | None, bytes, tuple[str, str]]] = {}
_MAX_KNOWN_LINES = 2048
_MAX_KNOWN_LINE_BYTES = 256


def _field(raw: bytes) -> tuple[bytes | None, bytes, tuple[str, str]]:
    """Check and split one field line (RFC 9112 section 5), and remember it."""
    fm = _abnf.field_line_re.fullmatch(raw)
    if fm is None:
        raise _RefusalError(400, _field_line_error(raw))
    name_b = fm["name"]
    value_b = fm["value"].rstrip(b" \t")
    lname = name_b.lower()
    line = (
        lname if lname in _FRAMING_FIELDS else None,
        value_b,
        (name_b.decode("ascii"), value_b.decode("iso-8859-1")),
    )
    if len(raw) <= _MAX_KNOWN_LINE_BYTES:  # the cache holds about 1 MiB at most
        if len(_known_lines) >= _MAX_KNOWN_LINES:
            _known_lines.clear()
        _known_lines[raw] = line
    return line


def _framing(fields: _Fields, http11: bool, config: ServerConfig) -> tuple[int | None, bool]:
    """Return the Content-Length (or None) and whether the body is chunked (RFC 9112 6.3)."""
    if fields.transfer_codings:
        if fields.content_lengths:
            raise _RefusalError(400, "Bad Request (Content-Length with Transfer-Encoding)")
        if not http11:
            raise _RefusalError(400, "Bad Request (Transfer-Encoding in an HTTP/1.0 request)")
        # Unlike other list fields, empty members are refused here, not skipped: this
        # field frames the body, and h11 and llhttp both refuse "chunked," outright.
        codings = [c.strip(b" \t").lower() for v in fields.transfer_codings for c in v.split(b",")]
        if any(c not in (b"chunked", b"") for c in codings):
            raise _RefusalError(501, "Unsupported transfer coding")
        if codings != [b"chunked"]:
            raise _RefusalError(400, "Bad Request (invalid Transfer-Encoding)")
        return None, True
    if not fields.content_lengths:
        return None, False
    # Content-Length = 1*DIGIT, not a list; a list of one value repeated (as a proxy may
    # make of repeated fields) is that value (RFC 9110 section 8.6). Values compare as
    # numbers: leading zeros are dropped, and digits beyond those of the limit are 413
    # without being converted, so a long run of digits costs linear time.
    values: set[bytes] = set()
    for cl in fields.content_lengths:
        for member in cl.split(b","):
            value = member.strip(b" \t")
            if _abnf.content_length_re.fullmatch(value) is None:
                raise _RefusalError(400, "Bad Request (invalid Content-Length)")
            values.add(value.lstrip(b"0"))
    if len(values) != 1:
        raise _RefusalError(400, "Bad Request (differing Content-Length values)")
    digits = values.pop()
    limit = config.max_body_bytes
    if len(digits) > len(str(limit)) or int(digits or b"0") > limit:
        raise _RefusalError(413, "Request Entity Too Large")
    return int(digits or b"0"), False


def _split_target(method: str, target: bytes) -> tuple[str, str, bytes | None]:
    """Return the path, the query and the authority (absolute-form only) of a target.

    The form must be the method's (RFC 9112 section 3.2): CONNECT takes the
    authority-form and no other (3.2.3), which no other method takes; the asterisk-form
    is for OPTIONS only (3.2.4); every other request has the origin-form or the
    absolute-form. A CONNECT request has an empty path and query.
    """
    if method == "CONNECT":
        if _abnf.authority_form_re.fullmatch(target) is None:
            raise _RefusalError(400, "Bad Request (CONNECT needs an authority-form target)")
        return "", "", None
    first = target[:1]
    if first == b"/":
        m = _abnf.origin_form_re.fullmatch(target)
        authority = None
    elif target == b"*":
        if method != "OPTIONS":
            raise _RefusalError(400, "Bad Request (asterisk-form is for OPTIONS only)")
        return "*", "", None
    else:
        m = _abnf.absolute_form_re.fullmatch(target)
        authority = None if m is None else m["authority"]
    if m is None:
        raise _RefusalError(400, "Bad Request (invalid request-target)")
    path = m["path"].decode("ascii") or "/"
    query = m["query"]
    if path.startswith("//"):
        # As the standard library does, so that "//host/x" is never read as a netloc.
        path = "/" + path.lstrip("/")
    return path, "" if query is None else query.decode("ascii"), authority


def _request_line_error(line: bytes) -> ParseError:
    """Diagnose a request line the grammar refused, in the standard library's words."""
    text = line.decode("iso-8859-1")
    words = text.split()
    request_version = "HTTP/0.9"  # what BaseHTTPRequestHandler answers in until it knows
    if len(words) >= 3:
        version = words[-1]
        parts = version[5:].split(".") if version.startswith("HTTP/") else []
        if len(parts) != 2 or not all(p.isdigit() and len(p) <= 10 for p in parts):
            return ParseError(
                400,
                f"Bad request version ({version!r})",
                request_version=request_version,
                requestline=text,
            )
        if int(parts[0]) >= 2:
            return ParseError(
                505,
                f"Invalid HTTP version ({version[5:]})",
                request_version=request_version,
                requestline=text,
            )
        request_version = version
    if len(words) == 2 and words[0] != "GET":
        return ParseError(
            400,
            f"Bad HTTP/0.9 request type ({words[0]!r})",
            request_version=request_version,
            requestline=text,
        )
    return ParseError(
        400,
        f"Bad request syntax ({text!r})",
        request_version=request_version,
        requestline=text,
        command=words[0] if len(words) == 3 else "",
    )


def _field_line_error(raw: bytes) -> str:
    """Say why a field line does not match ``field-line``."""
    if raw[:1] in (b" ", b"\t"):
        return "Bad Request (obs-fold line folding)"
    name, colon, _ = raw.partition(b":")
    if not colon:
        return "Bad Request (field line without a colon)"
    if name[-1:] in (b" ", b"\t"):
        return "Bad Request (whitespace between field name and colon)"
    if _abnf.token_re.fullmatch(name) is None:
        return "Bad Request (invalid field name)"
    return "Bad Request (invalid character in field value)"
