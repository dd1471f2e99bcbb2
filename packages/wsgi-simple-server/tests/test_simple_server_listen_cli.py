"""Listening addresses: ``parse_bind``, systemd's variables, and the command line's
``--bind``/``--uds``/``--fd`` and socket activation, run as subprocesses.

The socket activation tests run the server as systemd would start it, without
systemd (there is none in CI): through ``systemd-socket-activate`` (systemd's own tool
for this, installed with apt-get when missing) and through a shell launcher that puts
the sockets at descriptors 3 and 4 and ``exec``\\ s the server with ``LISTEN_PID=$$``.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cgi_servers import ensure_installed
from hypothesis import given
from hypothesis import strategies as st
from wsgi_simple_server import BindAddress, adopt_socket, parse_bind, systemd_listeners
from wsgi_simple_server._listen_cli import _file_mode
from wsgi_simple_server._listeners import (
    BOUND_NAME,
    bind_tcp,
    bind_unix,
    listen_fds_environ,
    open_listener,
)

HERE = Path(__file__).parent
BIND_ANY = ("--bind", "127.0.0.1:0")

# -- parse_bind ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", BindAddress("tcp", host="127.0.0.1", port=8000)),
        ("0.0.0.0:0", BindAddress("tcp", host="0.0.0.0", port=0)),
        ("localhost:65535", BindAddress("tcp", host="localhost", port=65535)),
        ("[::1]:8000", BindAddress("tcp", host="::1", port=8000)),
        ("[::]:80", BindAddress("tcp", host="::", port=80)),
        ("[fe80::1%eth0]:80", BindAddress("tcp", host="fe80::1%eth0", port=80)),
        ("unix:/run/app.sock", BindAddress("unix", path="/run/app.sock")),
        ("unix:///run/app.sock", BindAddress("unix", path="/run/app.sock")),
        ("unix:relative.sock", BindAddress("unix", path="relative.sock")),
        ("fd://3", BindAddress("fd", fd=3)),
    ],
)
def test_parse_bind_reads_gunicorns_forms(value: str, expected: BindAddress) -> None:
    assert parse_bind(value) == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("8000", "HOST:PORT"),
        (":8000", "HOST:PORT"),
        ("127.0.0.1", "HOST:PORT"),
        ("127.0.0.1:", "port must be a number"),
        ("127.0.0.1:65536", "port must be a number from 0 to 65535"),
        ("127.0.0.1:-1", "port must be a number"),
        ("127.0.0.1:８０", "port must be a number"),  # noqa: RUF001 - full-width digits
        ("::1:8000", "in brackets"),
        ("[::1]", "[ADDRESS]:PORT"),
        ("[::1]8000", "[ADDRESS]:PORT"),
        ("[not-an-address]:80", "[ADDRESS]:PORT"),
        ("unix:", "needs a path"),
        ("unix:a\0b", "needs a path"),
        ("fd://", "descriptor must be a number"),
        ("fd://x", "descriptor must be a number"),
        ("host name:80", "not a host name"),
        ("[::ffff:127.0.0.1]:0", "listen on the IPv4 address itself, as 127.0.0.1:PORT"),
        ("[::ffff:7f00:1]:80", "IPv4-mapped"),
        ("[::1%lo]:0", "only for a link-local address"),
        ("[2001:db8::1%eth0]:0", "only for a link-local address"),
    ],
)
def test_parse_bind_refuses_with_the_form_expected(value: str, words: str) -> None:
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_bind(value)


addresses = st.one_of(
    st.builds(
        lambda ip, port: BindAddress("tcp", host=str(ip), port=port),
        st.ip_addresses().filter(
            lambda ip: not (isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped)
        ),
        st.integers(0, 65535),
    ),
    st.builds(
        lambda name, port: BindAddress("tcp", host=name, port=port),
        st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True),
        st.integers(0, 65535),
    ),
    st.builds(
        lambda path: BindAddress("unix", path=path),
        st.text(st.characters(blacklist_characters="\0"), min_size=1).filter(
            lambda p: not p.startswith("//")
        ),
    ),
    st.builds(lambda fd: BindAddress("fd", fd=fd), st.integers(0, 2**31 - 1)),
)


@given(addresses)
def test_str_of_a_bind_address_parses_back_to_it(address: BindAddress) -> None:
    assert parse_bind(str(address)) == address


@given(st.text())
def test_parse_bind_gives_an_address_or_a_value_error(value: str) -> None:
    try:
        address = parse_bind(value)
    except ValueError:
        return
    assert isinstance(address, BindAddress)
    if address.kind == "tcp":
        assert 0 <= address.port <= 65535
        if ":" in address.host:
            ipaddress.IPv6Address(address.host)


def test_uds_mode_is_octal_as_chmod_takes_it() -> None:
    assert _file_mode("660") == _file_mode("0660") == _file_mode("0o660") == 0o660
    for bad in ("", "8", "0o", "66666", "rw"):
        with pytest.raises(argparse.ArgumentTypeError, match="octal"):
            _file_mode(bad)


# -- systemd's variables ---------------------------------------------------------------


def test_listen_fds_for_another_process_are_ignored_and_removed() -> None:
    environ = {"LISTEN_PID": "1", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b", "OTHER": "x"}
    assert systemd_listeners(environ, pid=2) == []
    assert environ == {"OTHER": "x"}
    assert systemd_listeners({}, pid=2) == []
    assert systemd_listeners({"LISTEN_PID": "2"}, pid=2) == []


def test_a_malformed_listen_fds_is_an_error() -> None:
    with pytest.raises(ValueError, match="LISTEN_FDS must be a number"):
        systemd_listeners({"LISTEN_PID": "7", "LISTEN_FDS": "two"}, pid=7)
    assert systemd_listeners({"LISTEN_PID": "7", "LISTEN_FDS": "0"}, pid=7) == []


def test_listen_fds_environ_is_what_systemd_sets() -> None:
    env = listen_fds_environ(["web", BOUND_NAME], 42, {"PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "LISTEN_PID": "42",
        "LISTEN_FDS": "2",
        "LISTEN_FDNAMES": f"web:{BOUND_NAME}",
    }
    for bad in ("", "a:b", "x" * 256, "tab\there"):
        with pytest.raises(ValueError, match="LISTEN_FDNAMES"):
            listen_fds_environ([bad], 42, {})


def test_adopt_socket_refuses_what_is_not_a_bound_stream_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        with pytest.raises(ValueError, match="not a stream socket"):
            adopt_socket(udp.fileno())
        assert udp.fileno() >= 0  # left to its owner
    with socket.socket() as unbound:
        with pytest.raises(ValueError, match="bound to no address"):
            adopt_socket(unbound.fileno())
        assert unbound.fileno() >= 0


def test_a_zone_id_that_names_no_interface_is_said_so() -> None:
    with pytest.raises(OSError, match="zone id %no-such-if names no network interface"):
        open_listener("[fe80::1%no-such-if]:0")
    parse_bind("[ff02::1%lo]:0")  # link-local multicast takes one too


def test_bind_tcp_refuses_an_ipv4_mapped_address_as_parse_bind_does() -> None:
    with pytest.raises(ValueError, match=re.escape("as 127.0.0.1:PORT")):
        bind_tcp("::ffff:127.0.0.1", 0)


def _refused_then_open(fd: int, words: str) -> None:
    """adopt_socket and open_listener refuse *fd* with ValueError and leave it open."""
    for adopt in (adopt_socket, lambda fd: open_listener(f"fd://{fd}")):
        with pytest.raises(ValueError, match=words):
            adopt(fd)
        os.fstat(fd)  # still open: EBADF here otherwise


def test_every_refused_descriptor_is_left_open_with_a_value_error(tmp_path: Path) -> None:
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname(), timeout=5) as client,
    ):
        accepted, _ = listener.accept()
        with accepted:
            _refused_then_open(client.fileno(), "connected socket")
            _refused_then_open(accepted.fileno(), "connected socket")
            client.sendall(b"still")  # the caller's sockets still work
            assert accepted.recv(5) == b"still"
            assert client.gettimeout() == 5  # and are left as they were
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        _refused_then_open(udp.fileno(), "not a stream socket")
    with socket.socket() as unbound:
        _refused_then_open(unbound.fileno(), "bound to no address")
    read, write = os.pipe()
    try:
        _refused_then_open(read, "is not a socket")
    finally:
        os.close(read)
        os.close(write)
    with (tmp_path / "file").open("w") as file:
        _refused_then_open(file.fileno(), "is not a socket")
    closed = os.dup(0)
    os.close(closed)
    for adopt in (adopt_socket, lambda fd: open_listener(f"fd://{fd}")):
        with pytest.raises(ValueError, match=f"descriptor {closed} is not a socket"):
            adopt(closed)


def test_adopt_socket_makes_a_bound_socket_listen() -> None:
    raw = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    raw.bind(("::1", 0))
    sock = adopt_socket(raw.detach(), backlog=8)
    with sock:
        assert sock.family == socket.AF_INET6
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        assert not sock.get_inheritable()
        with socket.create_connection(sock.getsockname()[:2], timeout=5):
            pass


# -- the command line ------------------------------------------------------------------


def cli_env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


@contextmanager
def cli(
    *args: str, pass_fds: tuple[int, ...] = (), prefix: tuple[str, ...] = ()
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """Run ``python -m wsgi_simple_server ARGS``; yield it and its "Serving" line."""
    command = [*prefix, sys.executable, "-m", "wsgi_simple_server", *args]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
        pass_fds=pass_fds,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        yield proc, line
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        proc.communicate()


def test_uds_is_served_and_its_file_removed_at_exit(tmp_path: Path) -> None:
    curl = ensure_installed("curl", ["curl"])
    path = tmp_path / "app.sock"
    with cli("--uds", str(path), "--uds-mode", "600", "--threads", "2") as (proc, line):
        assert line == f"Serving HTTP on unix:{path} ...\n"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        out = subprocess.run(
            [curl, "-sS", "--max-time", "10", "--unix-socket", str(path), "http://x/a?b"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.startswith("Hello world!")
        assert "PATH_INFO = '/a'" in out
        assert "REMOTE_ADDR = 'unix:'" in out
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        _, err = proc.communicate()
    assert "unix: - - [" in err  # the access log names the peer
    assert not path.exists()


def test_several_binds_are_served_by_one_process(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with cli("--bind", "127.0.0.1:0", "--bind", f"unix:{path}", "--bind", "[::1]:0") as (_, line):
        words = line.split()
        v4_port, v6_port = words[5].rstrip(","), words[9]
        assert line.startswith(f"Serving HTTP on 127.0.0.1 port {v4_port}, unix:{path}, ::1 port")
        assert httpx.get(f"http://127.0.0.1:{v4_port}/", timeout=5).status_code == 200
        assert httpx.get(f"http://[::1]:{v6_port}/", timeout=5).status_code == 200
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=5) as client:
            assert client.get("http://x/").status_code == 200


def test_an_inherited_descriptor_is_served_by_fd_and_by_bind_fd(tmp_path: Path) -> None:
    path = tmp_path / "inherited.sock"
    with socket.create_server(("127.0.0.1", 0)) as tcp, bind_unix(path) as unix:
        tcp_fd, unix_fd = tcp.fileno(), unix.fileno()
        port = tcp.getsockname()[1]
        args = ("--fd", str(tcp_fd), "--bind", f"fd://{unix_fd}")
        with cli(*args, pass_fds=(tcp_fd, unix_fd)) as (_, line):
            assert line == f"Serving HTTP on 127.0.0.1 port {port}, unix:{path} ...\n"
            assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=5) as c:
                assert c.get("http://x/").status_code == 200
        assert path.exists()  # not the server's file: it came as a descriptor


def test_a_bad_address_is_one_line_and_status_2(tmp_path: Path) -> None:
    for args, words in [
        (("--bind", "8000"), "HOST:PORT"),
        (("--fd", "x"), "descriptor must be a number"),
        (("--uds-mode", "999"), "octal"),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "wsgi_simple_server", *args],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=30,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert words in proc.stderr.splitlines()[-1]
    with socket.create_server(("127.0.0.1", 0)) as taken:
        busy = f"127.0.0.1:{taken.getsockname()[1]}"
        proc = subprocess.run(
            [sys.executable, "-m", "wsgi_simple_server", "--bind", busy],
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=30,
            check=False,
        )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"python -m wsgi_simple_server: error: cannot listen on {busy}: Address already in use\n"
    )


# -- socket activation -----------------------------------------------------------------


def test_systemd_socket_activate_starts_the_server_on_its_sockets(tmp_path: Path) -> None:
    """What the systemd page shows: ``systemd-socket-activate -l ADDRESS ... python -m
    wsgi_simple_server APP``; the tool listens, and on the first connection execs the
    server with LISTEN_FDS set, which serves that connection from the listen queue."""
    tool = ensure_installed("systemd", ["systemd-socket-activate"])
    web, api = tmp_path / "web.sock", tmp_path / "api.sock"
    prefix = (tool, "-E", "PYTHONPATH", "-l", str(web), "-l", str(api), "--fdname=web:api")
    env_app = "listener_apps:environ_app"
    command = [*prefix, sys.executable, "-m", "wsgi_simple_server", env_app, "--port", "1"]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    try:
        assert proc.stderr is not None
        assert proc.stdout is not None
        # The tool says where it listens, then waits for a first connection.
        for _ in range(2):
            assert proc.stderr.readline().startswith("Listening on ")
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(api)), timeout=20) as client:
            response = client.get("http://x/")
        pid, listen_fds, environ_listen_fds, remote = response.text.split()
        assert int(pid) == proc.pid  # exec'd: the same process
        assert listen_fds == environ_listen_fds == "-"  # taken out of the environment
        assert remote == "unix:"
        assert proc.stdout.readline() == f"Serving HTTP on unix:{web}, unix:{api} ...\n"
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(web)), timeout=5) as client:
            assert client.get("http://x/").text.endswith(" unix:")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.communicate()
    assert proc.returncode == 0
    assert web.exists()  # systemd's sockets: their files are systemd's business
    assert api.exists()


def test_a_launcher_passing_listen_fds_as_systemd_does(tmp_path: Path) -> None:
    """Two sockets at descriptors 3 and 4, LISTEN_PID the server's pid (``exec``
    keeps the shell's ``$$``), LISTEN_FDNAMES: the server listens on them and binds
    nothing (``--bind`` is not used); a LISTEN_PID of another process is not honoured."""
    path = tmp_path / "activated.sock"
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as tcp, bind_unix(path) as unix:
        fds = (tcp.fileno(), unix.fileno())
        script = (
            'exec 3<&"$1" 4<&"$2"; LISTEN_PID=$$ LISTEN_FDS=2 LISTEN_FDNAMES=http:unix '
            'exec "$0" -m wsgi_simple_server --bind 127.0.0.1:0 "$3"'
        )
        app = "listener_apps:environ_app"
        prefix = ("bash", "-c", script)
        command = [*prefix, sys.executable, str(fds[0]), str(fds[1]), app]
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
            pass_fds=fds,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            port = tcp.getsockname()[1]
            assert line == f"Serving HTTP on ::1 port {port}, unix:{path} ...\n"
            response = httpx.get(f"http://[::1]:{port}/", timeout=5)
            pid, listen_fds, environ_listen_fds, remote = response.text.split()
            assert (int(pid), listen_fds, environ_listen_fds, remote) == (proc.pid, "-", "-", "::1")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
            proc.communicate()
    assert path.exists()
    path.unlink()


def test_listen_fds_of_another_process_are_not_used() -> None:
    env = cli_env(LISTEN_PID="1", LISTEN_FDS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgi_simple_server", "listener_apps:environ_app", *BIND_ANY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        port = line.split()[5]
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert response.text.split()[1:3] == ["-", "-"]  # removed all the same
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        proc.communicate()
