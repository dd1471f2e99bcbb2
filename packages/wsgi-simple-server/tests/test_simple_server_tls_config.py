"""HTTPS from the settings: ``certfile``, ``keyfile``, ``ca_certs``, ``cert_reqs``, ``ciphers``.

The certificates are ``trustme``'s, written to files as a deployment has them. Clients:
httpx, curl (installed with apt-get when missing) and raw ``ssl`` sockets.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
import wsgi_handlers
from cgi_servers import ensure_installed
from live_server import running
from wsgi_simple_server import ServerConfig, WSGIServer, make_server
from wsgi_simple_server import _connection as connection_module

QUIET = ServerConfig(access_log=False, threads=4, shutdown_timeout_s=2.0)
BIG = os.urandom(1 << 20)


@dataclass
class Files:
    ca: Path  # the CA certificate clients trust
    cert: Path  # the server's certificate chain
    key: Path  # its private key
    combined: Path  # key and chain in one file
    client: Path  # a client certificate and key, issued by the CA
    stranger: Path  # a client certificate from another CA


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    folder = tmp_path_factory.mktemp("tls")
    ca, other_ca = trustme.CA(), trustme.CA()
    server_cert = ca.issue_cert("localhost", "127.0.0.1", "::1")
    result = Files(
        ca=folder / "ca.pem",
        cert=folder / "cert.pem",
        key=folder / "key.pem",
        combined=folder / "both.pem",
        client=folder / "client.pem",
        stranger=folder / "stranger.pem",
    )
    ca.cert_pem.write_to_path(str(result.ca))
    server_cert.cert_chain_pems[0].write_to_path(str(result.cert))
    for pem in server_cert.cert_chain_pems[1:]:
        pem.write_to_path(str(result.cert), append=True)
    server_cert.private_key_pem.write_to_path(str(result.key))
    server_cert.private_key_and_cert_chain_pem.write_to_path(str(result.combined))
    ca.issue_cert("client@example.com").private_key_and_cert_chain_pem.write_to_path(
        str(result.client)
    )
    other_ca.issue_cert("client@example.com").private_key_and_cert_chain_pem.write_to_path(
        str(result.stranger)
    )
    return result


def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    if environ["PATH_INFO"] == "/file":
        path = environ["QUERY_STRING"]
        start_response("200 OK", [("Content-Length", str(os.path.getsize(path)))])
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](open(path, "rb"))  # noqa: SIM115
        return wrapper
    body = f"{environ['wsgi.url_scheme']} {environ.get('HTTPS')} {environ['SERVER_PORT']}"
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body.encode()]


@contextmanager
def serving(server: WSGIServer) -> Iterator[WSGIServer]:
    server.set_app(app)
    with running(server):
        yield server


def https(files: Files, **settings: Any) -> WSGIServer:
    config = QUIET.replace(certfile=str(files.cert), keyfile=str(files.key), **settings)
    return make_server("127.0.0.1", 0, app, config=config)


def client_context(files: Files, cert: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(files.ca))
    if cert is not None:
        context.load_cert_chain(str(cert))
    return context


def url(server: WSGIServer, path: str = "/") -> str:
    return f"https://127.0.0.1:{server.server_address[1]}{path}"


# -- the settings make every listener speak TLS -------------------------------------------


def test_certfile_makes_the_server_speak_https(files: Files) -> None:
    with serving(https(files)) as server:
        assert isinstance(server.socket, ssl.SSLSocket)
        assert server.ssl_context is not None
        assert server.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2
        port = server.server_address[1]
        response = httpx.get(url(server), verify=client_context(files), timeout=5)
        assert response.text == f"https on {port}"
        assert response.http_version == "HTTP/1.1"


def test_alpn_chooses_http_1_1(files: Files) -> None:
    context = client_context(files)
    context.set_alpn_protocols(["h2", "http/1.1"])
    with (
        serving(https(files)) as server,
        socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.selected_alpn_protocol() == "http/1.1"
        assert tls.version() in ("TLSv1.2", "TLSv1.3")


def test_a_key_in_the_certfile_needs_no_keyfile(files: Files) -> None:
    config = QUIET.replace(certfile=str(files.combined))
    with serving(make_server("127.0.0.1", 0, app, config=config)) as server:
        assert httpx.get(url(server), verify=client_context(files), timeout=5).status_code == 200


def test_curl_gets_the_page_over_https(files: Files) -> None:
    curl = ensure_installed("curl", ["curl"])
    with serving(https(files)) as server:
        port = server.server_address[1]
        out = subprocess.run(
            [curl, "-sS", "--max-time", "10", "--cacert", str(files.ca), url(server)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    assert out == f"https on {port}"


def test_every_listener_is_wrapped_a_unix_one_too(files: Files, tmp_path: Path) -> None:
    path = tmp_path / "tls.sock"
    config = QUIET.replace(certfile=str(files.cert), keyfile=str(files.key))
    server = WSGIServer.from_listeners(["127.0.0.1:0", f"unix:{path}"], config=config)
    with serving(server):
        assert all(isinstance(sock, ssl.SSLSocket) for sock in server.sockets)
        transport = httpx.HTTPTransport(uds=str(path), verify=client_context(files))
        with httpx.Client(transport=transport, timeout=5) as client:
            assert client.get("https://localhost/").text == "https on 443"
        assert httpx.get(url(server), verify=client_context(files), timeout=5).text.startswith(
            "https on "
        )


def test_a_file_wrapper_is_sent_through_tls_not_sendfile(
    files: Files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """os.sendfile would send the file's bytes unencrypted: a TLS connection reads and
    sends them (its send loop) instead."""
    big = tmp_path / "big.bin"
    big.write_bytes(BIG)
    calls: list[int] = []
    sendfile_all = wsgi_handlers.sendfile_all

    def spy(out_fd: int, *args: Any) -> int:
        calls.append(out_fd)
        return sendfile_all(out_fd, *args)

    monkeypatch.setattr(connection_module, "sendfile_all", spy)
    with serving(https(files)) as server:
        response = httpx.get(url(server, f"/file?{big}"), verify=client_context(files), timeout=10)
        assert response.content == BIG
        plain = make_server("127.0.0.1", 0, app, config=QUIET)
        with serving(plain):  # the same response over plain TCP does use sendfile
            port = plain.server_address[1]
            plain_response = httpx.get(f"http://127.0.0.1:{port}/file?{big}", timeout=10)
            assert plain_response.content == BIG
    assert len(calls) == 1


# -- handshakes in the event loop ----------------------------------------------------------


def test_a_client_stalled_mid_handshake_holds_up_no_one(files: Files) -> None:
    """One worker; a client sends half a ClientHello and waits. Others connect, shake
    hands and are answered meanwhile (each within a 5-second client timeout), because
    a handshake waiting for bytes holds no worker."""
    with (
        serving(https(files, threads=1, header_timeout_s=60.0)) as server,
        socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=5) as stall,
    ):
        stall.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a record cut short
        context = client_context(files)
        for _ in range(10):  # new connections, each a full handshake
            assert httpx.get(url(server), verify=context, timeout=5).status_code == 200
        with httpx.Client(verify=context, timeout=5) as client:  # and a kept-alive one
            assert [client.get(url(server)).status_code for _ in range(10)] == [200] * 10
        stall.settimeout(0.2)
        with pytest.raises(TimeoutError):
            stall.recv(1)  # still waiting: not closed, not answered


# -- client certificates ----------------------------------------------------------------------


def test_a_required_client_certificate_is_checked(files: Files) -> None:
    with serving(https(files, ca_certs=str(files.ca), cert_reqs=ssl.CERT_REQUIRED)) as server:
        good = client_context(files, files.client)
        assert httpx.get(url(server), verify=good, timeout=5).status_code == 200
        for refused in (client_context(files), client_context(files, files.stranger)):
            with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
                httpx.get(url(server), verify=refused, timeout=5)
        assert httpx.get(url(server), verify=good, timeout=5).status_code == 200  # still serving


def test_an_optional_client_certificate_may_be_left_out(files: Files) -> None:
    with serving(https(files, ca_certs=str(files.ca), cert_reqs=1)) as server:
        for context in (client_context(files), client_context(files, files.client)):
            assert httpx.get(url(server), verify=context, timeout=5).status_code == 200
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            httpx.get(url(server), verify=client_context(files, files.stranger), timeout=5)


# -- bad settings ---------------------------------------------------------------------------


def test_bad_certificate_files_are_refused_with_their_names(files: Files, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    missing = tmp_path / "missing.pem"
    cases = [
        ({"certfile": str(missing)}, f"certfile '{missing}'"),
        ({"certfile": str(garbage)}, f"certfile '{garbage}'"),
        ({"certfile": str(files.cert), "keyfile": str(files.ca)}, "keyfile"),
        ({"certfile": str(files.combined), "ca_certs": str(missing)}, f"ca_certs '{missing}'"),
        ({"certfile": str(files.combined), "ciphers": "NO-SUCH-CIPHER"}, "ciphers"),
    ]
    for settings, words in cases:
        with pytest.raises(ValueError, match=r"cannot load|ciphers") as info:
            make_server("127.0.0.1", 0, app, config=QUIET.replace(**settings))
        assert words in str(info.value)


def test_tls_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="keyfile is a TLS setting: it needs certfile"):
        ServerConfig(keyfile="key.pem")
    with pytest.raises(ValueError, match="cert_reqs is a TLS setting"):
        ServerConfig(cert_reqs=2)
    with pytest.raises(ValueError, match="it needs ca_certs"):
        ServerConfig(certfile="c.pem", cert_reqs=ssl.CERT_OPTIONAL)
    with pytest.raises(ValueError, match="cert_reqs must be 0"):
        ServerConfig(certfile="c.pem", ca_certs="ca.pem", cert_reqs=3)
    assert ServerConfig(certfile="c.pem", ca_certs="ca.pem", cert_reqs=ssl.CERT_REQUIRED)


# -- the command line -------------------------------------------------------------------------


def test_the_command_line_serves_https_from_its_tls_options(files: Files, tmp_path: Path) -> None:
    path = tmp_path / "tls.sock"
    command = [sys.executable, "-m", "wsgi_simple_server", "--bind", "127.0.0.1:0"]
    command += ["--uds", str(path), "--certfile", str(files.cert), "--keyfile", str(files.key)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("Serving HTTP on 127.0.0.1 port "), line
        assert line.endswith(f" (TLS), unix:{path} ...\n")
        port = line.split()[5]
        context = client_context(files)
        response = httpx.get(f"https://127.0.0.1:{port}/", verify=context, timeout=5)
        assert "wsgi.url_scheme = 'https'" in response.text
        transport = httpx.HTTPTransport(uds=str(path), verify=context)
        with httpx.Client(transport=transport, timeout=5) as client:
            assert "HTTPS = 'on'" in client.get("https://localhost/").text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        proc.communicate()
    assert proc.returncode == 0


def test_a_bad_certificate_on_the_command_line_is_one_line_and_status_2(
    files: Files, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.pem"
    prog = "python -m wsgi_simple_server"
    for args, env, message in [
        (
            ["--certfile", str(missing)],
            {},
            f"cannot load the certificate: certfile '{missing}': No such file or directory",
        ),
        (
            [],
            {"WSGI_SIMPLE_SERVER_CERTFILE": str(files.cert), "WSGI_SIMPLE_SERVER_KEYFILE": ""},
            f"cannot load the certificate: certfile '{files.cert}': ",
        ),
        (
            ["--certfile", str(files.combined), "--cert-reqs", "2"],
            {},
            "it needs --ca-certs",
        ),
    ]:
        proc = subprocess.run(
            [sys.executable, "-m", "wsgi_simple_server", "--port", "0", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=30,
            check=False,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr
        assert proc.stderr.startswith(f"{prog}: error: "), proc.stderr
        assert message in proc.stderr, proc.stderr
