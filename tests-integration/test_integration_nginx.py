"""The server behind a real nginx, configured as the deployment page shows.

nginx (installed with apt-get when missing, started on loopback by
``nginx_proxy.nginx_serving``) terminates TLS and proxies to the server over TCP with
``X-Forwarded-*`` fields and over a Unix socket with an RFC 7239 ``Forwarded`` field,
and passes TLS through its stream module with a PROXY protocol header to a TLS
listener. The nginx configuration is the fragments the page includes
(``tools/docs/pages/deployment/*.conf``), with the example's ports, paths and
certificates replaced by the test's; the server behind each fragment has the
``trusted_proxy_headers`` its comment names. The clients, httpx and curl, connect
from 127.0.0.2, so that the client's address is told from nginx's own (127.0.0.1).
"""

from __future__ import annotations

import json
import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme
from cgi_servers import ensure_installed, free_port
from live_server import forwarding_app, running
from nginx_proxy import DEPLOYMENT_DOCS, Nginx, docs_fragment, nginx_folder, nginx_serving
from wsgi_simple_server import ServerConfig, WSGIServer, make_server

CLIENT_ADDRESS = "127.0.0.2"  # loopback, but not nginx's 127.0.0.1
HOST = "shop.example"
QUIET = ServerConfig(access_log=False, threads=2, shutdown_timeout_s=2.0)


@contextmanager
def serving(server: WSGIServer) -> Iterator[WSGIServer]:
    with running(server):
        yield server


def documented(name: str) -> ServerConfig:
    """``QUIET`` with the ``trusted_proxy_headers`` the fragment *name* asks for."""
    text = (DEPLOYMENT_DOCS / name).read_text(encoding="utf-8")
    match = re.search(r'^#\s+trusted_proxy_headers="([^"]*)"$', text, re.MULTILINE)
    assert match is not None, f"{name} does not name the trusted_proxy_headers it needs"
    return QUIET.replace(trusted_proxy_headers=match[1])


def tcp_server(config: ServerConfig = QUIET) -> WSGIServer:
    return make_server("127.0.0.1", 0, forwarding_app, config=config)


def port_of(server: WSGIServer) -> int:
    return int(server.server_address[1])


def unix_server(path: Path, config: ServerConfig) -> WSGIServer:
    """A server listening on the Unix socket *path*."""
    server = WSGIServer.from_listeners([f"unix:{path}"], config=config)
    server.set_app(forwarding_app)
    return server


@dataclass
class Deployment:
    """nginx and the servers behind it; the ports nginx listens on."""

    nginx: Nginx
    ca: trustme.CA
    ca_file: Path
    x_forwarded: int  # TLS, X-Forwarded-* to the server over TCP
    forwarded_unix: int  # TLS, Forwarded to the server over a Unix socket
    stream: int  # TLS passed through with a PROXY protocol header
    untrusted: int  # as x_forwarded, to a server that trusts no proxy here


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    ca = trustme.CA()
    cert = ca.issue_cert(HOST, "127.0.0.1")
    with ExitStack() as stack:
        folder = stack.enter_context(nginx_folder())
        cert_file, key_file, ca_file = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
        cert.cert_chain_pems[0].write_to_path(str(cert_file))
        for blob in cert.cert_chain_pems[1:]:
            blob.write_to_path(str(cert_file), append=True)
        cert.private_key_pem.write_to_path(str(key_file))
        ca.cert_pem.write_to_path(str(ca_file))
        tls = {
            "/etc/ssl/example.com/fullchain.pem": str(cert_file),
            "/etc/ssl/example.com/privkey.pem": str(key_file),
        }

        x_forwarded = documented("nginx-x-forwarded.conf")
        tcp = stack.enter_context(serving(tcp_server(x_forwarded)))
        forwarded = documented("nginx-forwarded-unix.conf")
        stack.enter_context(serving(unix_server(folder / "app.sock", forwarded)))
        untrusted = stack.enter_context(
            serving(tcp_server(x_forwarded.replace(forwarded_allow_ips="10.0.0.1")))
        )
        proxied = tcp_server(
            QUIET.replace(proxy_protocol=True, certfile=str(cert_file), keyfile=str(key_file))
        )
        stack.enter_context(serving(proxied))

        ports = [free_port() for _ in range(4)]
        http = "\n".join(
            [
                docs_fragment(
                    "nginx-x-forwarded.conf",
                    {
                        "listen 443 ssl;": f"listen 127.0.0.1:{ports[0]} ssl;",
                        "127.0.0.1:8000": f"127.0.0.1:{port_of(tcp)}",
                        **tls,
                    },
                ),
                docs_fragment(
                    "nginx-forwarded-unix.conf",
                    {
                        "listen 443 ssl;": f"listen 127.0.0.1:{ports[1]} ssl;",
                        "unix:/run/wsgi-app/app.sock": f"unix:{folder / 'app.sock'}",
                        **tls,
                    },
                ),
                docs_fragment(
                    "nginx-x-forwarded.conf",
                    {
                        "listen 443 ssl;": f"listen 127.0.0.1:{ports[3]} ssl;",
                        "127.0.0.1:8000": f"127.0.0.1:{port_of(untrusted)}",
                        "wsgi_tcp": "wsgi_untrusted",  # the upstream's name, once each
                        **tls,
                    },
                ),
            ]
        )
        top = docs_fragment(
            "nginx-stream-proxy-protocol.conf",
            {
                "listen 443;": f"listen 127.0.0.1:{ports[2]};",
                "127.0.0.1:8443": f"127.0.0.1:{port_of(proxied)}",
            },
        )
        nginx = stack.enter_context(nginx_serving(folder, ports, http=http, top=top, stream=True))
        yield Deployment(nginx, ca, ca_file, *ports)


def client(deployment: Deployment) -> httpx.Client:
    context = ssl.create_default_context()
    deployment.ca.configure_trust(context)
    transport = httpx.HTTPTransport(verify=context, local_address=CLIENT_ADDRESS)
    return httpx.Client(transport=transport, timeout=20)


def get_with_httpx(deployment: Deployment, port: int, headers: dict[str, str]) -> dict[str, Any]:
    with client(deployment) as http:
        response = http.get(
            f"https://127.0.0.1:{port}/p?q=1", headers={"Host": f"{HOST}:{port}", **headers}
        )
    assert response.status_code == 200, (response.text, deployment.nginx.logs()[-2000:])
    result: dict[str, Any] = response.json()
    return result


def get_with_curl(deployment: Deployment, port: int, headers: dict[str, str]) -> dict[str, Any]:
    curl = shutil.which("curl") or ensure_installed("curl", ["curl"])
    command = [curl, "-sS", "--fail", "--max-time", "20", "--cacert", str(deployment.ca_file)]
    command += ["--interface", CLIENT_ADDRESS, "-H", f"Host: {HOST}:{port}"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"https://127.0.0.1:{port}/p?q=1")
    proc = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, (proc.stderr, deployment.nginx.logs()[-2000:])
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


CLIENTS = {"httpx": get_with_httpx, "curl": get_with_curl}


@pytest.fixture(params=list(CLIENTS))
def get(request: pytest.FixtureRequest) -> Any:
    return CLIENTS[request.param]


def test_nginx_terminates_tls_and_forwards_x_forwarded_over_tcp(
    deployment: Deployment, get: Any
) -> None:
    port = deployment.x_forwarded
    # A client's own X-Forwarded-For is walked past: nginx appends the real address.
    seen = get(deployment, port, {"X-Forwarded-For": "6.6.6.6"})
    assert seen["REMOTE_ADDR"] == CLIENT_ADDRESS
    assert seen["HTTP_X_FORWARDED_FOR"] == f"6.6.6.6, {CLIENT_ADDRESS}"
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["HTTPS"] == "on"
    assert seen["HTTP_HOST"] == f"{HOST}:{port}"
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"]) == (HOST, str(port))
    assert seen["uri"] == f"https://{HOST}:{port}/p?q=1"


def test_a_clients_own_forwarding_fields_through_the_x_forwarded_setup_are_not_believed(
    deployment: Deployment, get: Any
) -> None:
    # nginx passes on any field it is not told to set: a client's own Forwarded and
    # X-Forwarded-Host reach the server, which does not believe them and removes them.
    port = deployment.x_forwarded
    seen = get(
        deployment,
        port,
        {
            "Forwarded": "for=127.0.0.1;proto=http;host=evil.example",
            "X-Forwarded-Host": "evil.example",
            "X-Forwarded-Port": "1",
            "X-Forwarded-For": "junk",  # nginx appends to it: the walk still finds the client
        },
    )
    assert seen["REMOTE_ADDR"] == CLIENT_ADDRESS
    assert seen["HTTP_FORWARDED"] is None
    assert seen["HTTP_X_FORWARDED_HOST"] is None
    assert seen["HTTP_X_FORWARDED_PORT"] == str(port)  # nginx's own: it replaces the client's
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["uri"] == f"https://{HOST}:{port}/p?q=1"


def test_nginx_forwards_rfc_7239_forwarded_over_a_unix_socket(
    deployment: Deployment, get: Any
) -> None:
    port = deployment.forwarded_unix
    seen = get(deployment, port, {"X-Forwarded-For": "6.6.6.6", "Forwarded": "for=6.6.6.6"})
    assert seen["REMOTE_ADDR"] == CLIENT_ADDRESS
    assert seen["HTTP_FORWARDED"] == f'for={CLIENT_ADDRESS};proto=https;host="{HOST}:{port}"'
    assert seen["HTTP_X_FORWARDED_FOR"] is None  # nginx drops the client's
    assert seen["wsgi.url_scheme"] == "https"
    assert seen["uri"] == f"https://{HOST}:{port}/p?q=1"


def test_nginx_stream_passes_tls_through_with_a_proxy_protocol_header(
    deployment: Deployment, get: Any
) -> None:
    port = deployment.stream
    seen = get(deployment, port, {"X-Forwarded-For": "6.6.6.6"})
    assert seen["REMOTE_ADDR"] == CLIENT_ADDRESS  # from the PROXY header
    assert seen["wsgi.url_scheme"] == "https"  # the server's own TLS
    assert seen["HTTP_X_FORWARDED_FOR"] is None  # the client is no trusted proxy
    assert seen["HTTP_HOST"] == f"{HOST}:{port}"


def test_a_proxy_not_in_forwarded_allow_ips_is_not_believed(
    deployment: Deployment, get: Any
) -> None:
    port = deployment.untrusted
    seen = get(deployment, port, {})
    assert seen["REMOTE_ADDR"] == "127.0.0.1"  # nginx's own address
    assert seen["wsgi.url_scheme"] == "http"
    assert seen["HTTP_X_FORWARDED_FOR"] is None
    assert seen["HTTP_X_FORWARDED_PROTO"] is None
    assert seen["HTTP_HOST"] == HOST  # as nginx sent it ($host)


def test_the_deployment_page_includes_the_tested_configuration() -> None:
    page = (Path(__file__).parents[1] / "tools/docs/pages/deployment/nginx.md").read_text()
    for name in (
        "nginx-x-forwarded.conf",
        "nginx-forwarded-unix.conf",
        "nginx-stream-proxy-protocol.conf",
    ):
        assert f'--8<-- "tools/docs/pages/deployment/{name}"' in page
