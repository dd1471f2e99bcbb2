"""Listening sockets: bound from an address, adopted from a descriptor, or passed by systemd.

An address is written as gunicorn's ``--bind`` takes it (``parse_bind``):

- ``HOST:PORT`` -- an IPv4 address or a host name and a TCP port (``127.0.0.1:8000``);
- ``[IPV6]:PORT`` -- an IPv6 address in brackets (``[::1]:8000``), listening on IPv6
  only, so that ``0.0.0.0:PORT`` can listen beside it (as nginx and
  ``socket.create_server`` do);
- ``unix:PATH`` -- a Unix domain socket, its file made with mode ``0o666`` by default
  (as uvicorn does; restrict access with the permissions of the folder that holds it);
  a stale file left by a server that died is removed, a socket someone listens on is
  refused (``EADDRINUSE``);
- ``fd://N`` -- a listening socket inherited as descriptor ``N`` (its family, TCP over
  IPv4 or IPv6 or Unix, is read from the socket).

systemd socket activation (``sd_listen_fds(3)``): the variables ``LISTEN_PID``,
``LISTEN_FDS`` and ``LISTEN_FDNAMES`` hand a process the listening sockets at
descriptors 3, 4, ...; they are honoured only when ``LISTEN_PID`` is the reading
process's id, and removed from the environment once read, so that a child process does
not take them for its own. ``listen_fds_environ`` writes the same variables for a
program about to ``exec`` itself with its sockets (the graceful restart on SIGHUP).

TLS: ``tls_context`` makes the ``ssl.SSLContext`` of a ``ServerConfig``'s ``certfile``,
``keyfile``, ``ca_certs``, ``cert_reqs`` and ``ciphers`` (TLS 1.2 at least, ALPN
``http/1.1``).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import socket
import stat
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from wsgi_handlers import BaseHandler

if TYPE_CHECKING:
    import ssl

    from wsgi_simple_server._config import ServerConfig

SD_LISTEN_FDS_START = 3
"""The first descriptor systemd passes (``SD_LISTEN_FDS_START`` of ``sd-daemon.h``)."""
BOUND_NAME = "wsgi-simple-server-bound"
"""The ``LISTEN_FDNAMES`` name of a socket the server bound itself: when one is passed on
to a re-executed server, that server still removes its Unix socket file at close."""
DEFAULT_UDS_MODE = 0o666
_AF_UNIX: int | None = getattr(socket, "AF_UNIX", None)
_LISTEN_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")
_FD_NAME_MAX = 255


@dataclass(frozen=True, slots=True)
class BindAddress:
    """A parsed ``--bind`` value (``parse_bind``); ``str()`` gives it back in that form.

    :param kind: ``"tcp"`` (``host`` and ``port``), ``"unix"`` (``path``) or ``"fd"``
        (``fd``).
    """

    kind: Literal["tcp", "unix", "fd"]
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1

    def __str__(self) -> str:
        if self.kind == "unix":
            return "unix:" + self.path
        if self.kind == "fd":
            return f"fd://{self.fd}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _number(text: str, what: str, value: str, maximum: int) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > maximum:
        raise ValueError(f"{value!r}: {what} must be a number from 0 to {maximum}")
    return int(text)


def parse_bind(value: str) -> BindAddress:
    """Parse a listening address: ``HOST:PORT``, ``[IPV6]:PORT``, ``unix:PATH``, ``fd://N``.

    ``unix://PATH`` is read as ``unix:PATH``, as gunicorn does. A host must be named
    (``0.0.0.0:8000`` for every IPv4 address, ``[::]:8000`` for every IPv6 one), an
    IPv6 address must be in brackets, and the port is required. An IPv4-mapped IPv6
    address (``[::ffff:127.0.0.1]``, which an IPv6-only socket cannot bind) is refused
    in favour of the IPv4 address, and a zone id (``[fe80::1%eth0]``, RFC 4007 section
    11) is taken on a link-local address only. Raise ``ValueError`` naming what is wrong.
    """
    if value.startswith("unix:"):
        path = value[7:] if value.startswith("unix://") else value[5:]
        if not path or "\0" in path:
            raise ValueError(f"{value!r}: a Unix socket needs a path, as in unix:/run/app.sock")
        return BindAddress("unix", path=path)
    if value.startswith("fd://"):
        return BindAddress("fd", fd=_number(value[5:], "the descriptor", value, 2**31 - 1))
    scheme, sep, _ = value.partition("://")
    if sep and scheme.isalnum():  # fd:// and unix:// are read above
        raise ValueError(
            f"{value!r}: {scheme}:// is not a kind of listener here; write HOST:PORT,"
            " [IPV6]:PORT, unix:PATH or fd://N"
        )
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            bracket = ""
        if not bracket or not rest.startswith(":"):
            raise ValueError(f"{value!r}: an IPv6 address is written [ADDRESS]:PORT, as [::1]:8000")
        _check_ipv6(value, host)
        return BindAddress("tcp", host=host, port=_number(rest[1:], "the port", value, 65535))
    host, colon, port = value.rpartition(":")
    if not colon or not host:
        raise ValueError(
            f"{value!r}: a TCP address is HOST:PORT (as 127.0.0.1:8000, 0.0.0.0:8000 or"
            " [::1]:8000), a Unix socket unix:PATH, an inherited socket fd://N"
        )
    if ":" in host:
        raise ValueError(f"{value!r}: an IPv6 address is written in brackets, as [::1]:8000")
    if not host.isascii() or not host.isprintable() or " " in host:
        raise ValueError(f"{value!r}: {host!r} is not a host name or an IPv4 address")
    return BindAddress("tcp", host=host, port=_number(port, "the port", value, 65535))


def _check_ipv6(value: str, host: str) -> None:
    """Refuse the IPv6 addresses that no socket can listen on as written."""
    address, _, zone = host.partition("%")
    ip = ipaddress.IPv6Address(address)
    if ip.ipv4_mapped is not None:
        # An IPv6-only socket (as this one is) cannot bind an IPv4-mapped address.
        raise ValueError(
            f"{value!r}: an IPv4-mapped IPv6 address; listen on the IPv4 address itself,"
            f" as {ip.ipv4_mapped}:PORT"
        )
    if zone and not (ip.is_link_local or (ip.is_multicast and (ip.packed[1] & 0x0F) == 2)):
        # RFC 4007 section 11: a zone index tells which link a link-local address is on.
        raise ValueError(
            f"{value!r}: a zone id (%{zone}) is only for a link-local address,"
            " as [fe80::1%eth0]:8000"
        )


def bind_tcp(
    host: str, port: int, *, backlog: int = 1024, reuse_port: bool = False
) -> socket.socket:
    """Return a TCP socket listening on *host* and *port* (0: a free port).

    The family is the first that ``getaddrinfo`` gives for *host*; an IPv6 socket
    listens on IPv6 only. ``SO_REUSEADDR`` is set (except on Windows), ``SO_REUSEPORT``
    with *reuse_port*. Raise ``OSError`` if the address cannot be had (``socket.gaierror``
    for a host name that does not resolve) and ``ValueError`` if *reuse_port* is not
    available here or the address is one ``parse_bind`` refuses (IPv4-mapped).
    """
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("reuse_port: SO_REUSEPORT is not available on this platform")
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    if family == socket.AF_INET6:
        _check_ipv6(f"[{host}]:{port}", str(address[0]))
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if os.name != "nt":  # on Windows it would let another socket take the port
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _remove_stale(path: str) -> None:
    """Remove the socket file at *path* if no one listens on it; refuse otherwise."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise FileExistsError(errno.EEXIST, "a file that is not a socket is in the way", path)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a server that is gone
        return
    finally:
        probe.close()
    raise OSError(errno.EADDRINUSE, "another server listens on this socket", path)


def bind_unix(
    path: str | os.PathLike[str], *, mode: int = DEFAULT_UDS_MODE, backlog: int = 1024
) -> socket.socket:
    """Return a Unix domain socket listening at *path*, its file given *mode*.

    A socket file at *path* that no one listens on (left by a server that died) is
    removed first; one that a server listens on raises ``OSError`` (``EADDRINUSE``), and
    a file that is not a socket ``FileExistsError``. The caller removes the file when
    done (``WSGIServer.server_close`` does for the sockets it binds).
    """
    if _AF_UNIX is None:
        raise OSError(errno.EAFNOSUPPORT, "Unix domain sockets are not available here")
    name = os.fspath(path)
    _remove_stale(name)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(name)
        os.chmod(name, mode)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def adopt_socket(fd: int, *, backlog: int = 1024) -> socket.socket:
    """Return the listening socket at descriptor *fd* (inherited, or passed by systemd).

    The family (IPv4, IPv6, Unix) is read from the socket; it must be a stream socket,
    bound. One that is bound but not listening yet is made to listen with *backlog*.
    The socket object owns *fd* from then on (closing it closes *fd*); it is made
    blocking and not inheritable. Raise ``ValueError`` (*fd* left open and unchanged) if
    *fd* is not such a socket: closed, not a socket (a pipe, a file), not a stream
    socket (UDP), bound to no address, connected (a client's or an accepted socket).
    """
    try:
        sock = socket.socket(fileno=fd)
    except OSError as exc:
        raise ValueError(f"descriptor {fd} is not a socket ({exc.strerror or exc})") from None
    try:
        _make_listen(sock, fd, backlog)
    except BaseException:
        sock.detach()  # the descriptor stays the caller's
        raise
    return sock


def _make_listen(sock: socket.socket, fd: int, backlog: int) -> None:
    """Check that *sock* (at *fd*) is a bound stream socket, not connected, and have it
    listen; raise ``ValueError`` saying what it is otherwise."""
    try:
        if sock.type != socket.SOCK_STREAM:
            raise ValueError(f"descriptor {fd} is not a stream socket ({sock.type!r})")
        address = sock.getsockname()
        if address in ("", b"") or (isinstance(address, tuple) and address[1] == 0):
            raise ValueError(f"descriptor {fd} is a socket bound to no address")
        with contextlib.suppress(OSError):  # ENOTCONN: not connected, as it must be
            peer = sock.getpeername()
            raise ValueError(
                f"descriptor {fd} is a connected socket (to {peer!r}), not a listening one"
            )
        listening = 0
        if hasattr(socket, "SO_ACCEPTCONN"):
            listening = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        if not listening:
            sock.listen(backlog)
        sock.setblocking(True)
        sock.set_inheritable(False)
    except OSError as exc:
        raise ValueError(
            f"descriptor {fd} is not a socket that can listen ({exc.strerror or exc})"
        ) from None


def open_listener(
    address: str | BindAddress,
    *,
    backlog: int = 1024,
    reuse_port: bool = False,
    uds_mode: int = DEFAULT_UDS_MODE,
) -> socket.socket:
    """Return a listening socket for a ``--bind`` address (``parse_bind``).

    ``HOST:PORT`` and ``[IPV6]:PORT`` are bound by ``bind_tcp``, ``unix:PATH`` by
    ``bind_unix`` (its file made with *uds_mode*), ``fd://N`` adopted by
    ``adopt_socket``. Raise ``ValueError`` for an address that does not parse or a
    descriptor that is not a listening socket, ``OSError`` (its message naming the
    address, its ``errno`` kept) if the address cannot be had.
    """
    bind = parse_bind(address) if isinstance(address, str) else address
    try:
        if bind.kind == "unix":
            return bind_unix(bind.path, mode=uds_mode, backlog=backlog)
        if bind.kind == "fd":
            return adopt_socket(bind.fd, backlog=backlog)
        return bind_tcp(bind.host, bind.port, backlog=backlog, reuse_port=reuse_port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, socket.gaierror):
            reason = f"{bind.host!r} is not an address or a known host name ({reason})"
            if "%" in bind.host:
                zone = bind.host.partition("%")[2]
                reason = f"the zone id %{zone} names no network interface here ({exc.strerror})"
        raise type(exc)(exc.errno, f"cannot listen on {bind}: {reason}") from exc


def is_unix(sock: socket.socket) -> bool:
    """Say whether *sock* is a Unix domain socket."""
    return _AF_UNIX is not None and sock.family == _AF_UNIX


# -- systemd socket activation ---------------------------------------------------------


def systemd_listeners(
    environ: MutableMapping[str, str] | None = None, *, pid: int | None = None
) -> list[tuple[socket.socket, str]]:
    """Take the listening sockets systemd passed (``sd_listen_fds_with_names(3)``).

    Read ``LISTEN_PID``, ``LISTEN_FDS`` and ``LISTEN_FDNAMES`` from *environ*
    (``os.environ`` by default) and remove them from it (and from
    ``BaseHandler.os_environ``, the environment requests see). When ``LISTEN_PID`` is *pid*
    (this process's id by default), return each socket from descriptor 3 on with its
    name (``"unknown"`` where none was given, as systemd names them), adopted by
    ``adopt_socket``; otherwise, or without the variables, return ``[]``. Raise
    ``ValueError`` if ``LISTEN_FDS`` is not a number or a descriptor it announces is
    not a listening socket.
    """
    env = os.environ if environ is None else environ
    listen_pid, count, names = (env.pop(name, None) for name in _LISTEN_VARIABLES)
    if environ is None:
        # Nor in the copy of os.environ that every request's environ starts from
        # (wsgiref's os_environ, read when wsgi_handlers was imported).
        for name in _LISTEN_VARIABLES:
            BaseHandler.os_environ.pop(name, None)
    if listen_pid is None or count is None:
        return []
    if listen_pid.strip() != str(os.getpid() if pid is None else pid):
        return []  # meant for another process
    if not (count.isascii() and count.isdigit()):
        raise ValueError(f"LISTEN_FDS must be a number of descriptors, got {count!r}")
    n = int(count)
    labels = names.split(":") if names is not None else []
    if len(labels) != n:
        labels = ["unknown"] * n
    listeners: list[tuple[socket.socket, str]] = []
    try:
        for i in range(n):
            listeners.append((adopt_socket(SD_LISTEN_FDS_START + i), labels[i]))  # noqa: PERF401 - one by one: those taken are closed if one fails
    except BaseException:
        for sock, _ in listeners:
            sock.close()
        raise
    return listeners


def listen_fds_environ(
    names: Sequence[str], pid: int, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """The environment that passes ``len(names)`` sockets at descriptors 3, 4, ... to
    process *pid* (the same process after ``exec``), as systemd does.

    A copy of *environ* (``os.environ`` by default) with ``LISTEN_PID``,
    ``LISTEN_FDS`` and ``LISTEN_FDNAMES`` set. Raise ``ValueError`` for a name that
    systemd would refuse (empty, longer than 255 characters, with ``:`` or a control
    character).
    """
    for name in names:
        if not name or len(name) > _FD_NAME_MAX or ":" in name or not name.isprintable():
            raise ValueError(f"{name!r} cannot be a LISTEN_FDNAMES name")
    env = dict(os.environ if environ is None else environ)
    env.update(LISTEN_PID=str(pid), LISTEN_FDS=str(len(names)), LISTEN_FDNAMES=":".join(names))
    return env


# -- TLS --------------------------------------------------------------------------------


def _tls_error(exc: OSError) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc.strerror or exc)


def tls_context(config: ServerConfig) -> ssl.SSLContext | None:
    """The server-side ``ssl.SSLContext`` of *config*, or None if it sets no ``certfile``.

    TLS 1.2 at least, ALPN ``http/1.1`` (RFC 7301), the certificate chain of
    ``certfile`` with the key of ``keyfile`` (or of ``certfile``), client certificates
    checked against ``ca_certs`` as ``cert_reqs`` says, ``ciphers`` if set. Raise
    ``ValueError`` naming the file if one cannot be read or is not what it must be.
    """
    if config.certfile is None:
        return None
    import ssl  # noqa: PLC0415 - only a server with TLS needs the ssl module

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        # An empty password: an encrypted key fails here rather than prompt on a terminal.
        context.load_cert_chain(config.certfile, config.keyfile, password="")
    except OSError as exc:
        files = f"certfile {config.certfile!r}" + (
            f" with keyfile {config.keyfile!r}" if config.keyfile else ""
        )
        raise ValueError(f"cannot load the certificate: {files}: {_tls_error(exc)}") from exc
    if config.ca_certs is not None:
        try:
            context.load_verify_locations(cafile=config.ca_certs)
        except OSError as exc:
            raise ValueError(
                f"cannot load ca_certs {config.ca_certs!r}: {_tls_error(exc)}"
            ) from exc
    context.verify_mode = ssl.VerifyMode(config.cert_reqs)
    if config.ciphers is not None:
        try:
            context.set_ciphers(config.ciphers)
        except ssl.SSLError as exc:
            raise ValueError(f"ciphers {config.ciphers!r}: {_tls_error(exc)}") from exc
    return context
