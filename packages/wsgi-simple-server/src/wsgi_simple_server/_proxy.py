"""Behind a proxy: trusted peers, the forwarding fields and the PROXY protocol, sans-IO.

Two ways a proxy tells the server who the client is:

* HTTP fields, RFC 7239 ``Forwarded`` and the de facto ``X-Forwarded-For``,
  ``X-Forwarded-Proto``, ``X-Forwarded-Host`` and ``X-Forwarded-Port``. Only the ones
  named in ``trusted_proxy_headers`` (``trusted_headers``) are believed, and only from
  a peer in ``forwarded_allow_ips`` (``TrustedPeers``); every other one is removed
  from the environ, so no application can be fooled by a client that sends them
  itself. ``apply_forwarded`` does both, on every serving path.
* The PROXY protocol of HAProxy (versions 1 and 2: "The PROXY protocol", HAProxy
  Technologies, 2020/03/05), a header in front of the byte stream, before the first
  request. ``parse_proxy_header`` reads it from the bytes received so far.

Nothing here does I/O: bytes and dicts in, values out.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import struct
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "DEFAULT_TRUSTED_PROXY_HEADERS",
    "FORWARDING_KEYS",
    "PROXY_HEADERS",
    "Forwarding",
    "ProxyHeader",
    "ProxyProtocolError",
    "TrustedPeers",
    "apply_forwarded",
    "parse_forwarded",
    "parse_node",
    "parse_proxy_header",
    "parse_x_forwarded",
    "read_proxy_header",
    "trusted_headers",
    "trusted_peers",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The host of a Unix socket client's address, as the server and nginx name it.
UNIX_HOST = "unix:"
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# -- trusted peers --------------------------------------------------------------------


class TrustedPeers:
    """The peers whose word about the client is believed: gunicorn's ``*_allow_ips``.

    *spec* is a comma-separated list of IP addresses (``127.0.0.1``, ``::1``), CIDR
    networks (``10.0.0.0/8``, ``fd00::/8``) and ``*`` for every peer; blanks around
    the commas are ignored. A peer connected over a Unix socket (a socket address
    that is not a host and port pair) is always trusted, as gunicorn does: only a
    process on the same host can connect to one, and the socket file's permissions
    say which. An IPv4 peer seen on a dual-stack socket (``::ffff:10.1.2.3``) is
    matched as the IPv4 address it is (an entry in ``::ffff:0:0/96`` as IPv4 too),
    and a link-local IPv6 peer without its zone (``fe80::1%eth0`` as ``fe80::1``).

    Raise ``ValueError`` for an entry that is neither an address, a network nor ``*``.
    """

    __slots__ = ("_addresses", "_networks", "everyone", "spec")

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.everyone = False
        addresses: set[IPAddress] = set()
        networks: list[IPNetwork] = []
        for raw in spec.split(","):
            entry = raw.strip()
            if not entry:
                continue
            if entry == "*":
                self.everyone = True
            elif "/" in entry:
                try:
                    networks.append(_unmapped(ipaddress.ip_network(entry, strict=False)))
                except ValueError:
                    raise ValueError(f"not an IP network: {entry!r} in {spec!r}") from None
            else:
                address = _ip(entry)
                if address is None:
                    raise ValueError(f"not an IP address: {entry!r} in {spec!r}")
                addresses.add(address)
        self._addresses = frozenset(addresses)
        self._networks = tuple(networks)

    def __repr__(self) -> str:
        return f"TrustedPeers({self.spec!r})"

    def __contains__(self, host: object) -> bool:
        """Whether *host*, an IP address as text, is one of the trusted peers.

        Anything that is not an IP address (``unknown``, an obfuscated identifier of
        RFC 7239 section 6.3, garbage) is trusted only under ``*``.
        """
        if self.everyone:
            return True
        if not isinstance(host, str):
            return False
        address = _ip(host)
        if address is None:
            return False
        return address in self._addresses or any(address in net for net in self._networks)

    def trusts_peer(self, peer: object) -> bool:
        """Whether the client address *peer* of a connection is trusted.

        A host and port pair (IPv4 or IPv6, ``(host, port, flowinfo, scope_id)``) is
        looked up by its host. A Unix socket's peer is trusted: the server's
        ``("unix:", 0)`` (nginx's ``$remote_addr`` for one), or what ``accept()`` gives
        for it (a path, ``""``, bytes).
        """
        if isinstance(peer, tuple):
            return bool(peer) and (peer[0] == UNIX_HOST or peer[0] in self)
        return True


@functools.lru_cache(maxsize=16)
def trusted_peers(spec: str) -> TrustedPeers:
    """The ``TrustedPeers`` of *spec*, parsed once per distinct setting value."""
    return TrustedPeers(spec)


@functools.lru_cache(maxsize=1024)
def _ip(text: str) -> IPAddress | None:
    """The IP address *text* names (IPv4-mapped IPv6 as IPv4), or None.

    An IPv6 zone (``fe80::1%eth0``, RFC 4007 section 11, as ``accept()`` gives a
    link-local peer's address) is dropped: the address is the same on any link.
    Cached: parsing an address costs microseconds, and a server sees the same few
    proxies and clients again and again.
    """
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.scope_id is not None:
            return ipaddress.IPv6Address(text.split("%", 1)[0])
    return address


def _unmapped(network: IPNetwork) -> IPNetwork:
    """*network*, as the IPv4 network it is when inside ``::ffff:0:0/96`` (peers there
    are matched as IPv4 addresses, see ``_ip``)."""
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.prefixlen >= 96
        and (first := network.network_address.ipv4_mapped) is not None
    ):
        return ipaddress.IPv4Network((first, network.prefixlen - 96))
    return network


# -- the grammar (RFC 7239, RFC 9110) -------------------------------------------------

# RFC 9110 section 5.6.2: token = 1*tchar
_TOKEN = r"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
# RFC 9110 section 5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
# RFC 7239 section 4:
#   Forwarded         = 1#forwarded-element
#   forwarded-element = [ forwarded-pair ] *( ";" [ forwarded-pair ] )
#   forwarded-pair    = token "=" value
#   value             = token / quoted-string
# Blanks around ";" are tolerated (some proxies write "for=x; proto=https").
_PAIR = re.compile(rf"[ \t]*(?P<name>{_TOKEN})=(?P<value>{_TOKEN}|{_QUOTED})[ \t]*")
_UNQUOTE = re.compile(r"\\(.)", re.DOTALL)
# RFC 7239 section 6:
#   node     = nodename [ ":" node-port ]
#   nodename = IPv4address / "[" IPv6address "]" / "unknown" / obfnode
#   obfnode  = "_" 1*( ALPHA / DIGIT / "." / "_" / "-")
#   node-port = port / obfport;  port = 1*5DIGIT;  obfport = "_" 1*(...)
_OBF = r"_[A-Za-z0-9._-]+"
_NODE = re.compile(
    r"(?:(?P<v4>[0-9.]+)|\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<name>unknown|" + _OBF + r"))"
    r"(?::(?:(?P<port>[0-9]{1,5})|" + _OBF + r"))?"
)
# An X-Forwarded-For entry: an address, maybe with a port; IPv6 bare or in brackets.
_XFF_ENTRY = re.compile(
    r"(?:(?P<v4>[0-9.]+)(?::(?P<v4port>[0-9]{1,5}))?"
    r"|\[(?P<v6b>[0-9A-Fa-f:.]+)\](?::(?P<v6port>[0-9]{1,5}))?"
    r"|(?P<v6>[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*))"
)
# RFC 9110 section 7.2: Host = uri-host [ ":" port ] (RFC 3986 section 3.2.2), the
# host not empty. The name is split off the port at the last ":" outside brackets.
_HOST = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[-A-Za-z0-9._~!$&'()*+,;=%]+)(?::(?P<port>[0-9]{1,5}))?"
)
_PORT = re.compile(r"[0-9]{1,5}")
# The schemes a proxy may report, as WSGI's url_scheme (PEP 3333: "http" or "https";
# a WebSocket upgrade came over the same kind of connection).
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


class Forwarding(NamedTuple):
    """What a trusted proxy says of the client and of the URL it asked for.

    ``client`` is the client's IP address as text (None: unknown or obfuscated, RFC
    7239 section 6.2 and 6.3, or not said); ``client_port`` its port; ``scheme`` is
    ``"http"`` or ``"https"``; ``host`` the host name of the Host the client sent
    (an IPv6 address in brackets); ``port`` the public port, as text. A field the
    proxy did not give is None.
    """

    client: str | None = None
    client_port: int | None = None
    scheme: str | None = None
    host: str | None = None
    port: str | None = None


def parse_node(text: str) -> tuple[str | None, int | None] | None:
    """Parse a node of RFC 7239 section 6 (the value of ``for=`` or ``by=``).

    Return ``(address, port)``: the address an IPv4 or IPv6 address as text (an
    IPv4-mapped IPv6 address as the IPv4 address, IPv6 compressed), None for
    ``unknown`` or an obfuscated identifier (``_hidden``); the port None when absent
    or obfuscated. Return None if *text* is not a node.
    """
    match = _NODE.fullmatch(text)
    if match is None:
        return None
    address: str | None = None
    if (v4 := match["v4"]) is not None:
        if _ip(v4) is None:  # the pattern has no ":": an IPv4 address or nothing
            return None
        address = v4
    elif (v6 := match["v6"]) is not None:
        if ":" not in v6 or (parsed := _ip(v6)) is None:
            return None
        address = str(parsed)
    port = match["port"]
    if not _port_ok(port):
        return None
    return address, int(port) if port else None


def _port_ok(text: str | None) -> bool:
    """Whether *text*, digits or None (no port), is a port number (65,535 at most)."""
    return text is None or int(text) <= 65535


def _public_port(text: str | None) -> bool:
    """Whether *text*, digits or None (no port), is a port a client can connect to:
    1 to 65,535 (port 0 is no TCP destination, RFC 9293 section 3.1)."""
    return text is None or 0 < int(text) <= 65535


def parse_forwarded(value: str) -> list[dict[str, str]] | None:
    """Parse a ``Forwarded`` field value (RFC 7239 section 4) into its elements.

    Each element is a dict of its parameters, names lowercased (RFC 7239 section 4:
    they are case-insensitive), values unquoted. Return None if *value* does not
    follow the grammar, or a parameter occurs twice in one element (section 4: "Each
    parameter MUST NOT occur more than once per forwarded-element"). Several field
    lines are one value joined with ``","`` (RFC 9110 section 5.3), as the environ
    holds them. Never raises.
    """
    elements: list[dict[str, str]] = []
    element: dict[str, str] = {}
    pos = 0
    end = len(value)
    while True:
        match = _PAIR.match(value, pos)
        if match is not None:
            name = match["name"].lower()
            if name in element:
                return None
            raw = match["value"]
            element[name] = _UNQUOTE.sub(r"\1", raw[1:-1]) if raw[0] == '"' else raw
            pos = match.end()
        else:
            while pos < end and value[pos] in " \t":
                pos += 1
        if pos == end:
            break
        sep = value[pos]
        pos += 1
        if sep == ",":
            elements.append(element)
            element = {}
        elif sep != ";":
            return None
    elements.append(element)
    # RFC 9110 section 5.6.1: empty list elements are ignored.
    elements = [element for element in elements if element]
    return elements or None


def _scheme(text: str) -> str | None:
    return _SCHEMES.get(text.strip().lower())


def _host(text: str) -> tuple[str, str | None] | None:
    """``(name, port)`` of a Host value (the port None when absent), or None if *text*
    is not one, or its port is not one a client can connect to (1 to 65,535)."""
    match = _HOST.fullmatch(text)
    if match is None:
        return None
    port = match["port"]
    if not _public_port(port):
        return None
    return match["host"], str(int(port)) if port else None


def _resolve_forwarded(value: str, trusted: TrustedPeers) -> Forwarding | None:
    """The ``Forwarding`` of a ``Forwarded`` value: the element the first proxy added.

    Walk the elements from the right (each proxy appends one): while an element's
    ``for`` names a trusted peer, that peer was a proxy, and the element to its left
    tells of the hop before. The first element whose ``for`` is not trusted (or the
    left-most one, if all are) describes the client's own request: its ``for``, its
    ``proto`` and its ``host``. The field must follow the grammar, and the ``for``,
    ``proto`` and ``host`` of each element walked (the ones the trusted proxies wrote,
    and the one found) must be valid, or nothing is taken from the field. The
    elements left of the one found are the client's own words: they are not read, so
    a client cannot make the field ignored (and ``REMOTE_ADDR`` stay the proxy's) by
    sending a malformed one that a proxy then appends to.
    """
    elements = parse_forwarded(value)
    if elements is None:
        return None
    element: dict[str, str] = {}
    node: tuple[str | None, int | None] | None = None
    for element in reversed(elements):
        node = parse_node(element["for"]) if "for" in element else None
        if "for" in element and node is None:
            return None
        if "proto" in element and _scheme(element["proto"]) is None:
            return None
        if "host" in element and _host(element["host"]) is None:
            return None
        if not trusted.everyone and (node is None or node[0] is None or node[0] not in trusted):
            break
    host = _host(element["host"]) if "host" in element else None
    return Forwarding(
        client=node[0] if node else None,
        client_port=node[1] if node and node[0] else None,
        scheme=_scheme(element["proto"]) if "proto" in element else None,
        host=host[0] if host else None,
        port=host[1] if host else None,
    )


def _xff_address(entry: str) -> tuple[str, int | None] | None:
    match = _XFF_ENTRY.fullmatch(entry)
    if match is None:
        return None
    if (v4 := match["v4"]) is not None:
        address: str | None = v4 if _ip(v4) is not None else None
        port = match["v4port"]
    else:
        text = match["v6b"] or match["v6"]
        parsed = _ip(text) if ":" in text else None
        address = None if parsed is None else str(parsed)
        port = match["v6port"]
    if address is None:
        return None
    if not _port_ok(port):
        return None
    return address, int(port) if port else None


def parse_x_forwarded(
    trusted: TrustedPeers,
    forwarded_for: str | None = None,
    proto: str | None = None,
    host: str | None = None,
    port: str | None = None,
) -> Forwarding | None:
    """The ``Forwarding`` of the ``X-Forwarded-*`` field values a trusted peer sent.

    ``X-Forwarded-For`` is a comma-separated list of addresses, each proxy appending
    the one it received from: walking from the right past the trusted ones, the first
    untrusted address is the client (the left-most if all are trusted, or with
    ``*``), as uvicorn's ``ProxyHeadersMiddleware`` does. The addresses left of the
    client's are the client's own words and are not read: only the ones walked must
    be addresses (a client that sends ``X-Forwarded-For: junk`` through a proxy that
    appends to it is still found). ``X-Forwarded-Proto`` is
    ``http``, ``https``, ``ws`` or ``wss`` (the right-most of a list: the nearest
    proxy's); ``X-Forwarded-Host`` a Host value; ``X-Forwarded-Port`` a port number
    from 1 to 65,535 (``0``, a larger number or anything but digits is malformed, and
    so is a port of 0 in the host). Return None if a value read is malformed: then
    nothing is applied. Never raises.
    """
    result: dict[str, object] = {}
    if forwarded_for is not None:
        chosen: tuple[str, int | None] | None = None
        for raw in reversed(forwarded_for.split(",")):
            if not (entry := raw.strip()):
                continue  # RFC 9110 section 5.6.1: empty list elements are ignored
            if (chosen := _xff_address(entry)) is None:
                return None
            if not trusted.everyone and chosen[0] not in trusted:
                break
        if chosen is None:
            return None
        result["client"], result["client_port"] = chosen
    if proto is not None:
        scheme = _scheme(proto.rsplit(",", 1)[-1])
        if scheme is None:
            return None
        result["scheme"] = scheme
    if host is not None:
        parsed = _host(host.rsplit(",", 1)[-1].strip())
        if parsed is None:
            return None
        result["host"], result["port"] = parsed
    if port is not None:
        text = port.rsplit(",", 1)[-1].strip()
        if not _PORT.fullmatch(text) or not _public_port(text):
            return None
        result["port"] = str(int(text))
    return Forwarding(**result)  # type: ignore[arg-type]  # the keys are its fields


# -- the environ ----------------------------------------------------------------------

# The forwarding fields this module reads: their names in trusted_proxy_headers
# (lowercase, waitress's), and their environ keys.
PROXY_HEADERS = {
    "forwarded": "HTTP_FORWARDED",
    "x-forwarded-for": "HTTP_X_FORWARDED_FOR",
    "x-forwarded-proto": "HTTP_X_FORWARDED_PROTO",
    "x-forwarded-host": "HTTP_X_FORWARDED_HOST",
    "x-forwarded-port": "HTTP_X_FORWARDED_PORT",
}
FORWARDING_KEYS = frozenset(PROXY_HEADERS.values())
# The fields gunicorn and uvicorn read by default: the client's address and the scheme.
DEFAULT_TRUSTED_PROXY_HEADERS = "x-forwarded-for,x-forwarded-proto"


@functools.lru_cache(maxsize=16)
def trusted_headers(spec: str) -> frozenset[str]:
    """The environ keys (``HTTP_X_FORWARDED_FOR``, ...) of the forwarding fields that
    the ``trusted_proxy_headers`` setting *spec* names.

    *spec* is a comma-separated list of field names, case-insensitive, blanks around
    the commas ignored: ``forwarded``, ``x-forwarded-for``, ``x-forwarded-proto``,
    ``x-forwarded-host``, ``x-forwarded-port``, or ``*`` for all five; ``""`` names
    none. Raise ``ValueError`` for any other name, and when ``forwarded`` is named
    with an ``x-forwarded-*`` field (as waitress does: a proxy writes one convention,
    and believing both lets a client's field of the other one through). Parsed once
    per distinct setting value.
    """
    keys: set[str] = set()
    for raw in spec.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name == "*":
            return FORWARDING_KEYS
        key = PROXY_HEADERS.get(name)
        if key is None:
            known = ", ".join(sorted(PROXY_HEADERS))
            raise ValueError(
                f"unknown proxy header {raw.strip()!r} in {spec!r} (known: {known}, *)"
            )
        keys.add(key)
    if "HTTP_FORWARDED" in keys and len(keys) > 1:
        raise ValueError(
            f"forwarded and x-forwarded-* cannot be trusted together in {spec!r}: "
            "a proxy writes one of them (or use * for a proxy that sets or removes all five)"
        )
    return frozenset(keys)


def apply_forwarded(
    environ: MutableMapping[str, object],
    peer: object,
    trusted: TrustedPeers,
    headers: str = DEFAULT_TRUSTED_PROXY_HEADERS,
) -> None:
    """Apply what a trusted proxy says to *environ*; drop every field not believed.

    *peer* is the socket address of the connection's other end (after a PROXY
    protocol header, the address that header gave); *headers* the
    ``trusted_proxy_headers`` setting (``trusted_headers``, which raises
    ``ValueError`` for a bad one). From a peer *trusted* trusts
    (``TrustedPeers.trusts_peer``), of the fields *headers* names:

    * a ``Forwarded`` field (RFC 7239) decides alone: the ``X-Forwarded-*`` fields are
      not read when one is present (both can be believed only under ``*``).
      Otherwise the ``X-Forwarded-For``, ``-Proto``, ``-Host`` and ``-Port`` believed
      are read together.
    * the client's address sets ``REMOTE_ADDR`` (and ``REMOTE_PORT`` when given); an
      unknown or obfuscated client leaves ``REMOTE_ADDR`` alone (RFC 3875 section
      4.1.8: it is a network address).
    * the scheme sets ``wsgi.url_scheme`` and ``HTTPS`` (``"on"`` or removed); the
      host sets ``HTTP_HOST``; with either, ``SERVER_NAME`` and ``SERVER_PORT`` are
      those of the public URL (the port from the host, else from the port field,
      else the scheme's default), so ``wsgi_util.request_uri`` gives the URL the
      client asked for.
    * a malformed value makes the whole source (the ``Forwarded`` field, or the set
      of ``X-Forwarded-*`` fields) ignored: nothing of it is applied, never half.
      What a client wrote left of its own address is not read, so it cannot make
      the source ignored.

    Every one of the five fields that is not believed (all five from a peer not
    trusted, the ones *headers* does not name from a trusted one) is removed from
    *environ*, so that the application never sees a client's claims (waitress's
    ``clear_untrusted_proxy_headers``).
    """
    if not (  # the common case, on every request: five lookups (a set operation costs more)
        "HTTP_X_FORWARDED_FOR" in environ
        or "HTTP_X_FORWARDED_PROTO" in environ
        or "HTTP_FORWARDED" in environ
        or "HTTP_X_FORWARDED_HOST" in environ
        or "HTTP_X_FORWARDED_PORT" in environ
    ):
        return
    believed = trusted_headers(headers) if trusted.trusts_peer(peer) else frozenset()
    if believed is not FORWARDING_KEYS:
        for key in FORWARDING_KEYS - believed:
            environ.pop(key, None)
        if not believed:
            return
    forwarded = environ.get("HTTP_FORWARDED")
    if isinstance(forwarded, str):
        result = _resolve_forwarded(forwarded, trusted)
    else:
        values = [environ.get("HTTP_X_FORWARDED_" + name) for name in _X_NAMES]
        if not all(value is None or isinstance(value, str) for value in values):
            return
        result = parse_x_forwarded(trusted, *values)  # type: ignore[arg-type]
    if result is not None:
        _apply(environ, result)


_X_NAMES = ("FOR", "PROTO", "HOST", "PORT")


def _apply(environ: MutableMapping[str, object], result: Forwarding) -> None:
    if result.client is not None:
        environ["REMOTE_ADDR"] = result.client
        if result.client_port is not None:
            environ["REMOTE_PORT"] = str(result.client_port)
        else:  # a port set for the peer is not the client's
            environ.pop("REMOTE_PORT", None)
    if result.scheme is None and result.host is None and result.port is None:
        return
    scheme = result.scheme or str(environ.get("wsgi.url_scheme", "http"))
    if result.scheme is not None:
        environ["wsgi.url_scheme"] = scheme
        if scheme == "https":
            environ["HTTPS"] = "on"
        else:
            environ.pop("HTTPS", None)
    name, port = result.host, result.port
    current = environ.get("HTTP_HOST")
    if name is None:
        # The Host the proxy passed on, else the server's name; a port in the Host
        # is the one the client used (the server's own port is not the public one).
        split = _host(current) if isinstance(current, str) else None
        if split is not None:
            name, port = split[0], port or split[1]
        else:
            name = str(environ.get("SERVER_NAME", ""))
    default = "443" if scheme == "https" else "80"
    port = port or default
    environ["SERVER_NAME"] = name
    environ["SERVER_PORT"] = port
    if current is not None or result.host is not None:
        environ["HTTP_HOST"] = name if port == default else f"{name}:{port}"


# -- the PROXY protocol ---------------------------------------------------------------


class ProxyProtocolError(ValueError):
    """The bytes before the first request are not a valid PROXY protocol header."""


@dataclass(frozen=True, slots=True)
class ProxyHeader:
    """A PROXY protocol header: who connected to the proxy, and its length.

    ``version`` is 1 (text) or 2 (binary); ``length`` the bytes it took in the
    stream. ``source`` and ``destination`` are socket addresses as ``accept()``
    gives them: ``(host, port)`` for TCP over IPv4 or IPv6, a path (``str``) for a
    Unix socket. They are None when the header says nothing of the client: a v1
    ``UNKNOWN``, a v2 ``LOCAL`` command (the proxy's own connection, a health check)
    or ``AF_UNSPEC``; the connection's own peer address stands then.
    """

    version: int
    length: int
    source: tuple[str, int] | str | None = None
    destination: tuple[str, int] | str | None = None


V1_PREFIX = b"PROXY "
V1_MAX_BYTES = 107  # section 2.1: "a receiver ... 107 bytes" with the CRLF
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_HEAD = struct.Struct("!12sBBH")
# Section 2.1: "PROXY" SP ( "TCP4" | "TCP6" ) SP src SP dst SP sport SP dport CRLF,
# the ports decimal without a leading zero; or "PROXY UNKNOWN" with anything up to
# the CRLF.
_V1_PORT = rb"(0|[1-9][0-9]{0,4})"
_V1_LINE = re.compile(
    rb"PROXY (?P<family>TCP4|TCP6) (?P<src>[0-9A-Fa-f.:]+) (?P<dst>[0-9A-Fa-f.:]+) "
    rb"(?P<sport>" + _V1_PORT + rb") (?P<dport>" + _V1_PORT + rb")\r\n"
)
_V1_UNKNOWN = re.compile(rb"PROXY UNKNOWN(?: [^\r\n]*)?\r\n")
# Section 2.2: the address block of each family (AF_INET, AF_INET6, AF_UNIX).
_V2_ADDRESSES = {0x1: ("!4s4sHH", 12), 0x2: ("!16s16sHH", 36), 0x3: ("!108s108s", 216)}


def parse_proxy_header(data: bytes | bytearray | memoryview) -> ProxyHeader | None:
    """Parse the PROXY protocol header at the start of *data*, version 1 or 2.

    Return the header, None if *data* is a valid beginning of one that needs more
    bytes, or raise ``ProxyProtocolError`` if it cannot be one (the HAProxy
    specification: the receiver "MUST not try to guess whether the protocol header is
    present or not", and drops the connection on an invalid header). A version 1
    line is 107 bytes at most (section 2.1); a version 2 header is 16 bytes and the
    length it declares (at most 65,535 more), with what follows the addresses (TLVs,
    section 2.2.7) skipped.
    """
    head = bytes(data[:16])
    if head.startswith(V1_PREFIX[: len(head)]) and len(head) <= len(V1_PREFIX):
        return None
    if head[: len(V2_SIGNATURE)] == V2_SIGNATURE[: len(head)]:
        return _parse_v2(data) if len(head) == 16 else None
    if head.startswith(V1_PREFIX):
        return _parse_v1(data)
    raise ProxyProtocolError("no PROXY protocol header")


def _parse_v1(data: bytes | bytearray | memoryview) -> ProxyHeader | None:
    window = bytes(data[:V1_MAX_BYTES])
    end = window.find(b"\r\n")
    if end < 0:
        if len(window) >= V1_MAX_BYTES or b"\n" in window:
            raise ProxyProtocolError("PROXY protocol v1 line without CRLF in 107 bytes")
        return None
    line = window[: end + 2]
    if _V1_UNKNOWN.fullmatch(line):
        return ProxyHeader(1, len(line))
    match = _V1_LINE.fullmatch(line)
    if match is None:
        raise ProxyProtocolError(f"malformed PROXY protocol v1 line {line!r}")
    kind = ipaddress.IPv4Address if match["family"] == b"TCP4" else ipaddress.IPv6Address
    try:
        src = kind(match["src"].decode("ascii"))
        dst = kind(match["dst"].decode("ascii"))
    except ValueError:
        raise ProxyProtocolError(f"bad addresses in PROXY protocol v1 line {line!r}") from None
    source = (str(src), int(match["sport"]))
    destination = (str(dst), int(match["dport"]))
    if source[1] > 65535 or destination[1] > 65535:
        raise ProxyProtocolError(f"bad port in PROXY protocol v1 line {line!r}")
    return ProxyHeader(1, len(line), source, destination)


def _parse_v2(data: bytes | bytearray | memoryview) -> ProxyHeader | None:
    _, version_command, family_protocol, size = _V2_HEAD.unpack(bytes(data[:16]))
    version, command = version_command >> 4, version_command & 0xF
    if version != 2:
        raise ProxyProtocolError(f"PROXY protocol v2 header of version {version}")
    if command > 1:
        raise ProxyProtocolError(f"PROXY protocol v2 header with command {command}")
    if len(data) < 16 + size:
        return None
    length = 16 + size
    family, protocol = family_protocol >> 4, family_protocol & 0xF
    if family > 3 or protocol > 2:
        raise ProxyProtocolError(f"PROXY protocol v2 family/protocol byte {family_protocol:#x}")
    if command == 0 or family == 0:  # LOCAL, or AF_UNSPEC: the peer stands
        return ProxyHeader(2, length)
    if protocol != 1:  # a datagram (or unspecified) transport over a stream connection
        raise ProxyProtocolError(f"PROXY protocol v2 transport {protocol} is not a stream")
    layout, needed = _V2_ADDRESSES[family]
    if size < needed:
        raise ProxyProtocolError(f"PROXY protocol v2 address block of {size} < {needed} bytes")
    fields = struct.unpack(layout, bytes(data[16 : 16 + needed]))
    if family == 0x3:
        source: tuple[str, int] | str = _unix_path(fields[0])
        destination: tuple[str, int] | str = _unix_path(fields[1])
    else:
        kind = ipaddress.IPv4Address if family == 0x1 else ipaddress.IPv6Address
        source = (str(kind(fields[0])), fields[2])
        destination = (str(kind(fields[1])), fields[3])
    return ProxyHeader(2, length, source, destination)


def read_proxy_header(read: Callable[[int], bytes]) -> ProxyHeader:
    """Read a PROXY protocol header with *read* (a blocking ``read(size)`` such as a
    buffered socket file's), taking no byte past its end.

    Raise ``ProxyProtocolError`` for an invalid header, or one cut short by the end of
    the stream.
    """
    data = b""
    while (header := parse_proxy_header(data)) is None:
        if len(data) >= 16 and data.startswith(V2_SIGNATURE):
            size = 16 + int.from_bytes(data[14:16], "big") - len(data)
        else:
            size = 1  # a v1 line ends at its CRLF, which only reading finds
        more = read(size)
        if not more:
            raise ProxyProtocolError("the stream ended inside a PROXY protocol header")
        data += more
    return header


def _unix_path(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
