"""Every limit and timeout of the server, typed, with its default and unit in one place."""

from __future__ import annotations

import dataclasses
import math
import selectors
import types
import typing
from dataclasses import dataclass

from wsgi_simple_server._log import check_access_log_format
from wsgi_simple_server._proxy import DEFAULT_TRUSTED_PROXY_HEADERS, trusted_headers, trusted_peers

# The ``selector`` setting's names for the classes of the standard ``selectors`` module.
SELECTORS = {
    "default": "DefaultSelector",
    "epoll": "EpollSelector",
    "kqueue": "KqueueSelector",
    "devpoll": "DevpollSelector",
    "poll": "PollSelector",
    "select": "SelectSelector",
}

# Settings whose range is not "a positive number": checked by their own rule.
_CHECKED_APART = frozenset({"cert_reqs"})
# Settings with bounds beyond "positive": a pool the process can start (a thread costs
# a stack), and a keeper that does not spin (it ticks at half of handoff_s).
_RANGES: dict[str, tuple[float, float]] = {"threads": (1, 10_000), "handoff_s": (0.001, 60.0)}


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits, timeouts and pool size of the HTTP/1.1 server.

    Sizes are in bytes, durations in seconds. The defaults of the three head limits
    are the standard library's (a request line of 65,536 bytes, 100 header fields),
    so a request ``wsgiref.simple_server`` accepts is accepted here too.

    :param max_request_line_bytes: longest request line, its CRLF included; a longer
        one is answered ``414 Request-URI Too Long``.
    :param max_header_count: most header fields in one request (``431``).
    :param max_header_bytes: most bytes of the header section, line endings included
        (``431``); a single field line longer than this is refused as soon as it is seen.
    :param max_body_bytes: largest request body, whatever its framing (``413``).
    :param max_drain_bytes: how much of a body the application did not read is read and
        discarded to keep the connection; past this the connection is closed instead.
    :param max_linger_bytes: most bytes read and discarded from a connection being
        closed (RFC 9112 section 9.6) before it is closed anyway.
    :param max_connections: open connections at most; more are accepted and closed.
    :param threads: worker threads that parse requests and run the application (at
        most 10,000).
    :param header_timeout_s: time a client has to send a whole request head, counted
        from the connection's opening or from the first byte of a following request.
    :param idle_timeout_s: how long a keep-alive connection may wait for its next request.
    :param body_timeout_s: longest wait for the next bytes of a request body.
    :param handoff_s: how long the polling worker may spend on one request before a
        waiting worker takes over polling (a slow application holds up others this long;
        from 0.001 to 60).
    :param send_timeout_s: longest wait for the client to take the next bytes of a response.
    :param linger_timeout_s: how long a connection being closed may still send what
        the server will not read (RFC 9112 section 9.6: the server stops sending, then
        reads and discards until the client closes, this long at most, so that the
        client is not sent a TCP reset that destroys the response it has not read yet).
        A lingering connection costs no worker thread, only a place in the event loop.
    :param shutdown_timeout_s: how long a graceful shutdown waits for requests in flight.
    :param expect_continue_eager: send ``100 Continue`` as soon as the head is parsed
        rather than when the application first reads ``wsgi.input``.
    :param access_log: log one line per request through the ``wsgi_simple_server.access``
        logger (in the standard library's format, on ``sys.stderr`` by default).
    :param access_log_format: the access log line as a %-format of gunicorn's atoms
        (gunicorn's ``access_log_format``), or None for the standard library's line
        (``host - - [date] "request line" status size``). The atoms: ``h`` client
        address, ``t`` date, ``r`` request line, ``m`` method, ``U`` path, ``q``
        query, ``H`` protocol, ``s`` status, ``b``/``B`` body bytes, ``f`` referer,
        ``a`` user agent, ``T``/``M``/``D``/``L`` duration in seconds, milliseconds,
        microseconds and decimal seconds, ``u`` Basic-auth user, ``p`` process id,
        ``{name}i``/``{name}o`` request/response header, ``{name}e`` environ
        variable; for one, ``'%(h)s "%(r)s" %(s)s %(b)s %(D)s %({x-request-id}i)s'``.
        A format that names no atom, or does not format, raises ``ValueError``.
    :param copy_os_environ: start every request's environ with a copy of the server
        process's environment variables, as ``wsgiref`` does. Off by default, as in
        gunicorn and waitress: the server's secrets (``DATABASE_PASSWORD``...) are not
        handed to every application, and a request cannot be told ``HTTPS=on`` by the
        shell that started the server.
    :param selector: the event loop's readiness API, a class of the ``selectors`` module
        by its short name: ``"default"`` (``DefaultSelector``: epoll on Linux, kqueue on
        BSD and macOS, else poll or select), ``"epoll"``, ``"kqueue"``, ``"devpoll"``,
        ``"poll"`` or ``"select"``. One the platform lacks raises ``ValueError``.
    :param use_sendmsg: send a response head and its body with one ``socket.sendmsg``
        where the platform and the socket have it (a plain send otherwise).
    :param use_sendfile: send a ``wsgi.file_wrapper`` over a regular file with
        ``os.sendfile`` where the platform and the socket allow it (reads and sends
        otherwise).
    :param backlog: the listen queue of each listening socket: connections the kernel
        accepts ahead of the server (gunicorn's ``backlog``). None: the server class's
        ``request_queue_size`` (1024).
    :param reuse_port: set ``SO_REUSEPORT`` on the listening sockets the server binds,
        so that several servers can listen on one port and the kernel spreads the
        connections between them (Linux, the BSDs; ``ValueError`` where it is missing).
    :param certfile: a PEM file with the server's certificate chain: the server speaks
        TLS (HTTPS) on every listening socket.
    :param keyfile: a PEM file with the private key of ``certfile`` (None: in ``certfile``).
    :param ca_certs: a PEM file of the certificate authorities client certificates are
        checked against.
    :param cert_reqs: whether a client certificate is asked for: ``0`` no
        (``ssl.CERT_NONE``), ``1`` checked if given (``ssl.CERT_OPTIONAL``), ``2``
        required (``ssl.CERT_REQUIRED``); 1 and 2 need ``ca_certs``.
    :param ciphers: the OpenSSL cipher list for TLS 1.2 (None: Python's default; TLS 1.3
        suites are not chosen this way).
    :param forwarded_allow_ips: the peers whose forwarding fields (the ones
        ``trusted_proxy_headers`` names) are believed (gunicorn's setting and
        default): comma-separated IP addresses, CIDR networks (``10.0.0.0/8``) or
        ``*`` for every peer; a peer on a Unix socket always is. From a trusted peer
        they set ``REMOTE_ADDR``, ``wsgi.url_scheme``, ``HTTP_HOST``,
        ``SERVER_NAME`` and ``SERVER_PORT``; from any other peer they are removed
        from the environ.
    :param trusted_proxy_headers: the forwarding fields believed from a peer in
        ``forwarded_allow_ips`` (waitress's setting): comma-separated, any case,
        ``x-forwarded-for``, ``x-forwarded-proto``, ``x-forwarded-host``,
        ``x-forwarded-port``, ``forwarded`` or ``*`` for all; by default the
        client's address and scheme, as gunicorn and uvicorn. A field not believed is
        removed from the environ; ``forwarded`` cannot be named with an
        ``x-forwarded-*`` field.
    :param proxy_protocol: every connection from a peer in ``proxy_allow_ips`` starts
        with a PROXY protocol header (HAProxy's, version 1 or 2), whose source address
        becomes the connection's client address; a connection without a valid one is
        closed. A PROXY header from any other peer is refused.
    :param proxy_allow_ips: the peers that may send a PROXY protocol header, in the
        form of ``forwarded_allow_ips`` (gunicorn's setting and default).
    """

    max_request_line_bytes: int = 65536
    max_header_count: int = 100
    max_header_bytes: int = 65536
    max_body_bytes: int = 1 << 30
    max_drain_bytes: int = 65536
    max_linger_bytes: int = 1 << 20
    max_connections: int = 10000
    threads: int = 8
    header_timeout_s: float = 10.0
    idle_timeout_s: float = 5.0
    body_timeout_s: float = 30.0
    send_timeout_s: float = 30.0
    handoff_s: float = 0.01
    linger_timeout_s: float = 2.0
    shutdown_timeout_s: float = 10.0
    expect_continue_eager: bool = False
    access_log: bool = True
    access_log_format: str | None = None
    copy_os_environ: bool = False
    selector: str = "default"
    use_sendmsg: bool = True
    use_sendfile: bool = True
    backlog: int | None = None
    reuse_port: bool = False
    certfile: str | None = None
    keyfile: str | None = None
    ca_certs: str | None = None
    cert_reqs: int = 0
    ciphers: str | None = None
    forwarded_allow_ips: str = "127.0.0.1,::1"
    trusted_proxy_headers: str = DEFAULT_TRUSTED_PROXY_HEADERS
    proxy_protocol: bool = False
    proxy_allow_ips: str = "127.0.0.1,::1"

    def __post_init__(self) -> None:
        """Refuse settings that cannot work (raises ``ValueError``)."""
        self.selector_class()  # raises ValueError for a name unknown here
        if self.access_log_format is not None:
            check_access_log_format(self.access_log_format)
        for spec in (self.forwarded_allow_ips, self.proxy_allow_ips):
            if not isinstance(spec, str):
                raise ValueError(f"an *_allow_ips setting must be a string, got {spec!r}")
            trusted_peers(spec)  # raises ValueError for an entry that is not an address
        if isinstance(self.trusted_proxy_headers, str):
            trusted_headers(self.trusted_proxy_headers)  # raises ValueError for a bad name
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            kinds = _FIELD_TYPES[field.name]
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                names = " or ".join("None" if k is type(None) else k.__name__ for k in kinds)
                raise ValueError(f"{field.name} must be {names}, got {value!r}")
            if value is None or isinstance(value, bool | str) or field.name in _CHECKED_APART:
                continue  # optional settings, switches and names check themselves
            if not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ValueError(f"{field.name} must be a positive number, got {value!r}")
            if (bounds := _RANGES.get(field.name)) and not bounds[0] <= value <= bounds[1]:
                low, high = bounds
                raise ValueError(f"{field.name} must be from {low:g} to {high:g}, got {value!r}")
        self._check_tls()

    def _check_tls(self) -> None:
        if self.cert_reqs not in (0, 1, 2) or isinstance(self.cert_reqs, bool):
            raise ValueError(
                f"cert_reqs must be 0 (none), 1 (optional) or 2 (required), got {self.cert_reqs!r}"
            )
        if self.certfile is None:
            for name in ("keyfile", "ca_certs", "ciphers"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is a TLS setting: it needs certfile")
            if self.cert_reqs:
                raise ValueError("cert_reqs is a TLS setting: it needs certfile")
        if self.cert_reqs and self.ca_certs is None:
            raise ValueError("cert_reqs asks for client certificates: it needs ca_certs")

    def selector_class(self) -> type[selectors.BaseSelector]:
        """Return the ``selectors`` class the ``selector`` setting names.

        Raise ``ValueError`` if the name is not one of ``SELECTORS`` or the platform
        lacks that class (``"epoll"`` off Linux, ``"kqueue"`` off BSD and macOS).
        """
        name = SELECTORS.get(self.selector) if isinstance(self.selector, str) else None
        if name is None:
            raise ValueError(
                f"selector must be one of {', '.join(SELECTORS)}, got {self.selector!r}"
            )
        cls: type[selectors.BaseSelector] | None = getattr(selectors, name, None)
        if cls is None:
            raise ValueError(
                f"selector {self.selector!r} ({name}) is not available on this platform"
            )
        return cls

    def replace(self, **changes: object) -> ServerConfig:
        """Return a copy with *changes* applied (and checked)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _runtime_types(hint: object) -> tuple[type, ...]:
    """The classes a value of a setting annotated *hint* may be (``float`` takes ints)."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    kinds: list[type] = []
    for member in members:
        kind = typing.get_origin(member) or member
        if not isinstance(kind, type):
            raise TypeError(f"unsupported setting type {member!r}")
        kinds.append(kind)
        if kind is float:
            kinds.append(int)
    return tuple(kinds)


_FIELD_TYPES = {
    name: _runtime_types(hint) for name, hint in typing.get_type_hints(ServerConfig).items()
}

DEFAULT_CONFIG = ServerConfig()
