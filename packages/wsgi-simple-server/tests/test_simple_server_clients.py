"""Real HTTP clients against the server: http.client and httpx, keep-alive and bodies."""

from __future__ import annotations

import http.client
from collections.abc import Iterable, Iterator
from typing import Any

import httpx


def test_http_client_reuses_one_connection_for_many_requests(kit: Any) -> None:
    with kit.running(kit.echo_app) as server:
        host, port = kit.address(server)
        conn = http.client.HTTPConnection(host, port, timeout=5)
        try:
            for i in range(20):
                conn.request("POST", f"/n{i}", body=b"x" * i)
                response = conn.getresponse()
                assert response.status == 200
                assert response.read() == b"x" * i
                assert response.getheader("X-Path") == f"/n{i}"
            sock = conn.sock
            conn.request("GET", "/last")
            conn.getresponse().read()
            assert conn.sock is sock  # never reconnected
        finally:
            conn.close()


def test_http_client_reads_chunked_responses(kit: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        for i in range(64):
            yield b"%03d," % i

    with kit.running(app) as server:
        host, port = kit.address(server)
        conn = http.client.HTTPConnection(host, port, timeout=5)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.getheader("Transfer-Encoding") == "chunked"
            assert response.read() == b"".join(b"%03d," % i for i in range(64))
        finally:
            conn.close()


def test_httpx_client_with_keep_alive_json_and_streamed_upload(kit: Any) -> None:
    def upload() -> Iterator[bytes]:
        for i in range(10):
            yield b"part%d;" % i

    with kit.running(kit.echo_app) as server:
        host, port = kit.address(server)
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as client:
            for i in range(5):
                assert client.get(f"/get{i}").headers["x-path"] == f"/get{i}"
            assert client.post("/json", json={"a": 1}).content == b'{"a":1}'
            streamed = client.post("/up", content=upload())
            assert streamed.content == b"".join(b"part%d;" % i for i in range(10))
            head = client.head("/h")
            assert head.status_code == 200
            assert head.content == b""


def test_httpx_sees_the_expected_status_for_a_refused_request(kit: Any) -> None:
    config = kit.QUIET.replace(max_body_bytes=10)
    with kit.running(kit.echo_app, config) as server:
        host, port = kit.address(server)
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as client:
            assert client.post("/", content=b"x" * 11).status_code == 413
            assert client.post("/", content=b"x" * 10).status_code == 200


def test_large_body_in_and_out(kit: Any) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        body = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [body, body]

    with kit.running(app) as server:
        host, port = kit.address(server)
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=10) as client:
            assert client.post("/", content=payload).content == payload * 2
