"""The sans-IO proxy logic: trusted peers, RFC 7239 ``Forwarded``, ``X-Forwarded-*``,
and the PROXY protocol header parser (versions 1 and 2)."""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import struct
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from wsgi_simple_server import ServerConfig
from wsgi_simple_server._proxy import (
    FORWARDING_KEYS,
    V2_SIGNATURE,
    Forwarding,
    ProxyHeader,
    ProxyProtocolError,
    TrustedPeers,
    apply_forwarded,
    parse_forwarded,
    parse_node,
    parse_proxy_header,
    parse_x_forwarded,
    read_proxy_header,
    trusted_headers,
)

LOCAL = TrustedPeers("127.0.0.1,::1")
PROXIES = TrustedPeers("127.0.0.1, 10.0.0.0/8, fd00::/8")
# trusted_proxy_headers values
DEFAULT = "x-forwarded-for,x-forwarded-proto"
FORWARDED = "forwarded"
X_ALL = "X-Forwarded-For, x-forwarded-proto,x-forwarded-host , x-forwarded-port"
ALL = "*"

# -- trusted peers ----------------------------------------------------------------------


def test_trusted_peers_match_addresses_networks_and_mapped_ipv4() -> None:
    assert "127.0.0.1" in PROXIES
    assert "10.200.3.4" in PROXIES
    assert "fd12::1" in PROXIES
    assert "::ffff:10.1.2.3" in PROXIES  # an IPv4 client of a dual-stack socket
    assert "11.0.0.1" not in PROXIES
    assert "unknown" not in PROXIES
    assert "_hidden" not in PROXIES


def test_star_trusts_everyone_and_unix_socket_peers_are_trusted() -> None:
    everyone = TrustedPeers("*")
    assert "203.0.113.9" in everyone
    assert everyone.trusts_peer(("203.0.113.9", 4000))
    assert LOCAL.trusts_peer(("unix:", 0))  # the server's address of a Unix socket peer
    assert LOCAL.trusts_peer("")  # accept() on a Unix socket gives "" (or a path)
    assert LOCAL.trusts_peer("/run/app.sock")
    assert LOCAL.trusts_peer(("::1", 4000, 0, 0))
    assert not LOCAL.trusts_peer(("192.0.2.1", 4000))


@pytest.mark.parametrize("spec", ["10.0.0.0/33", "localhost", "1.2.3", "*, nope"])
def test_a_setting_that_is_not_addresses_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="not an IP"):
        TrustedPeers(spec)
    with pytest.raises(ValueError, match="not an IP"):
        ServerConfig(forwarded_allow_ips=spec)
    with pytest.raises(ValueError, match="not an IP"):
        ServerConfig(proxy_allow_ips=spec)


def test_the_settings_have_gunicorns_names_and_defaults() -> None:
    config = ServerConfig()
    assert config.forwarded_allow_ips == "127.0.0.1,::1"
    assert config.proxy_allow_ips == "127.0.0.1,::1"
    assert config.proxy_protocol is False
    assert ServerConfig(forwarded_allow_ips="", proxy_allow_ips="*").proxy_allow_ips == "*"


# -- RFC 7239 Forwarded -----------------------------------------------------------------


def test_forwarded_examples_of_rfc_7239() -> None:
    # Section 4 and 7.1.
    assert parse_forwarded('for="_gazonk"') == [{"for": "_gazonk"}]
    assert parse_forwarded('For="[2001:db8:cafe::17]:4711"') == [
        {"for": "[2001:db8:cafe::17]:4711"}
    ]
    assert parse_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43") == [
        {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}
    ]
    assert parse_forwarded("for=192.0.2.43, for=198.51.100.17") == [
        {"for": "192.0.2.43"},
        {"for": "198.51.100.17"},
    ]


def test_forwarded_quoted_pairs_and_empty_list_elements() -> None:
    assert parse_forwarded(r'host="a\"b", , for=unknown') == [{"host": 'a"b'}, {"for": "unknown"}]
    assert parse_forwarded("for=1.2.3.4 ; proto=https") == [{"for": "1.2.3.4", "proto": "https"}]


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",",
        "for",
        "for=",
        "for=a b",
        'for="unterminated',
        "for=1.2.3.4;for=5.6.7.8",  # a parameter twice in one element
        "for=1.2.3.4 proto=http",
        "for=[::1]",  # brackets are not a token: they must be quoted
    ],
)
def test_malformed_forwarded_is_none(value: str) -> None:
    assert parse_forwarded(value) is None


@pytest.mark.parametrize(
    ("node", "parsed"),
    [
        ("192.0.2.43", ("192.0.2.43", None)),
        ("192.0.2.43:47011", ("192.0.2.43", 47011)),
        ("[2001:db8:cafe::17]", ("2001:db8:cafe::17", None)),
        ("[2001:db8:cafe::17]:4711", ("2001:db8:cafe::17", 4711)),
        ("unknown", (None, None)),
        ("unknown:_port", (None, None)),
        ("_hidden", (None, None)),
        ("_SEVKISEK:_4711", (None, None)),
        ("192.0.2.43:_abc", ("192.0.2.43", None)),
    ],
)
def test_nodes_of_rfc_7239_section_6(node: str, parsed: tuple[str | None, int | None]) -> None:
    assert parse_node(node) == parsed


@pytest.mark.parametrize(
    "node",
    ["2001:db8::1", "[1.2.3.4]", "1.2.3.256", "01.2.3.4", "1.2.3.4:65536", "hidden", "", "[::1"],
)
def test_what_is_not_a_node(node: str) -> None:
    assert parse_node(node) is None


def environ(**fields: str) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "backend:8000",
        "wsgi.url_scheme": "http",
    }
    env.update(fields)
    return env


def test_forwarded_from_a_trusted_peer_sets_the_client_scheme_and_host() -> None:
    env = environ(HTTP_FORWARDED='for="[2001:db8::1]:4711";proto=https;host=example.com')
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, FORWARDED)
    assert env["REMOTE_ADDR"] == "2001:db8::1"
    assert env["REMOTE_PORT"] == "4711"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTPS"] == "on"
    assert env["HTTP_HOST"] == "example.com"
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("example.com", "443")
    assert env["HTTP_FORWARDED"]  # a trusted proxy's fields stay for the application


def test_forwarded_walks_from_the_right_past_trusted_proxies() -> None:
    # client -> 10.0.0.2 (proto https, host a.example) -> 10.0.0.1 -> us
    value = "for=198.51.100.7;proto=https;host=a.example, for=10.0.0.2;proto=http;host=inner"
    env = environ(HTTP_FORWARDED=value)
    apply_forwarded(env, ("10.0.0.1", 5000), PROXIES, FORWARDED)
    assert env["REMOTE_ADDR"] == "198.51.100.7"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "a.example"
    # A forged left-most element stays left of the first untrusted one: not believed.
    env = environ(HTTP_FORWARDED="for=6.6.6.6, for=198.51.100.7, for=10.0.0.2")
    apply_forwarded(env, ("10.0.0.1", 5000), PROXIES, FORWARDED)
    assert env["REMOTE_ADDR"] == "198.51.100.7"


def test_forwarded_unknown_client_keeps_remote_addr_but_applies_proto() -> None:
    env = environ(HTTP_FORWARDED="for=_hidden;proto=https")
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, FORWARDED)
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert "REMOTE_PORT" not in env
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "backend:8000"  # the Host the proxy passed on, its port
    assert env["SERVER_PORT"] == "8000"


def test_forwarded_wins_over_x_forwarded() -> None:
    env = environ(
        HTTP_FORWARDED="for=192.0.2.1;proto=http",
        HTTP_X_FORWARDED_FOR="203.0.113.5",
        HTTP_X_FORWARDED_PROTO="https",
    )
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, ALL)
    assert env["REMOTE_ADDR"] == "192.0.2.1"
    assert env["wsgi.url_scheme"] == "http"


@pytest.mark.parametrize(
    "value",
    [
        "for=192.0.2.1;proto=gopher",  # a scheme that is not HTTP's
        "for=192.0.2.1;host=a/b",
        "for=192.0.2.1;for=192.0.2.2",
        "for=300.1.1.1;proto=https",
        'for=192.0.2.1, for="[zz::1]";proto=https',
    ],
)
def test_malformed_forwarded_is_not_applied_at_all(value: str) -> None:
    env = environ(HTTP_FORWARDED=value, HTTP_X_FORWARDED_FOR="203.0.113.5")
    before = dict(env)
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, ALL)
    assert env == before


# -- X-Forwarded-* ---------------------------------------------------------------------


def test_x_forwarded_for_is_walked_from_the_right() -> None:
    result = parse_x_forwarded(PROXIES, "6.6.6.6, 198.51.100.7, 10.0.0.3,127.0.0.1")
    assert result is not None
    assert result.client == "198.51.100.7"
    everyone = parse_x_forwarded(TrustedPeers("*"), "6.6.6.6, 198.51.100.7, 10.0.0.3")
    assert everyone is not None
    assert everyone.client == "6.6.6.6"
    all_trusted = parse_x_forwarded(PROXIES, "10.0.0.9, 10.0.0.3")
    assert all_trusted is not None
    assert all_trusted.client == "10.0.0.9"


def test_x_forwarded_for_with_ports_and_ipv6() -> None:
    result = parse_x_forwarded(LOCAL, "[2001:db8::7]:4711")
    assert result is not None
    assert (result.client, result.client_port) == ("2001:db8::7", 4711)
    bare = parse_x_forwarded(LOCAL, "2001:db8::7")
    assert bare is not None
    assert bare.client == "2001:db8::7"
    v4 = parse_x_forwarded(LOCAL, "192.0.2.1:80")
    assert v4 is not None
    assert (v4.client, v4.client_port) == ("192.0.2.1", 80)


def test_x_forwarded_fields_set_the_public_url() -> None:
    env = environ(
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="shop.example",
        HTTP_X_FORWARDED_PORT="8443",
    )
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, X_ALL)
    assert env["REMOTE_ADDR"] == "203.0.113.9"
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "shop.example:8443"
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("shop.example", "8443")


def test_x_forwarded_proto_alone_and_wss() -> None:
    env = environ(HTTP_HOST="example.com", HTTP_X_FORWARDED_PROTO="WSS")
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, DEFAULT)
    assert env["wsgi.url_scheme"] == "https"
    assert env["HTTP_HOST"] == "example.com"
    assert env["SERVER_PORT"] == "443"
    env = environ(HTTPS="on", HTTP_X_FORWARDED_PROTO="http", **{"wsgi.url_scheme": "https"})
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, DEFAULT)
    assert env["wsgi.url_scheme"] == "http"
    assert "HTTPS" not in env


@pytest.mark.parametrize(
    "fields",
    [
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9, not-an-address"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_X_FORWARDED_PROTO": "ftp"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_X_FORWARDED_HOST": "a b"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_X_FORWARDED_PORT": "99999"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9", "HTTP_X_FORWARDED_PORT": "-1"},
        {"HTTP_X_FORWARDED_FOR": ","},
    ],
)
def test_malformed_x_forwarded_applies_nothing(fields: dict[str, str]) -> None:
    env = environ(**fields)
    before = dict(env)
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, X_ALL)
    assert env == before


def test_an_untrusted_peers_forwarding_fields_are_removed() -> None:
    env = environ(
        HTTP_FORWARDED="for=1.2.3.4",
        HTTP_X_FORWARDED_FOR="1.2.3.4",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="evil.example",
        HTTP_X_FORWARDED_PORT="443",
        HTTP_X_REAL_IP="1.2.3.4",  # not read here, so not ours to remove
    )
    env["REMOTE_ADDR"] = "192.0.2.1"
    apply_forwarded(env, ("192.0.2.1", 5000), LOCAL, DEFAULT)
    assert env == environ(REMOTE_ADDR="192.0.2.1", HTTP_X_REAL_IP="1.2.3.4")


SPOOFS = {
    "HTTP_FORWARDED": "for=127.0.0.1;proto=https;host=evil.example",
    "HTTP_X_FORWARDED_FOR": "203.0.113.9",
    "HTTP_X_FORWARDED_PROTO": "https",
    "HTTP_X_FORWARDED_HOST": "evil.example",
    "HTTP_X_FORWARDED_PORT": "8443",
}


def test_the_default_believes_only_x_forwarded_for_and_proto() -> None:
    assert ServerConfig().trusted_proxy_headers == DEFAULT
    env = environ(**SPOOFS)
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, ServerConfig().trusted_proxy_headers)
    # Forwarded does not win, X-Forwarded-Host and -Port are neither applied nor seen.
    assert env == {
        **environ(HTTP_X_FORWARDED_FOR="203.0.113.9", HTTP_X_FORWARDED_PROTO="https"),
        "REMOTE_ADDR": "203.0.113.9",
        "wsgi.url_scheme": "https",
        "HTTPS": "on",
        "HTTP_HOST": "backend:8000",
        "SERVER_NAME": "backend",
        "SERVER_PORT": "8000",
    }


@pytest.mark.parametrize(
    ("headers", "kept", "changes"),
    [
        ("x-forwarded-for", {"HTTP_X_FORWARDED_FOR"}, {"REMOTE_ADDR": "203.0.113.9"}),
        (
            "X-Forwarded-Proto",
            {"HTTP_X_FORWARDED_PROTO"},
            {"wsgi.url_scheme": "https", "HTTPS": "on", "SERVER_NAME": "backend"},
        ),
        (
            "x-forwarded-host",
            {"HTTP_X_FORWARDED_HOST"},
            {"HTTP_HOST": "evil.example", "SERVER_NAME": "evil.example", "SERVER_PORT": "80"},
        ),
        (
            " x-forwarded-port ",
            {"HTTP_X_FORWARDED_PORT"},
            {"HTTP_HOST": "backend:8443", "SERVER_NAME": "backend", "SERVER_PORT": "8443"},
        ),
        (
            "FORWARDED",
            {"HTTP_FORWARDED"},
            {
                "wsgi.url_scheme": "https",
                "HTTPS": "on",
                "HTTP_HOST": "evil.example",
                "SERVER_NAME": "evil.example",
                "SERVER_PORT": "443",
            },  # for=127.0.0.1 is a trusted proxy, the left-most: REMOTE_ADDR stays
        ),
        ("", set(), {}),
    ],
)
def test_each_header_is_believed_only_when_named(
    headers: str, kept: set[str], changes: dict[str, str]
) -> None:
    env = environ(**SPOOFS)
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, headers)
    assert env == {**environ(), **{key: SPOOFS[key] for key in kept}, **changes}


def test_star_believes_all_five_and_forwarded_decides_alone() -> None:
    assert trusted_headers("*") == FORWARDING_KEYS
    assert trusted_headers(" x-forwarded-for , * ") == FORWARDING_KEYS
    env = environ(**SPOOFS)
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, ALL)
    assert env["HTTP_HOST"] == "evil.example"  # Forwarded's host, not -Port's 8443
    assert env["SERVER_PORT"] == "443"
    assert env.keys() >= FORWARDING_KEYS  # all believed: all stay
    env = environ(**{key: SPOOFS[key] for key in FORWARDING_KEYS - {"HTTP_FORWARDED"}})
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, ALL)
    assert env["HTTP_HOST"] == "evil.example:8443"
    assert env["REMOTE_ADDR"] == "203.0.113.9"


def test_an_untrusted_peers_fields_are_removed_whatever_is_named() -> None:
    for headers in (DEFAULT, FORWARDED, X_ALL, ALL):
        env = environ(**SPOOFS)
        apply_forwarded(env, ("192.0.2.1", 5000), LOCAL, headers)
        assert env == environ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("x-real-ip", "unknown proxy header 'x-real-ip'"),
        ("x-forwarded-for,x-forwarded", "unknown proxy header 'x-forwarded'"),
        ("x_forwarded_for", "unknown proxy header"),
        ("forwarded,x-forwarded-proto", "cannot be trusted together"),
        ("X-Forwarded-For, Forwarded", "cannot be trusted together"),
    ],
)
def test_unknown_or_conflicting_trusted_proxy_headers_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        trusted_headers(spec)
    with pytest.raises(ValueError, match=message):
        ServerConfig(trusted_proxy_headers=spec)


def test_trusted_proxy_headers_names_are_case_insensitive() -> None:
    assert trusted_headers("X-FORWARDED-HOST,,x-forwarded-host") == {"HTTP_X_FORWARDED_HOST"}
    assert trusted_headers("") == frozenset()
    assert ServerConfig(trusted_proxy_headers="Forwarded").trusted_proxy_headers == "Forwarded"


@pytest.mark.parametrize("port", ["0", "000", "65536", "99999", "8o", "+80", "-1"])
def test_x_forwarded_port_that_is_no_port_applies_nothing(port: str) -> None:
    env = environ(
        HTTP_X_FORWARDED_FOR="203.0.113.9",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_PORT=port,
    )
    before = dict(env)
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, X_ALL)
    assert env == before
    # A host with port 0 is no public host either.
    env = environ(HTTP_X_FORWARDED_HOST="shop.example:0")
    before = dict(env)
    apply_forwarded(env, ("127.0.0.1", 5000), LOCAL, X_ALL)
    assert env == before


def test_without_forwarding_fields_nothing_changes() -> None:
    env = environ()
    apply_forwarded(env, ("192.0.2.1", 5000), LOCAL, DEFAULT)
    assert env == environ()


# -- hypothesis: the field parsers -----------------------------------------------------

_TCHAR = st.sampled_from(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_TOKENS = st.text(_TCHAR, min_size=1, max_size=12)
_QDTEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@given(
    st.lists(
        st.dictionaries(_TOKENS.map(str.lower), _QDTEXT, min_size=1, max_size=4),
        min_size=1,
        max_size=4,
    ),
    st.booleans(),
)
def test_forwarded_round_trips(elements: list[dict[str, str]], spaces: bool) -> None:
    sep = ", " if spaces else ","
    value = sep.join(
        ";".join(f"{name}={_quote(v)}" for name, v in element.items()) for element in elements
    )
    assert parse_forwarded(value) == elements


@given(st.text(max_size=80))
@example('for="\\')
@example("for=1.2.3.4;;,;")
def test_forwarded_parser_never_raises(value: str) -> None:
    result = parse_forwarded(value)
    assert result is None or all(result)


@given(st.ip_addresses(), st.one_of(st.none(), st.integers(0, 65535)))
def test_nodes_round_trip(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None
) -> None:
    text = str(address) if address.version == 4 else f"[{address}]"
    if port is not None:
        text += f":{port}"
    mapped = getattr(address, "ipv4_mapped", None)  # written as the IPv4 address it is
    assert parse_node(text) == (str(mapped or address), port)


@given(st.lists(st.ip_addresses(), min_size=1, max_size=5), st.integers(0, 4), st.booleans())
def test_x_forwarded_for_round_trips(
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address], proxies: int, spaces: bool
) -> None:
    # The client, then proxies that are all trusted (10.0.0.x): the walk ends at the
    # client, whatever it is, unless it is in 10.0.0.0/8 too (then the left-most).
    hops = [str(address) for address in addresses] + [f"10.0.0.{i}" for i in range(proxies)]
    result = parse_x_forwarded(PROXIES, (", " if spaces else ",").join(hops))
    assert result is not None
    untrusted = [hop for hop in hops if hop not in PROXIES]
    expected = untrusted[-1] if untrusted else hops[0]
    mapped = ipaddress.ip_address(expected)
    if isinstance(mapped, ipaddress.IPv6Address) and mapped.ipv4_mapped is not None:
        mapped = mapped.ipv4_mapped
    assert result.client == str(mapped)


@given(st.text(max_size=60), st.text(max_size=20), st.text(max_size=20), st.text(max_size=8))
@example("1.2.3.4:99999", "https", "a", "1")
def test_x_forwarded_parser_never_raises(xff: str, proto: str, host: str, port: str) -> None:
    result = parse_x_forwarded(PROXIES, xff, proto, host, port)
    assert result is None or result.scheme in {"http", "https"}


@given(st.text(max_size=40))
def test_node_parser_never_raises(value: str) -> None:
    parse_node(value)


@given(
    st.dictionaries(
        st.sampled_from(
            sorted(
                {
                    "HTTP_FORWARDED",
                    "HTTP_X_FORWARDED_FOR",
                    "HTTP_X_FORWARDED_PROTO",
                    "HTTP_X_FORWARDED_HOST",
                    "HTTP_X_FORWARDED_PORT",
                    "HTTP_HOST",
                }
            )
        ),
        st.text(max_size=40),
    ),
    st.sampled_from([("127.0.0.1", 1), ("192.0.2.1", 1), ""]),
    st.sampled_from([DEFAULT, FORWARDED, X_ALL, ALL, "", "x-forwarded-host"]),
)
def test_apply_forwarded_never_raises(fields: dict[str, str], peer: Any, headers: str) -> None:
    env = environ(**fields)
    apply_forwarded(env, peer, LOCAL, headers)
    assert isinstance(env["REMOTE_ADDR"], str)
    assert env["wsgi.url_scheme"] in {"http", "https"}
    # What is not believed never reaches the application.
    believed = trusted_headers(headers) if LOCAL.trusts_peer(peer) else frozenset()
    assert not (FORWARDING_KEYS - believed) & env.keys()
    # A public port is 1 to 65535.
    assert 0 < int(env["SERVER_PORT"]) <= 65535


@given(st.one_of(st.integers(min_value=-5, max_value=200_000).map(str), st.text(max_size=8)))
@example("0")
@example("00")
@example("65536")
@example(",0")
def test_x_forwarded_port_is_a_port_from_1_to_65535_or_nothing(port: str) -> None:
    result = parse_x_forwarded(LOCAL, port=port)
    text = port.strip()
    valid = text.isascii() and text.isdigit() and len(text) <= 5 and 0 < int(text) <= 65535
    if valid:
        assert result == Forwarding(port=str(int(text)))
    else:
        assert result is None
    if "," not in port:  # a comma makes X-Forwarded-Host a list (its last entry counts)
        host = parse_x_forwarded(LOCAL, host=f"example.com:{port}")
        assert (host is not None) == valid


# -- the PROXY protocol ----------------------------------------------------------------


def v2(command: int, family: int, addresses: bytes, tlvs: bytes = b"", version: int = 2) -> bytes:
    block = addresses + tlvs
    return (
        V2_SIGNATURE
        + bytes([version << 4 | command, family])
        + struct.pack("!H", len(block))
        + block
    )


def v2_inet(src: str, dst: str, sport: int, dport: int, tlvs: bytes = b"") -> bytes:
    if ":" in src:
        raw = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
        return v2(1, 0x21, raw + struct.pack("!HH", sport, dport), tlvs)
    raw = socket.inet_aton(src) + socket.inet_aton(dst)
    return v2(1, 0x11, raw + struct.pack("!HH", sport, dport), tlvs)


def test_v1_tcp4_tcp6_and_unknown() -> None:
    line = b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"
    assert parse_proxy_header(line + b"GET / HTTP/1.1\r\n") == ProxyHeader(
        1, len(line), ("192.0.2.1", 56324), ("198.51.100.2", 443)
    )
    line6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 65535 0\r\n"
    assert parse_proxy_header(line6) == ProxyHeader(
        1, len(line6), ("2001:db8::1", 65535), ("2001:db8::2", 0)
    )
    assert parse_proxy_header(b"PROXY UNKNOWN\r\n") == ProxyHeader(1, 15)
    assert parse_proxy_header(b"PROXY UNKNOWN ffff:f...f:ffff 1 2\r\n") == ProxyHeader(1, 35)


@pytest.mark.parametrize(
    "line",
    [
        b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",  # LF alone
        b"PROXY TCP4 192.0.2.1 198.51.100.2 056324 443\r\n",  # a leading zero
        b"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",
        b"PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",  # the family's addresses only
        b"PROXY TCP6 192.0.2.1 198.51.100.2 1 2\r\n",
        b"PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n",
        b"PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
        b"PROXY " + b"x" * 101 + b"\r\n",  # 109 bytes: past the 107 of the specification
        b"GET / HTTP/1.1\r\n\r\n",
        b"\x00",
    ],
)
def test_invalid_v1_lines_are_refused(line: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        parse_proxy_header(line)


def test_v2_inet_inet6_with_tlvs_skipped() -> None:
    tlvs = b"\x04\x00\x02ab" + b"\x20\x00\x00"
    header = v2_inet("192.0.2.1", "198.51.100.2", 56324, 443, tlvs)
    assert parse_proxy_header(header + b"GET") == ProxyHeader(
        2, len(header), ("192.0.2.1", 56324), ("198.51.100.2", 443)
    )
    header6 = v2_inet("2001:db8::1", "2001:db8::2", 1, 2)
    assert parse_proxy_header(header6) == ProxyHeader(
        2, 16 + 36, ("2001:db8::1", 1), ("2001:db8::2", 2)
    )


def test_v2_unix_local_and_unspec() -> None:
    paths = b"/run/a.sock".ljust(108, b"\0") + b"/run/b.sock".ljust(108, b"\0")
    assert parse_proxy_header(v2(1, 0x31, paths)) == ProxyHeader(
        2, 16 + 216, "/run/a.sock", "/run/b.sock"
    )
    # LOCAL: the proxy's own connection (a health check); its addresses are ignored.
    local = v2(0, 0x11, b"\x01" * 12)
    assert parse_proxy_header(local) == ProxyHeader(2, 28)
    assert parse_proxy_header(v2(1, 0x00, b"")) == ProxyHeader(2, 16)


@pytest.mark.parametrize(
    "header",
    [
        v2(1, 0x11, b"\x00" * 12, version=1),  # version 1 in the binary form
        v2(2, 0x11, b"\x00" * 12),  # command 2
        v2(1, 0x11, b"\x00" * 11),  # an address block too short for AF_INET
        v2(1, 0x21, b"\x00" * 12),  # ... for AF_INET6
        v2(1, 0x31, b"\x00" * 200),  # ... for AF_UNIX
        v2(1, 0x12, b"\x00" * 12),  # a datagram over a stream connection
        v2(1, 0x41, b"\x00" * 12),  # an address family that does not exist
        v2(1, 0x13, b"\x00" * 12),  # a transport that does not exist
    ],
)
def test_invalid_v2_headers_are_refused(header: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        parse_proxy_header(header)


def test_read_proxy_header_takes_no_byte_past_it() -> None:
    for header in (
        b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\r\n",
        v2_inet("192.0.2.1", "198.51.100.2", 1, 2),
    ):
        stream = io.BytesIO(header + b"GET / HTTP/1.0\r\n\r\n")
        assert read_proxy_header(stream.read).source == ("192.0.2.1", 1)
        assert stream.tell() == len(header)
    with pytest.raises(ProxyProtocolError, match="ended"):
        read_proxy_header(io.BytesIO(b"PROXY TCP4 192.0.2.1").read)
    with pytest.raises(ProxyProtocolError, match="ended"):
        read_proxy_header(io.BytesIO(v2_inet("192.0.2.1", "198.51.100.2", 1, 2)[:20]).read)


_HEADERS = st.one_of(
    st.builds(
        lambda a, b, p, q: f"PROXY TCP4 {a} {b} {p} {q}\r\n".encode(),
        st.ip_addresses(v=4),
        st.ip_addresses(v=4),
        st.integers(0, 65535),
        st.integers(0, 65535),
    ),
    st.builds(
        lambda a, b, p, q: f"PROXY TCP6 {a} {b} {p} {q}\r\n".encode(),
        st.ip_addresses(v=6),
        st.ip_addresses(v=6),
        st.integers(0, 65535),
        st.integers(0, 65535),
    ),
    st.builds(
        lambda a, b, p, q, t: v2_inet(str(a), str(b), p, q, t),
        st.ip_addresses(v=4),
        st.ip_addresses(v=4),
        st.integers(0, 65535),
        st.integers(0, 65535),
        st.binary(max_size=40),
    ),
    st.builds(
        lambda a, b, p, q, t: v2_inet(str(a), str(b), p, q, t),
        st.ip_addresses(v=6),
        st.ip_addresses(v=6),
        st.integers(0, 65535),
        st.integers(0, 65535),
        st.binary(max_size=40),
    ),
)


@settings(deadline=None)  # up to a hundred parses an example, on a shared machine
@given(_HEADERS, st.binary(max_size=20))
def test_valid_headers_round_trip_split_at_every_byte(header: bytes, rest: bytes) -> None:
    parsed = parse_proxy_header(header + rest)
    assert parsed is not None
    assert parsed.length == len(header)
    assert isinstance(parsed.source, tuple)
    for cut in range(len(header)):
        assert parse_proxy_header(header[:cut]) is None


@given(st.binary(max_size=120))
@example(V2_SIGNATURE + b"\x21\x11\xff\xff")
@example(b"PROXY ")
def test_arbitrary_bytes_never_crash_the_parser(data: bytes) -> None:
    try:
        result = parse_proxy_header(data)
    except ProxyProtocolError:
        return
    assert result is None or 15 <= result.length <= len(data)


@given(st.binary(max_size=40))
def test_bytes_after_a_signature_never_crash_the_parser(tail: bytes) -> None:
    for prefix in (V2_SIGNATURE, b"PROXY TCP4 ", b"PROXY UNKNOWN"):
        with contextlib.suppress(ProxyProtocolError):
            parse_proxy_header(prefix + tail)


# -- what a client writes left of its own address -------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "junk, 198.51.100.7",  # nginx's $proxy_add_x_forwarded_for appends to the client's
        "1.2.3.4:99999, 198.51.100.7, 10.0.0.3",
        "[zz::1], 198.51.100.7,10.0.0.3",
        "fe80::1%eth0 , 198.51.100.7",
    ],
)
def test_a_clients_junk_left_of_its_address_does_not_hide_it(value: str) -> None:
    # Ignoring the whole list would leave REMOTE_ADDR the proxy's (127.0.0.1): a
    # client could pass for a local one, or hide its address, with one bad entry.
    env = environ(HTTP_X_FORWARDED_FOR=value, HTTP_X_FORWARDED_PROTO="https")
    apply_forwarded(env, ("10.0.0.1", 5000), PROXIES, DEFAULT)
    assert env["REMOTE_ADDR"] == "198.51.100.7"
    assert env["wsgi.url_scheme"] == "https"


@pytest.mark.parametrize(
    "value",
    [
        "for=junk, for=198.51.100.7;proto=https",
        "for=6.6.6.6;proto=gopher, for=198.51.100.7;proto=https, for=10.0.0.3",
        'for="[zz::1]";host="a/b", for=198.51.100.7;proto=https',
    ],
)
def test_a_clients_junk_element_left_of_its_own_does_not_hide_it(value: str) -> None:
    env = environ(HTTP_FORWARDED=value)
    apply_forwarded(env, ("10.0.0.1", 5000), PROXIES, FORWARDED)
    assert env["REMOTE_ADDR"] == "198.51.100.7"
    assert env["wsgi.url_scheme"] == "https"


def test_junk_a_trusted_proxy_wrote_still_voids_the_field() -> None:
    # The walk reads the entries of the trusted proxies: those must be addresses.
    for fields in (
        {"HTTP_X_FORWARDED_FOR": "198.51.100.7, junk, 10.0.0.3"},
        {"HTTP_FORWARDED": "for=198.51.100.7, for=10.0.0.3;proto=gopher"},
    ):
        env = environ(**fields)
        before = dict(env)
        apply_forwarded(env, ("10.0.0.1", 5000), PROXIES, ALL)
        assert env == before
    # Under "*" every entry is walked to the left-most, so every one must parse.
    assert parse_x_forwarded(TrustedPeers("*"), "junk, 198.51.100.7") is None


def test_link_local_peers_with_a_zone_and_mapped_networks_are_matched() -> None:
    # accept() gives a link-local IPv6 peer's address with its zone.
    assert "fe80::1%eth0" in TrustedPeers("fe80::1")
    assert TrustedPeers("fe80::1%eth0").trusts_peer(("fe80::1%eth0", 5000, 0, 2))
    assert "fe80::2%eth0" not in TrustedPeers("fe80::1")
    # A dual-stack socket's IPv4 peer is matched as IPv4, in an IPv4-mapped network too.
    assert "::ffff:10.0.0.1" in TrustedPeers("::ffff:10.0.0.0/104")
    assert "10.0.0.1" in TrustedPeers("::ffff:10.0.0.0/104")
    assert "10.1.0.1" not in TrustedPeers("::ffff:10.0.0.0/112")
    assert "::1" not in TrustedPeers("::ffff:10.0.0.0/104")


@pytest.mark.parametrize("line", [b"PROXY UNKNOWNX\r\n", b"PROXY UNKNOWN6 1 2\r\n"])
def test_v1_unknown_is_a_whole_word(line: bytes) -> None:
    with pytest.raises(ProxyProtocolError):
        parse_proxy_header(line)
