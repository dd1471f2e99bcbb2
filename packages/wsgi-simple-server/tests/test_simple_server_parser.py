"""The sans-IO request parser: bytes in, a Request or a ParseError out (no sockets)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsgi_simple_server import (
    DEFAULT_CONFIG,
    ParseError,
    Request,
    ServerConfig,
    find_head_end,
    parse_head,
)


def parse(head: bytes, config: ServerConfig = DEFAULT_CONFIG) -> Request:
    end = find_head_end(head, config)
    assert end == len(head), "the head must be complete"
    return parse_head(head, config)


def parse_all(head: bytes, config: ServerConfig = DEFAULT_CONFIG) -> Request | None:
    end = find_head_end(head, config)
    return parse_head(head[:end], config) if end > 0 else None


def status_of(head: bytes, config: ServerConfig = DEFAULT_CONFIG) -> int:
    with pytest.raises(ParseError) as info:
        parse_all(head, config)
    return info.value.status


def test_origin_form_request_gives_method_path_query_version() -> None:
    r = parse(b"GET /a%20b/c?x=1&y=2 HTTP/1.1\r\nHost: example\r\n\r\n")
    assert (r.method, r.path, r.query, r.version) == ("GET", "/a%20b/c", "x=1&y=2", "HTTP/1.1")
    assert r.headers == [("Host", "example")]
    assert r.keep_alive
    assert r.content_length is None
    assert not r.chunked


def test_field_values_lose_surrounding_whitespace() -> None:
    r = parse(b"GET / HTTP/1.1\r\nHost: h\r\nX-A: \t value with  spaces \t\r\n\r\n")
    assert r.headers[1] == ("X-A", "value with  spaces")


def test_incomplete_head_returns_minus_one() -> None:
    assert find_head_end(b"GET / HTTP/1.1\r\nHost: h\r\n", DEFAULT_CONFIG) == -1
    assert find_head_end(b"GET / HT", DEFAULT_CONFIG) == -1


def test_head_end_is_found_before_a_pipelined_request() -> None:
    first = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
    assert find_head_end(first + b"GET /2 HTTP/1.1\r\n", DEFAULT_CONFIG) == len(first)


def test_absolute_form_gives_path_info_from_its_path() -> None:
    r = parse(b"GET http://example.com:8080/p/q?z HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert (r.path, r.query) == ("/p/q", "z")
    r = parse(b"GET https://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert (r.path, r.query) == ("/", "")


def test_asterisk_form_only_for_options() -> None:
    assert parse(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").path == "*"
    assert status_of(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n") == 400


def test_leading_double_slash_is_collapsed_like_the_stdlib() -> None:
    assert parse(b"GET //evil.example/x HTTP/1.0\r\n\r\n").path == "/evil.example/x"


def test_http10_keep_alive_only_when_asked() -> None:
    assert not parse(b"GET / HTTP/1.0\r\n\r\n").keep_alive
    assert parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive


def test_connection_close_ends_http11_persistence() -> None:
    assert not parse(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n").keep_alive


def test_higher_minor_version_is_treated_as_http11() -> None:
    assert parse(b"GET / HTTP/1.7\r\nHost: h\r\n\r\n").version == "HTTP/1.1"


def test_content_length_is_read() -> None:
    assert parse(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n\r\n").content_length == 12


def test_identical_repeated_content_length_is_one_value() -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5, 5\r\n\r\n"
    assert parse(head).content_length == 5


def test_chunked_transfer_encoding_is_recognised_case_insensitively() -> None:
    r = parse(b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n")
    assert r.chunked
    assert r.content_length is None


def test_expect_100_continue_is_noted() -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n"
    assert parse(head).expect_continue


def test_empty_lines_are_not_the_parsers_business() -> None:
    # The connection skips CRLFs before a request; the parser sees a request line.
    assert status_of(b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n") == 400


_CL_AND_TE = (
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (_CL_AND_TE, 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x3\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3 4\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 400),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A : b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A\t: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n  folded\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: b\x00c\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: b\x01c\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: b\x7fc\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX-A: b\rc\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX(A): b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nno colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n", 400),
        (b"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET /#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET nopath HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET / http/1.1\r\nHost: h\r\n\r\n", 400),
        (b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / HTTP/3.1\r\n\r\n", 505),
        (b"GET / HTTP/0.9\r\n\r\n", 505),
        (b"GET /\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\n\r\n", 417),
        (b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413),
    ],
)
def test_malformed_or_ambiguous_requests_are_refused_with_their_status(
    head: bytes, status: int
) -> None:
    assert status_of(head) == status


def test_bare_lf_line_endings_are_refused_as_soon_as_seen() -> None:
    with pytest.raises(ParseError) as info:
        find_head_end(b"GET / HTTP/1.1\nHost: h\n", DEFAULT_CONFIG)
    assert info.value.status == 400
    assert status_of(b"GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n") == 400


def test_bare_cr_in_the_head_is_refused() -> None:
    assert status_of(b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n") == 400
    assert status_of(b"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n") == 400


def test_request_line_over_the_limit_is_414_before_the_line_ends() -> None:
    config = ServerConfig(max_request_line_bytes=100)
    with pytest.raises(ParseError) as info:
        find_head_end(b"GET /" + b"a" * 200, config)
    assert info.value.status == 414
    assert info.value.request_version == ""  # the stdlib sends its 414 this way


def test_request_line_exactly_at_the_limit_is_accepted() -> None:
    line = b"GET /" + b"a" * 82 + b" HTTP/1.0\r\n"
    config = ServerConfig(max_request_line_bytes=len(line))
    assert parse(line + b"\r\n", config).method == "GET"
    with pytest.raises(ParseError):
        find_head_end(line[:-6] + b"a HTTP/1.0\r\n\r\n", config)


def test_too_many_header_fields_is_431() -> None:
    config = ServerConfig(max_header_count=3)
    head = (
        b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(3)) + b"\r\n"
    )
    assert status_of(head, config) == 431


def test_header_section_over_the_byte_limit_is_431_while_it_grows() -> None:
    config = ServerConfig(max_header_bytes=64)
    with pytest.raises(ParseError) as info:
        find_head_end(b"GET / HTTP/1.1\r\nX: " + b"v" * 100, config)
    assert info.value.status == 431


def test_body_larger_than_the_limit_is_413() -> None:
    config = ServerConfig(max_body_bytes=10)
    assert status_of(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", config) == 413


def test_stdlib_messages_are_kept_for_requests_the_stdlib_refuses_too() -> None:
    with pytest.raises(ParseError) as info:
        parse_head(b"GET / HTTP/1.x\r\n\r\n", DEFAULT_CONFIG)
    assert info.value.message == "Bad request version ('HTTP/1.x')"
    assert info.value.request_version == "HTTP/0.9"
    with pytest.raises(ParseError) as info:
        parse_head(b"POST /\r\n\r\n", DEFAULT_CONFIG)
    assert info.value.message == "Bad HTTP/0.9 request type ('POST')"


# -- numbers compare by value (RFC 9110 section 8.6) ----------------------------------


@pytest.mark.parametrize(
    ("value", "length"),
    [
        (b"00000000000000000005", 5),
        (b"0" * 40 + b"12", 12),
        (b"000", 0),
        (b"5, 05, 005", 5),
        (b"0000000000000000000000000000001073741824", 1 << 30),
    ],
)
def test_content_length_is_a_number_whatever_its_leading_zeros(value: bytes, length: int) -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + value + b"\r\n\r\n"
    assert parse(head).content_length == length


def test_content_length_one_past_the_limit_is_413_whatever_its_digit_count() -> None:
    config = ServerConfig(max_body_bytes=10)
    for value in (b"11", b"0000000011", b"100", b"99999999999999999999999"):
        head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: " + value + b"\r\n\r\n"
        assert status_of(head, config) == 413
    head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 000000000010\r\n\r\n"
    assert parse(head, config).content_length == 10


def test_a_megabyte_of_content_length_digits_is_answered_without_converting_it() -> None:
    # int() of more than 4300 digits raises ValueError: the digit count decides first.
    config = ServerConfig(max_header_bytes=3 << 20)
    head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n"
    assert status_of(head % (b"1" * (1 << 20)), config) == 413
    assert parse(head % (b"0" * (1 << 20) + b"7"), config).content_length == 7


def test_repeated_content_length_values_must_be_equal_numbers() -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
    assert status_of(head) == 400
    assert status_of(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,\r\n\r\n") == 400


# -- Expect is a list (RFC 9110 sections 10.1.1 and 5.6.1) ------------------------------


@pytest.mark.parametrize("value", [b"", b" ", b"\t", b",", b" , ,\t"])
def test_an_empty_expect_list_is_ignored(value: bytes) -> None:
    r = parse(b"POST / HTTP/1.1\r\nHost: h\r\nExpect:" + value + b"\r\n\r\n")
    assert not r.expect_continue


@pytest.mark.parametrize(
    "value",
    [b"100-continue, ", b", 100-continue", b"100-continue,,", b"100-continue, 100-CONTINUE"],
)
def test_empty_members_beside_100_continue_are_ignored(value: bytes) -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: " + value + b"\r\n\r\n"
    assert parse(head).expect_continue


def test_empty_expect_field_beside_another_is_ignored() -> None:
    head = b"POST / HTTP/1.1\r\nHost: h\r\nExpect:\r\nExpect: 100-continue\r\n\r\n"
    assert parse(head).expect_continue


@pytest.mark.parametrize(
    "value", [b"100-continue, foo", b"foo,", b"100-continue=1", b'100-continue;a="b"']
)
def test_any_member_other_than_100_continue_is_417(value: bytes) -> None:
    assert status_of(b"GET / HTTP/1.1\r\nHost: h\r\nExpect: " + value + b"\r\n\r\n") == 417


def test_expectations_of_an_http10_request_are_ignored() -> None:
    assert not parse(b"GET / HTTP/1.0\r\nExpect: foo\r\n\r\n").expect_continue
    assert not parse(b"GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n").expect_continue


@pytest.mark.parametrize("value", [b"chunked,", b", chunked", b"chunked, ,", b","])
def test_transfer_encoding_with_an_empty_member_is_refused(value: bytes) -> None:
    # Stricter than RFC 9110 section 5.6.1.2 on purpose: this list frames the body.
    head = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: " + value + b"\r\n\r\n"
    assert status_of(head) == 400


# -- the request-target's form depends on the method (RFC 9112 section 3.2) ------------


@pytest.mark.parametrize(
    "target", [b"example.com:443", b"[::1]:8443", b"127.0.0.1:1", b"xn--bcher-kva.example:80"]
)
def test_connect_takes_an_authority_form_target(target: bytes) -> None:
    r = parse(b"CONNECT " + target + b" HTTP/1.1\r\nHost: " + target + b"\r\n\r\n")
    assert (r.method, r.target, r.path, r.query) == ("CONNECT", target.decode(), "", "")
    assert not r.has_body


@pytest.mark.parametrize(
    "target",
    [
        b"/",
        b"/a?b",
        b"*",
        b"http://example.com:443",
        b"http://example.com:443/",
        b"example.com",
        b"example.com:",
        b":443",
        b"u@example.com:443",
        b"example.com:https",
    ],
)
def test_connect_with_any_other_target_is_400(target: bytes) -> None:
    assert status_of(b"CONNECT " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n") == 400


@pytest.mark.parametrize(
    "field",
    [b"Content-Length: 5", b"Content-Length: 0", b"Transfer-Encoding: chunked"],
)
def test_connect_with_content_framing_is_400(field: bytes) -> None:
    head = b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n" + field + b"\r\n\r\n"
    assert status_of(head) == 400


@pytest.mark.parametrize("method", [b"GET", b"OPTIONS", b"POST"])
def test_authority_form_is_for_connect_only(method: bytes) -> None:
    assert status_of(method + b" example.com:443 HTTP/1.1\r\nHost: h\r\n\r\n") == 400


@pytest.mark.parametrize(
    "authority",
    [b"u:p@h", b"u@h", b"@h", b"h:port", b"h:80x", b"", b":80", b"h h", b"[::1"],
)
def test_absolute_form_authority_is_refused_as_the_same_host_field_is(authority: bytes) -> None:
    # RFC 9110 section 4.2.4 (no userinfo), 4.2.1 (no empty host), RFC 3986 port = *DIGIT.
    target_status = status_of(b"GET http://" + authority + b"/x HTTP/1.1\r\nHost: h\r\n\r\n")
    assert target_status == 400
    # An empty host is valid in Host (RFC 9110 section 7.2), not in an http URI (4.2.1).
    if authority[:1] not in (b"", b":"):
        assert status_of(b"GET / HTTP/1.1\r\nHost: " + authority + b"\r\n\r\n") == 400


# -- the absolute-form's authority is the Host (RFC 9112 section 3.2.2) -----------------


def test_absolute_form_authority_replaces_the_host_field() -> None:
    head = (
        b"GET http://evil.example/page?q=1 HTTP/1.1\r\n"
        b"Accept: */*\r\nHost: victim.example\r\nX-A: b\r\n\r\n"
    )
    r = parse(head)
    assert r.headers == [("Accept", "*/*"), ("Host", "evil.example"), ("X-A", "b")]
    assert (r.path, r.query) == ("/page", "q=1")


@pytest.mark.parametrize(
    ("target", "host"),
    [
        (b"http://evil.example:8080/", "evil.example:8080"),
        (b"HTTPS://Evil.Example", "Evil.Example"),
        (b"http://[::1]:81/x", "[::1]:81"),
        (b"http://evil.example:/x", "evil.example"),
    ],
)
def test_absolute_form_host_keeps_the_port_it_has(target: bytes, host: str) -> None:
    r = parse(b"GET " + target + b" HTTP/1.1\r\nhost: victim.example\r\n\r\n")
    assert r.headers == [("Host", host)]


def test_absolute_form_gives_an_http10_request_without_host_its_host() -> None:
    r = parse(b"GET http://evil.example/ HTTP/1.0\r\nX-A: b\r\n\r\n")
    assert r.headers == [("X-A", "b"), ("Host", "evil.example")]


def test_an_http11_absolute_form_request_still_needs_one_valid_host_field() -> None:
    # RFC 9112 section 3.2: Host is mandatory and checked whatever the target's form.
    assert status_of(b"GET http://evil.example/ HTTP/1.1\r\n\r\n") == 400
    assert status_of(b"GET http://evil.example/ HTTP/1.1\r\nHost: a b\r\n\r\n") == 400


# -- generated requests -------------------------------------------------------------

_tchar = st.sampled_from(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_token = st.text(_tchar, min_size=1, max_size=12)
_value = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)
_path = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="#?"), max_size=20
)


Case = tuple[bytes, str, str, list[tuple[str, str]]]


@st.composite
def valid_requests(draw: st.DrawFn) -> Case:
    method = draw(_token.filter(lambda m: m != "CONNECT"))  # CONNECT takes host:port
    path = "/" + draw(_path)
    names = draw(
        st.lists(
            _token.filter(
                lambda n: (
                    n.lower()
                    not in {"host", "content-length", "transfer-encoding", "expect", "connection"}
                )
            ),
            max_size=8,
        )
    )
    fields = [("Host", "example.org")] + [(n, draw(_value)) for n in names]
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
    return head.encode("ascii"), method, path, fields


@given(valid_requests())
def test_any_valid_request_parses_to_its_parts(case: Case) -> None:
    head, method, path, fields = case
    r = parse(head)
    assert r.method == method
    expected_path = "/" + path.lstrip("/") if path.startswith("//") else path
    assert r.path == expected_path
    assert r.headers == fields


@given(valid_requests(), st.integers(min_value=0), st.sampled_from(b"\x00\x01\x0b\x1f\x7f\n\r"))
def test_a_control_byte_anywhere_in_a_valid_head_is_refused(
    case: Case, where: int, byte: int
) -> None:
    head = case[0]
    body = head[:-4]
    i = where % len(body)
    broken = body[:i] + bytes([byte]) + body[i:] + b"\r\n\r\n"
    assert status_of(broken) in (400, 505)


@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_request_an_error_or_need_more(data: bytes) -> None:
    status = 0
    try:
        request = parse_all(data)
    except ParseError as exc:
        status = exc.status
    else:
        assert request is None or isinstance(request, Request)
    assert status in (0, 400, 413, 414, 417, 431, 501, 505)


@given(valid_requests(), st.integers(min_value=1, max_value=50))
def test_the_head_is_found_whatever_the_split_of_the_bytes(case: Case, step: int) -> None:
    head = case[0]
    buf = b""
    found = -1
    for i in range(0, len(head), step):
        buf += head[i : i + step]
        found = find_head_end(buf, DEFAULT_CONFIG)
        if found > 0:
            break
    assert found == len(head)


def test_a_line_seen_before_parses_to_the_same_request_and_the_caches_stay_bounded() -> None:
    from wsgi_simple_server import _parser  # noqa: PLC0415 - the caches are private

    config = ServerConfig()
    head = b"GET /p?q=1 HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\r\n"
    first = parse_head(head, config)
    again = parse_head(head, config)  # from the caches
    assert (again.path, again.query, again.headers) == (first.path, first.query, first.headers)
    # A bad line is never remembered: it is refused every time.
    for _ in range(2):
        with pytest.raises(ParseError):
            parse_head(b"GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", config)
    for i in range(_parser._MAX_KNOWN_LINES + 10):
        parse_head(b"GET / HTTP/1.1\r\nHost: h\r\nX-N: %d\r\n\r\n" % i, config)
    assert len(_parser._known_lines) <= _parser._MAX_KNOWN_LINES
    long_value = b"v" * 1000
    parse_head(b"GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + long_value + b"\r\n\r\n", config)
    assert all(len(raw) <= _parser._MAX_KNOWN_LINE_BYTES for raw in _parser._known_lines)


# -- the standard library's path asks the parser's rules one at a time -----------------

_target_bytes = st.lists(
    st.sampled_from(
        [
            *(b"/", b"a", b"%41", b"?", b"=", b"&", b"//", b":", b"@", b"[", b"]", b"*"),
            *(b"http://", b"h.example", b":80", b" ", b"\x01", b"#", b"\x7f", b"\xe9"),
        ]
    ),
    max_size=8,
).map(b"".join)


@given(st.sampled_from(["GET", "OPTIONS", "CONNECT"]), _target_bytes)
def test_origin_form_reads_a_target_as_parse_head_does(method: str, target: bytes) -> None:
    from wsgi_simple_server._parser import origin_form  # noqa: PLC0415 - the module's helper

    head = method.encode() + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    try:
        request = parse_all(head)
    except ParseError:
        request = None
    if request is None:
        with pytest.raises(ParseError) as refused:
            origin_form(method, target.decode("iso-8859-1"))
        assert refused.value.status == 400
        return
    path, host = origin_form(method, target.decode("iso-8859-1"))
    assert path == request.path + ("?" + request.query if request.query else "")
    assert ("Host", host or "x") in request.headers


_framing_fields = st.lists(
    st.tuples(
        st.sampled_from(["Content-Length", "Transfer-Encoding", "content-length"]),
        st.sampled_from(["5", "05", "5, 5", "5,6", "x", "", "chunked", "gzip, chunked", "Chunked"]),
    ),
    max_size=3,
)


@given(st.sampled_from(["HTTP/1.0", "HTTP/1.1"]), _framing_fields)
def test_body_framing_frames_a_body_as_parse_head_does(
    version: str, fields: list[tuple[str, str]]
) -> None:
    from wsgi_simple_server._parser import body_framing  # noqa: PLC0415 - the module's helper

    lines = b"".join(f"{name}: {value}\r\n".encode() for name, value in fields)
    head = f"POST / {version}\r\nHost: x\r\n".encode() + lines + b"\r\n"
    expected: tuple[int | None, bool] | int
    try:
        request = parse(head)
        expected = (request.content_length, request.chunked)
    except ParseError as exc:
        expected = exc.status
    try:
        framing: tuple[int | None, bool] | int = body_framing(version, fields, DEFAULT_CONFIG)
    except ParseError as exc:
        framing = exc.status
    assert framing == expected
