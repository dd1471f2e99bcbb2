"""The request parser against h11 and llhttp (through httptools), on generated requests.

Hypothesis builds a valid request, varied in ways that must not change its meaning (field
name case, optional whitespace, repeated fields, leading zeros in numbers, chunk sizes,
chunk extensions, trailers), and at most one *oddity*: a named departure from RFC 9112
(an odd target, version, field line, framing or chunk). The three parsers' answers are
normalised to a ``Verdict``; when they differ, ``classify`` names the kind of
disagreement, and ``KINDS`` holds every kind observed, with the RFC rule that decides it
and the parsers that rule sides with. A disagreement of a kind not in the table fails,
as does a table entry that leaves our parser on the wrong side of the RFC without saying
why it is deliberately stricter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Literal

import h11
import httptools
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wsgi_simple_server import DEFAULT_CONFIG, ParseError, find_head_end, parse_head
from wsgi_simple_server._body import (
    BodyError,
    ChunkedInput,
    ContentLengthInput,
    IncompleteBodyError,
)

Parser = Literal["ours", "h11", "llhttp"]
PARSERS: tuple[Parser, ...] = ("ours", "h11", "llhttp")

# Fields whose values a parser may rewrite (h11 normalises the framing fields) or that
# the verdict holds apart (the Host): they are compared through the verdict's framing
# (body and rest) and its ``host``.
_SET_APART = frozenset({b"content-length", b"transfer-encoding", b"host"})


@dataclass(frozen=True)
class Accepted:
    """A request a parser took: what an application would see of it."""

    method: bytes
    target: bytes
    version: bytes  # b"1.0" or b"1.1" (RFC 9110 section 2.5: 1.x is answered as 1.1)
    host: bytes | None  # the Host the request is for
    fields: tuple[tuple[bytes, bytes], ...]  # lowercased names, in order; trailers dropped
    body: bytes
    rest: bool  # whether bytes are left after the message (the next request, or a tunnel's)


Verdict = Accepted | Literal["refused", "incomplete"]


def _version(raw: bytes) -> bytes:
    return b"1.1" if raw[:2] == b"1." and raw != b"1.0" else raw


def _accepted(
    method: bytes,
    target: bytes,
    version: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    rest: bool,
) -> Accepted:
    hosts = [v for n, v in headers if n.lower() == b"host"]
    return Accepted(
        method,
        target,
        _version(version),
        hosts[-1] if hosts else None,
        tuple((n.lower(), v) for n, v in headers if n.lower() not in _SET_APART),
        body,
        rest,
    )


# -- the three parsers ------------------------------------------------------------------


class BytesSource:
    """A body reader's Source over the bytes that follow the head."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read_some(self, size: int) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk

    def read_line(self, limit: int) -> bytes:
        end = self.data.find(b"\n", 0, limit)
        cut = limit if end < 0 else end + 1
        line, self.data = self.data[:cut], self.data[cut:]
        return line


def ours(data: bytes) -> Verdict:
    """Our verdict: ``parse_head`` on the head, then the body reader of ``_body``."""
    try:
        end = find_head_end(data, DEFAULT_CONFIG)
        if end < 0:
            return "incomplete"
        request = parse_head(data[:end], DEFAULT_CONFIG)
        source = BytesSource(data[end:])
        body = b""
        if request.chunked:
            body = ChunkedInput(source, DEFAULT_CONFIG.max_body_bytes).read()
        elif request.content_length:
            body = ContentLengthInput(source, request.content_length).read()
    except (ParseError, BodyError):
        return "refused"
    except IncompleteBodyError:
        return "incomplete"
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in request.headers]
    return _accepted(
        request.method.encode(),
        request.target.encode("latin-1"),
        request.version[5:].encode(),
        headers,
        body,
        bool(source.data),
    )


def by_h11(data: bytes) -> Verdict:
    """h11's verdict, as a server connection sees *data* (trailers dropped)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    request: h11.Request | None = None
    body = b""
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return "incomplete"
            if isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                assert request is not None
                return _accepted(
                    request.method,
                    request.target,
                    request.http_version,
                    list(request.headers),
                    body,
                    bool(conn.trailing_data[0]),
                )
    except h11.ProtocolError:
        return "refused"


class _LLHttpRequest:
    """The callbacks httptools calls; the first message is kept as it completes."""

    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.in_trailers = False
        self.body = b""
        self.messages = 0
        self.first: Accepted | None = None

    def on_message_begin(self) -> None:
        self.messages += 1

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_trailers:
            # llhttp hands over a field value with its trailing whitespace; RFC 9112
            # section 5 leaves it out of the value, so it is removed here (as h11 and we
            # do), not counted as a disagreement.
            self.headers.append((name, value.rstrip(b" \t")))

    def on_headers_complete(self) -> None:
        self.in_trailers = True

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.first is None:
            self.first = self.verdict(rest=False)

    def verdict(self, *, rest: bool) -> Accepted:
        version = self.parser.get_http_version().encode()
        method = self.parser.get_method()
        return _accepted(method, self.url, version, self.headers, self.body, rest)


def by_llhttp(data: bytes) -> Verdict:
    """llhttp's verdict through ``httptools.HttpRequestParser`` (trailers dropped).

    A CONNECT (or Upgrade) request ends llhttp's parsing at the end of the head: what
    follows is the tunnel's, so it counts as accepted with the rest left over.
    """
    request = _LLHttpRequest()
    try:
        request.parser.feed_data(data)
    except httptools.HttpParserUpgrade as upgrade:
        return replace(
            request.first or request.verdict(rest=False), rest=upgrade.args[0] < len(data)
        )
    except httptools.HttpParserError:
        if request.first is not None:  # the bytes after the first message are no request
            return replace(request.first, rest=True)
        return "refused"
    if request.first is None:
        return "incomplete"
    return replace(request.first, rest=True) if request.messages > 1 else request.first


RUN: dict[Parser, Callable[[bytes], Verdict]] = {"ours": ours, "h11": by_h11, "llhttp": by_llhttp}


# -- the kinds of disagreement ----------------------------------------------------------

Outcome = Literal["accept", "refuse", "incomplete"]


def outcome(verdict: Verdict) -> Outcome:
    return (
        "accept" if isinstance(verdict, Accepted) else "refuse" if verdict == "refused" else verdict
    )


@dataclass(frozen=True)
class Kind:
    """A kind of disagreement: what each parser does, and who the RFC sides with.

    :ivar rule: the RFC rule that decides it, quoted or paraphrased.
    :ivar outcomes: what ours, h11 and llhttp do, in that order.
    :ivar differs_in: the parts of the verdict that differ between parsers that accept.
    :ivar rfc_sides_with: the parsers whose behaviour the rule requires or allows.
    :ivar stricter: why we refuse, when the RFC does not side with us alone (empty else).
    """

    rule: str
    outcomes: tuple[Outcome, Outcome, Outcome]
    rfc_sides_with: frozenset[Parser]
    differs_in: frozenset[str] = frozenset()
    stricter: str = ""


def _sides(*names: Parser) -> frozenset[Parser]:
    return frozenset(names)


_A: Outcome = "accept"
_R: Outcome = "refuse"
_MAY_REFUSE = "the RFC allows refusing; we refuse whatever could be framed two ways"

KINDS: dict[str, Kind] = {
    # -- the request line
    "method-unknown-to-llhttp": Kind(
        "RFC 9110 9.1: method = token, case-sensitive and extensible (16.1); an unknown "
        "one is the application's to answer (501), not a syntax error",
        (_A, _A, _R),
        _sides("ours", "h11"),
    ),
    "request-line-double-space": Kind(
        "RFC 9112 3: one SP between the parts; recipients MAY split on any whitespace, "
        "at the risk of request smuggling",
        (_R, _R, _A),
        _sides("ours", "h11", "llhttp"),
        stricter="lenient splitting is the smuggling risk RFC 9112 section 3 names",
    ),
    "version-minor-above-1": Kind(
        "RFC 9110 2.5: a recipient processes HTTP/1.x as the highest 1.x it conforms to",
        (_A, _A, _R),
        _sides("ours", "h11"),
    ),
    "version-major-not-1": Kind(
        "RFC 9112 2.3 (an HTTP/1.1 request line carries HTTP/1.x); RFC 9110 15.6.6: 505 "
        "for a major version the server does not support",
        (_R, _A, _A),
        _sides("ours"),
    ),
    "version-major-3": Kind(
        "as version-major-not-1 (llhttp refuses versions it does not know, h11 none)",
        (_R, _A, _R),
        _sides("ours", "llhttp"),
    ),
    # -- the request-target and its method
    "target-asterisk-not-options": Kind(
        "RFC 9112 3.2.4: the asterisk-form is only used for a server-wide OPTIONS",
        (_R, _A, _A),
        _sides("ours"),
    ),
    "target-authority-form-not-connect": Kind(
        "RFC 9112 3.2.3: the authority-form is only used for CONNECT",
        (_R, _A, _R),
        _sides("ours", "llhttp"),
    ),
    "target-fragment": Kind(
        "RFC 9112 3.2: origin-form = absolute-path [ '?' query ], no '#' fragment "
        "(RFC 3986 pchar and query exclude '#')",
        (_R, _A, _A),
        _sides("ours"),
    ),
    "absolute-form-invalid-authority": Kind(
        "RFC 9110 4.2.4: userinfo in an http(s) URI is an error; 4.2.1: an empty host "
        "MUST be rejected; RFC 3986 3.2.3: port = *DIGIT",
        (_R, _A, _A),
        _sides("ours"),
    ),
    "absolute-form-host-differs": Kind(
        "RFC 9112 3.2.2: an origin server MUST ignore the received Host and use the "
        "absolute-form's authority (h11 and llhttp hand both to the application)",
        (_A, _A, _A),
        _sides("ours"),
        differs_in=frozenset({"host"}),
    ),
    "connect-target-not-authority": Kind(
        "RFC 9112 3.2.3: CONNECT's request-target is the authority-form only",
        (_R, _A, _A),
        _sides("ours"),
    ),
    "connect-with-framing": Kind(
        "RFC 9110 9.3.6: a CONNECT request has no content; h11 reads a body, llhttp "
        "starts the tunnel at the end of the head",
        (_R, _A, _A),
        _sides(),
        differs_in=frozenset({"body", "rest"}),
        stricter="the two others disagree on where the request ends, so it is refused",
    ),
    # -- field lines
    "host-missing-or-repeated": Kind(
        "RFC 9112 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host or "
        "with more than one Host field line",
        (_R, _R, _A),
        _sides("ours", "h11"),
    ),
    "host-invalid": Kind(
        "RFC 9112 3.2: a server MUST answer 400 to a Host field with an invalid value "
        "(RFC 9110 7.2: Host = uri-host [ ':' port ])",
        (_R, _A, _A),
        _sides("ours"),
    ),
    "field-value-control": Kind(
        "RFC 9110 5.5: field-value = *field-content of VCHAR, obs-text, SP and HTAB; "
        "CTLs are not allowed",
        (_R, _A, _R),
        _sides("ours", "llhttp"),
    ),
    "obs-fold": Kind(
        "RFC 9112 5.2: a server MUST either reject obs-fold with 400 or replace it by SP",
        (_R, _A, _R),
        _sides("ours", "h11", "llhttp"),
        stricter="folding is obsolete and a smuggling vector; refusing is one of the two "
        "choices the RFC gives",
    ),
    "bare-lf": Kind(
        "RFC 9112 2.2: a recipient MAY recognise a single LF as a line terminator",
        (_R, _A, _R),
        _sides("ours", "h11", "llhttp"),
        stricter="only CRLF ends a line here, so no two parsers split lines differently",
    ),
    "expect-unknown": Kind(
        "RFC 9110 10.1.1: a server MAY answer 417 to an expectation other than "
        "100-continue (a parser alone leaves it to the application)",
        (_R, _A, _A),
        _sides("ours", "h11", "llhttp"),
        stricter="the server is the recipient that must decide, and it cannot meet it",
    ),
    # -- framing
    "content-length-with-transfer-encoding": Kind(
        "RFC 9112 6.3: a server MAY reject a request with both, or frame it by "
        "Transfer-Encoding alone",
        (_R, _A, _R),
        _sides("ours", "h11", "llhttp"),
        stricter=_MAY_REFUSE,
    ),
    "content-length-repeated": Kind(
        "RFC 9110 8.6: the same value repeated MAY be rejected or taken as one value",
        (_A, _A, _R),
        _sides("ours", "h11", "llhttp"),
    ),
    "content-length-repeated-by-value": Kind(
        "RFC 9110 8.6: 'the same decimal value repeated' MAY be taken as one value; "
        "5 and 005 are the same decimal value",
        (_A, _R, _R),
        _sides("ours", "h11", "llhttp"),
    ),
    "content-length-over-20-digits": Kind(
        "RFC 9110 8.6: Content-Length = 1*DIGIT, a number whatever its leading zeros",
        (_A, _R, _A),
        _sides("ours", "llhttp"),
    ),
    "transfer-encoding-unknown-before-chunked": Kind(
        "RFC 9112 6.1: a server SHOULD answer 501 to a transfer coding it does not "
        "understand (llhttp decodes only the chunked layer and hands back the rest)",
        (_R, _R, _A),
        _sides("ours", "h11"),
    ),
    "transfer-encoding-empty-member": Kind(
        "RFC 9110 5.6.1.2: a recipient MUST parse and ignore a reasonable number of "
        "empty list elements (Transfer-Encoding = #transfer-coding)",
        (_R, _R, _A),
        _sides("llhttp"),
        stricter="this list frames the body; h11 refuses it and llhttp refuses "
        "'chunked,', so an empty member is refused wherever it is",
    ),
    "transfer-encoding-trailing-htab": Kind(
        "RFC 9112 5.1: field-line = field-name ':' OWS field-value OWS, and "
        "OWS = *( SP / HTAB ): the tab is not part of the value",
        (_A, _A, _R),
        _sides("ours", "h11"),
    ),
    "transfer-encoding-in-http10": Kind(
        "RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding MUST be treated as if "
        "the framing is faulty",
        (_R, _A, _A),
        _sides("ours"),
    ),
    # -- chunked bodies
    "chunk-size-over-20-digits": Kind(
        "RFC 9112 7.1: chunk-size = 1*HEXDIG, a number whatever its leading zeros",
        (_A, _R, _A),
        _sides("ours", "llhttp"),
    ),
    "chunk-size-trailing-whitespace": Kind(
        "RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF; whitespace is only "
        "allowed (as BWS) around a chunk-ext's ';' and '='",
        (_R, _A, _R),
        _sides("ours", "llhttp"),
    ),
    "chunk-ext-bws-before-semicolon": Kind(
        "RFC 9112 7.1.1: chunk-ext = *( BWS ';' BWS chunk-ext-name [ BWS '=' BWS "
        "chunk-ext-val ] ); RFC 9110 5.6.3: recipients MUST parse and remove BWS",
        (_A, _R, _R),
        _sides("ours"),
    ),
    "chunk-ext-bws-inside": Kind(
        "as chunk-ext-bws-before-semicolon, for BWS after ';' or around '='",
        (_A, _A, _R),
        _sides("ours", "h11"),
    ),
    "chunk-ext-empty-name-or-value": Kind(
        "RFC 9112 7.1.1: chunk-ext-name = token, chunk-ext-val = token / "
        "quoted-string, and a token is 1*tchar: neither may be empty",
        (_R, _A, _A),
        _sides("ours"),
    ),
    "chunk-ext-invalid": Kind(
        "RFC 9112 7.1.1: chunk-ext-name = token, chunk-ext-val = token / quoted-string "
        "(h11 skips anything after ';')",
        (_R, _A, _R),
        _sides("ours", "llhttp"),
    ),
}


def differing_parts(verdicts: dict[Parser, Verdict]) -> frozenset[str]:
    """The parts of the verdict on which parsers that accept disagree."""
    accepted = [v for v in verdicts.values() if isinstance(v, Accepted)]
    return frozenset(
        f.name for f in fields(Accepted) if len({getattr(v, f.name) for v in accepted}) > 1
    )


def classify(oddity: str | None, verdicts: dict[Parser, Verdict]) -> str:
    """Name the kind of a disagreement: the oddity, if the verdicts are that kind's.

    A request without an oddity, or verdicts other than those its kind describes, give
    a name that is not in ``KINDS``, which describes what was seen.
    """
    outcomes = tuple(outcome(verdicts[p]) for p in PARSERS)
    kind = KINDS.get(oddity or "")
    differing = differing_parts(verdicts)
    if kind is not None and kind.outcomes == outcomes and kind.differs_in == differing:
        return oddity or ""
    return f"unlisted: {oddity or 'no oddity'} gives {outcomes}, differing in {sorted(differing)}"


def test_every_kind_says_the_rfc_sides_with_us_or_why_we_are_stricter() -> None:
    for name, kind in KINDS.items():
        assert "ours" in kind.rfc_sides_with or kind.stricter, name
        if kind.outcomes[0] == "refuse" and kind.rfc_sides_with - {"ours"}:
            # Others the rule allows accept: our refusal must be a choice we explain.
            accepting = {p for p, o in zip(PARSERS, kind.outcomes, strict=True) if o == "accept"}
            assert not accepting & kind.rfc_sides_with or kind.stricter, name


# -- generated requests -----------------------------------------------------------------

_TCHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Methods llhttp knows; any other token is the oddity method-unknown-to-llhttp.
_METHODS = [b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"PATCH", b"OPTIONS", b"PROPFIND"]
# Names no parser treats specially: the framing fields, Host, Expect and the fields
# that make llhttp switch protocols are the oddities' to send.
_SPECIAL = {"host", "content-length", "transfer-encoding", "expect", "connection", "upgrade"}
_names = st.text(_TCHARS, min_size=1, max_size=10).filter(lambda n: n.lower() not in _SPECIAL)
_ows = st.sampled_from(["", " ", "\t", "  ", " \t"])
_value = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E) | st.sampled_from(" \t\x80\xe9\xff"),
    max_size=16,
).map(lambda v: v.strip(" \t"))
_path = st.text(
    st.sampled_from("abcXYZ019-._~!$&'()*+,;=:@/%|{}\""), max_size=16
)  # h11 and llhttp also take "|{}" and '"' in a path, as we do
_hosts = st.sampled_from(["example.org", "a.b-c.example", "127.0.0.1", "[::1]", "xn--d1a.example"])
_ports = st.sampled_from(["", ":80", ":8080", ":1"])


@dataclass
class Case:
    """A generated request: its parts, its bytes, and the oddity it carries (if any)."""

    method: bytes = b"GET"
    target: bytes = b"/"
    version: bytes = b"HTTP/1.1"
    line_sep: tuple[bytes, bytes] = (b" ", b" ")
    host: list[bytes] | None = None  # the Host field lines (all of them)
    fields: list[bytes] | None = None  # the other field lines
    framing: list[bytes] | None = None  # Content-Length / Transfer-Encoding field lines
    body: bytes = b""  # the body as sent (chunked or not)
    eol: bytes = b"\r\n"  # the line ending of the head
    oddity: str | None = None

    def data(self) -> bytes:
        eol = self.eol
        line = self.method + self.line_sep[0] + self.target + self.line_sep[1] + self.version
        field_lines = (self.host or []) + (self.fields or []) + (self.framing or [])
        return line + eol + b"".join(f + eol for f in field_lines) + eol + self.body


def _field(
    draw: st.DrawFn, name: str, value: str, trailing: st.SearchStrategy[str] = _ows
) -> bytes:
    cased = "".join(c.upper() if draw(st.booleans()) else c.lower() for c in name)
    return f"{cased}:{draw(_ows)}{value}{draw(trailing)}".encode("latin-1")


def _chunk_size(draw: st.DrawFn, size: int, digits: int = 20) -> bytes:
    text = format(size, "x" if draw(st.booleans()) else "X")
    zeros = draw(st.integers(0, max(0, digits - len(text))))
    return b"0" * zeros + text.encode()


def _chunk_ext(draw: st.DrawFn) -> bytes:
    return draw(
        st.sampled_from([b"", b";a", b";name=value", b';q="x y"', b';a=1;b="\\"q\\""', b";A-1=z"])
    )


def _chunked_body(draw: st.DrawFn, body: bytes) -> bytes:
    out = b""
    at = 0
    while at < len(body):
        size = draw(st.integers(1, len(body) - at))
        out += _chunk_size(draw, size) + _chunk_ext(draw) + b"\r\n" + body[at : at + size] + b"\r\n"
        at += size
    out += b"0" * draw(st.integers(1, 3)) + _chunk_ext(draw) + b"\r\n"
    trailers = draw(st.lists(st.tuples(_names, _value), max_size=2))
    return out + b"".join(_field(draw, n, v) + b"\r\n" for n, v in trailers) + b"\r\n"


@st.composite
def valid_requests(draw: st.DrawFn) -> Case:
    """A request every parser must accept, and read the same."""
    case = Case(
        method=draw(st.sampled_from(_METHODS)),
        version=draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"])),
    )
    authority = (draw(_hosts) + draw(_ports)).encode()
    path = b"/" + draw(_path).encode()
    query = draw(st.none() | _path)
    if query is not None:
        path += b"?" + query.encode()
    if draw(st.booleans()):
        scheme = draw(st.sampled_from([b"http", b"https", b"HTTP"]))
        case.target = scheme + b"://" + authority + draw(st.sampled_from([b"", path]))
    else:
        case.target = path
    case.host = [_field(draw, "Host", authority.decode())]
    if case.version == b"HTTP/1.0" and case.target.startswith(b"/") and draw(st.booleans()):
        case.host = []  # optional in HTTP/1.0
    pool = draw(st.lists(_names, min_size=1, max_size=3))
    case.fields = [
        _field(draw, draw(st.sampled_from(pool)), draw(_value))
        for _ in range(draw(st.integers(0, 6)))
    ]
    if case.version == b"HTTP/1.1" and draw(st.booleans()):
        case.fields.append(
            _field(draw, "Expect", draw(st.sampled_from(["100-continue", "", "100-Continue, "])))
        )
    body = draw(st.binary(max_size=40))
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    if framing == "chunked" and case.version == b"HTTP/1.1":
        case.framing = [
            _field(
                draw,
                "Transfer-Encoding",
                draw(st.sampled_from(["chunked", "Chunked"])),
                st.sampled_from(["", " ", "  "]),  # a trailing HTAB is an oddity
            )
        ]
        case.body = _chunked_body(draw, body)
    elif framing == "length" or body:
        zeros = "0" * draw(st.integers(0, 19 - len(str(len(body)))))
        case.framing = [_field(draw, "Content-Length", zeros + str(len(body)))]
        case.body = body
    return case


Oddity = Callable[[st.DrawFn, Case], None]
ODDITIES: dict[str, Oddity] = {}


def oddity(name: str) -> Callable[[Oddity], Oddity]:
    def register(make: Oddity) -> Oddity:
        ODDITIES[name] = make
        return make

    return register


def _no_body(case: Case) -> None:
    case.framing, case.body = [], b""


def _http11(case: Case) -> None:
    if case.version != b"HTTP/1.1":
        case.version = b"HTTP/1.1"
        case.host = case.host or [b"Host: example.org"]


@oddity("method-unknown-to-llhttp")
def _method_unknown_to_llhttp(draw: st.DrawFn, case: Case) -> None:
    case.method = draw(st.text(_TCHARS, min_size=1, max_size=8).map(str.encode))
    if case.method in _METHODS or case.method.upper() == b"CONNECT":
        case.method = b"FROB"


@oddity("request-line-double-space")
def _request_line_double_space(draw: st.DrawFn, case: Case) -> None:
    case.line_sep = draw(st.sampled_from([(b"  ", b" "), (b" ", b"  ")]))


@oddity("version-minor-above-1")
def _version_minor_above_1(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    case.version = b"HTTP/1.%d" % draw(st.integers(2, 9))


@oddity("version-major-not-1")
def _version_major_not_1(draw: st.DrawFn, case: Case) -> None:
    case.version = draw(st.sampled_from([b"HTTP/2.0", b"HTTP/0.9"]))
    case.host = case.host or [b"Host: example.org"]
    _no_body(case)


@oddity("version-major-3")
def _version_major_3(draw: st.DrawFn, case: Case) -> None:
    case.version = b"HTTP/3.0"
    case.host = case.host or [b"Host: example.org"]
    _no_body(case)


@oddity("target-asterisk-not-options")
def _target_asterisk_not_options(draw: st.DrawFn, case: Case) -> None:
    case.method = draw(st.sampled_from([m for m in _METHODS if m != b"OPTIONS"]))
    case.target = b"*"


@oddity("target-authority-form-not-connect")
def _target_authority_form_not_connect(draw: st.DrawFn, case: Case) -> None:
    case.target = draw(_hosts).encode() + b":443"


@oddity("target-fragment")
def _target_fragment(draw: st.DrawFn, case: Case) -> None:
    case.target = b"/" + draw(_path).encode() + b"#" + draw(_path).encode()


@oddity("absolute-form-invalid-authority")
def _absolute_form_invalid_authority(draw: st.DrawFn, case: Case) -> None:
    authority = draw(st.sampled_from([b"u:p@h", b"u@h", b"h:port", b"h:80x", b"", b":80"]))
    case.target = b"http://" + authority + b"/" + draw(_path).encode()


@oddity("absolute-form-host-differs")
def _absolute_form_host_differs(draw: st.DrawFn, case: Case) -> None:
    case.target = b"http://evil.example" + draw(_ports).encode() + b"/" + draw(_path).encode()
    case.host = [b"Host: victim.example"] if case.host or case.version == b"HTTP/1.1" else []


@oddity("connect-target-not-authority")
def _connect_target_not_authority(draw: st.DrawFn, case: Case) -> None:
    case.method = b"CONNECT"
    case.target = draw(st.sampled_from([b"/", b"/x?y", b"*", b"http://h:443/", b"http://h:443"]))
    _no_body(case)


@oddity("connect-with-framing")
def _connect_with_framing(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    case.method = b"CONNECT"
    case.target = b"example.org:443"
    if draw(st.booleans()):
        case.framing, case.body = [b"Transfer-Encoding: chunked"], b"5\r\nhello\r\n0\r\n\r\n"
    else:
        case.framing, case.body = [b"Content-Length: 5"], b"hello"


@oddity("host-missing-or-repeated")
def _host_missing_or_repeated(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    case.target = b"/"
    case.host = draw(st.sampled_from([[], [b"Host: a", b"Host: a"], [b"Host: a", b"host: b"]]))


@oddity("host-invalid")
def _host_invalid(draw: st.DrawFn, case: Case) -> None:
    case.target = b"/"
    case.host = [b"Host: " + draw(st.sampled_from([b"a b", b"u@h", b"h:port", b"h/x", b"a,b"]))]


@oddity("field-value-control")
def _field_value_control(draw: st.DrawFn, case: Case) -> None:
    byte = draw(st.sampled_from([b"\x01", b"\x07", b"\x1f", b"\x7f", b"\x0b", b"\x0c"]))
    case.fields = [*(case.fields or []), b"X-Odd: a" + byte + b"b"]


@oddity("obs-fold")
def _obs_fold(draw: st.DrawFn, case: Case) -> None:
    case.fields = [*(case.fields or []), b"X-Odd: a", draw(st.sampled_from([b" b", b"\tb"]))]


@oddity("bare-lf")
def _bare_lf(draw: st.DrawFn, case: Case) -> None:
    case.eol = b"\n"


@oddity("expect-unknown")
def _expect_unknown(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    value = draw(st.sampled_from([b"foo", b"100-continue, foo", b"100-continue=1", b"x,"]))
    case.fields = [*(case.fields or []), b"Expect: " + value]


@oddity("content-length-with-transfer-encoding")
def _content_length_with_transfer_encoding(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    case.framing = draw(st.permutations([b"Content-Length: 5", b"Transfer-Encoding: chunked"]))
    case.body = b"5\r\nhello\r\n0\r\n\r\n"


@oddity("content-length-repeated")
def _content_length_repeated(draw: st.DrawFn, case: Case) -> None:
    case.framing = draw(
        st.sampled_from(
            [
                [b"Content-Length: 5", b"Content-Length: 5"],
                [b"Content-Length: 5, 5"],
                [b"Content-Length: 5,5, 5"],
            ]
        )
    )
    case.body = b"hello"


@oddity("content-length-repeated-by-value")
def _content_length_repeated_by_value(draw: st.DrawFn, case: Case) -> None:
    case.framing = draw(
        st.sampled_from(
            [[b"Content-Length: 5, 05"], [b"Content-Length: 005", b"Content-Length: 5"]]
        )
    )
    case.body = b"hello"


@oddity("content-length-over-20-digits")
def _content_length_over_20_digits(draw: st.DrawFn, case: Case) -> None:
    case.framing = [b"Content-Length: " + b"0" * draw(st.integers(20, 200)) + b"5"]
    case.body = b"hello"


@oddity("content-length-invalid-or-differing")
def _content_length_invalid_or_differing(draw: st.DrawFn, case: Case) -> None:
    value = draw(st.sampled_from([b"+5", b"0x5", b"5 5", b"", b"5, 6", b"-5", b"5,", b"5.0"]))
    case.framing = [b"Content-Length: " + value]
    case.body = b"hello"


@oddity("transfer-encoding-unknown-before-chunked")
def _transfer_encoding_unknown_before_chunked(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    case.framing = [
        b"Transfer-Encoding: " + draw(st.sampled_from([b"gzip, chunked", b"x, chunked"]))
    ]
    case.body = b"5\r\nhello\r\n0\r\n\r\n"


@oddity("transfer-encoding-invalid")
def _transfer_encoding_invalid(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    value = draw(
        st.sampled_from(
            [
                b"chunked, gzip",
                b"gzip",
                b"chunked, chunked",
                b"chunked,",
                b"chunked, ,",
                b"",
                b"chunk",
            ]
        )
    )
    case.framing = [b"Transfer-Encoding: " + value]
    case.body = b"5\r\nhello\r\n0\r\n\r\n"


@oddity("transfer-encoding-empty-member")
def _transfer_encoding_empty_member(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    value = draw(st.sampled_from([b", chunked", b" , chunked", b",,chunked"]))
    case.framing = [b"Transfer-Encoding: " + value]
    case.body = b"5\r\nhello\r\n0\r\n\r\n"


@oddity("transfer-encoding-trailing-htab")
def _transfer_encoding_trailing_htab(draw: st.DrawFn, case: Case) -> None:
    _http11(case)
    case.framing = [b"Transfer-Encoding: chunked" + draw(st.sampled_from([b"\t", b" \t", b"\t "]))]
    case.body = b"5\r\nhello\r\n0\r\n\r\n"


@oddity("transfer-encoding-in-http10")
def _transfer_encoding_in_http10(draw: st.DrawFn, case: Case) -> None:
    case.version = b"HTTP/1.0"
    case.framing = [b"Transfer-Encoding: chunked"]
    case.body = b"5\r\nhello\r\n0\r\n\r\n"


def _chunked(case: Case, first_line: bytes, rest: bytes = b"hello\r\n0\r\n\r\n") -> None:
    _http11(case)
    case.framing = [b"Transfer-Encoding: chunked"]
    case.body = first_line + b"\r\n" + rest


@oddity("chunk-size-over-20-digits")
def _chunk_size_over_20_digits(draw: st.DrawFn, case: Case) -> None:
    _chunked(case, b"0" * draw(st.integers(20, 200)) + b"5")


@oddity("chunk-size-trailing-whitespace")
def _chunk_size_trailing_whitespace(draw: st.DrawFn, case: Case) -> None:
    _chunked(case, b"5" + draw(st.sampled_from([b" ", b"\t", b"  "])))


@oddity("chunk-ext-bws-before-semicolon")
def _chunk_ext_bws_before_semicolon(draw: st.DrawFn, case: Case) -> None:
    _chunked(case, b"5" + draw(st.sampled_from([b" ;a", b"\t;a=b", b" ; a"])))


@oddity("chunk-ext-bws-inside")
def _chunk_ext_bws_inside(draw: st.DrawFn, case: Case) -> None:
    _chunked(case, b"5" + draw(st.sampled_from([b"; a", b";a =b", b";a= b", b";\ta = b"])))


@oddity("chunk-ext-invalid")
def _chunk_ext_invalid(draw: st.DrawFn, case: Case) -> None:
    _chunked(case, b"5" + draw(st.sampled_from([b";", b';a="b', b";a=b c", b";a@b"])))


@oddity("chunk-ext-empty-name-or-value")
def _chunk_ext_empty_name_or_value(draw: st.DrawFn, case: Case) -> None:
    _chunked(case, b"5" + draw(st.sampled_from([b";a=", b";=b", b";="])))


@oddity("chunk-framing-broken")
def _chunk_framing_broken(draw: st.DrawFn, case: Case) -> None:
    line, rest = draw(
        st.sampled_from(
            [
                (b"5", b"helloX\r\n0\r\n\r\n"),
                (b"0x5", b"hello\r\n0\r\n\r\n"),
                (b"-5", b"hello\r\n0\r\n\r\n"),
                (b"5", b"hello\r\n0\r\nbad\r\n\r\n"),
                (b"5", b"hello\r\n0\r\nX : y\r\n\r\n"),
                (b"5\nhello", b"0\r\n\r\n"),
            ]
        )
    )
    _chunked(case, line, rest)


@st.composite
def requests(draw: st.DrawFn) -> Case:
    """A valid request, or one with a single oddity applied to it."""
    case = draw(valid_requests())
    name = draw(st.sampled_from([None, *sorted(ODDITIES)]))
    if name is not None:
        ODDITIES[name](draw, case)
        case.oddity = name
    return case


def test_every_kind_has_the_oddity_that_shows_it() -> None:
    assert set(KINDS) <= set(ODDITIES)


def verdicts_of(data: bytes) -> dict[Parser, Verdict]:
    return {p: RUN[p](data) for p in PARSERS}


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_every_disagreement_is_a_listed_kind(case: Case) -> None:
    verdicts = verdicts_of(case.data())
    if len(set(verdicts.values())) > 1:
        kind = classify(case.oddity, verdicts)
        assert kind in KINDS, f"{kind}\n{case.data()!r}\n{verdicts}"


@settings(max_examples=300, deadline=None)
@given(valid_requests())
def test_valid_requests_are_read_alike_by_all_three(case: Case) -> None:
    verdicts = verdicts_of(case.data())
    assert isinstance(verdicts["ours"], Accepted), case.data()
    assert len(set(verdicts.values())) == 1, (case.data(), verdicts)


# -- the faults of issue 9, one example each ---------------------------------------------

_POST = b"POST / HTTP/1.1\r\nHost: h\r\n"


@pytest.mark.parametrize(
    ("data", "oddity", "ours_accepts"),
    [
        # 1. numbers by value, not digit count
        (_POST + b"Content-Length: 00000000000000000005\r\n\r\nhello", None, True),
        (
            _POST + b"Transfer-Encoding: chunked\r\n\r\n00000000000000005\r\nhello\r\n0\r\n\r\n",
            None,
            True,
        ),
        (
            _POST + b"Content-Length: " + b"0" * 30 + b"5\r\n\r\nhello",
            "content-length-over-20-digits",
            True,
        ),
        # 2. an empty Expect asks for nothing
        (b"GET / HTTP/1.1\r\nHost: h\r\nExpect:\r\n\r\n", None, True),
        (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, \r\n\r\n", None, True),
        # 3. the target's form is the method's
        (b"CONNECT / HTTP/1.1\r\nHost: h\r\n\r\n", "connect-target-not-authority", False),
        (
            b"CONNECT http://example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n",
            "connect-target-not-authority",
            False,
        ),
        (
            b"GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "absolute-form-invalid-authority",
            False,
        ),
        (
            b"GET http://h:port/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "absolute-form-invalid-authority",
            False,
        ),
        (b"GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", "absolute-form-invalid-authority", False),
        (
            b"CONNECT h:443 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
            "connect-with-framing",
            False,
        ),
        (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", None, True),
        # 4. the absolute-form's authority is the Host
        (
            b"GET http://evil.example/page?q=1 HTTP/1.1\r\nHost: victim.example\r\n\r\n",
            "absolute-form-host-differs",
            True,
        ),
    ],
)
def test_issue_9_faults_are_fixed_and_any_disagreement_is_listed(
    data: bytes, oddity: str | None, ours_accepts: bool
) -> None:
    verdicts = verdicts_of(data)
    assert isinstance(verdicts["ours"], Accepted) is ours_accepts, verdicts
    if oddity is None:
        assert len(set(verdicts.values())) == 1, verdicts
    else:
        assert classify(oddity, verdicts) == oddity, verdicts


def test_the_absolute_form_host_is_the_target_s_not_the_field_s() -> None:
    verdicts = verdicts_of(b"GET http://evil.example:81/ HTTP/1.1\r\nHost: victim.example\r\n\r\n")
    assert isinstance(verdicts["ours"], Accepted)
    assert verdicts["ours"].host == b"evil.example:81"
