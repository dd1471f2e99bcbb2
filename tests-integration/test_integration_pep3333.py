"""PEP 3333 conformance across the stack: what the PEP asks of servers and gateways,
checked against ``wsgi_simple_server`` (over a socket), ``wsgi_handlers.SimpleHandler``
(over streams) and ``wsgi_cgi.CGIHandler`` (a real CGI process), with every request
also run through ``wsgi_validate`` in report mode and zero violations expected."""

import http.client
import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import probe_app
import pytest
from wsgi_handlers import SimpleHandler
from wsgi_simple_server import make_server
from wsgi_validate import ValidationReport, validator

_HERE = Path(__file__).resolve().parent
_PROBE_SOURCE = Path(probe_app.__file__).read_bytes()
Headers = Sequence[tuple[str, str]]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    closes: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


class Gateway(Protocol):
    def request(
        self, method: str, path: str, headers: Headers = (), body: bytes = b""
    ) -> Reply: ...
    def clear_report(self) -> None: ...


def _parse(raw: bytes, status_prefix: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    if status_prefix == b"Status:":
        fields = dict(line.split(": ", 1) for line in lines)
        status = int(fields.pop("Status").split()[0])
    else:
        status = int(lines[0].split()[1])
        fields = dict(line.split(": ", 1) for line in lines[1:])
    return status, {k.lower(): v for k, v in fields.items()}, body


class ServerGateway:
    """``wsgi_simple_server`` on loopback, spoken to with ``http.client``."""

    def __init__(self, port: int, report: ValidationReport) -> None:
        self.port, self.report = port, report

    def clear_report(self) -> None:
        self.report.clear()

    def request(self, method: str, path: str, headers: Headers = (), body: bytes = b"") -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path)
            for name, value in headers:
                conn.putheader(name, value)
            if body or method == "POST":
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        return Reply(
            response.status,
            {k.lower(): v for k, v in response.getheaders()},
            data,
            list(probe_app.closes),
            [str(v) for v in self.report.violations],
        )


class HandlerGateway:
    """``SimpleHandler`` over in-memory streams, with a CGI-style environ."""

    def __init__(self, report: ValidationReport) -> None:
        self.app = validator(probe_app.application, report=report, strict_stdlib=False)
        self.report = report

    def clear_report(self) -> None:
        self.report.clear()

    def request(self, method: str, path: str, headers: Headers = (), body: bytes = b"") -> Reply:
        environ = _cgi_environ(method, path, headers, body)
        out = io.BytesIO()
        SimpleHandler(io.BytesIO(body), out, io.StringIO(), environ).run(self.app)
        status, fields, data = _parse(out.getvalue(), b"HTTP/")
        return Reply(
            status, fields, data, list(probe_app.closes), [str(v) for v in self.report.violations]
        )


_CGI_SCRIPT = """
import json, sys
import probe_app
from wsgi_cgi import CGIHandler
from wsgi_validate import ValidationReport, validator
report = ValidationReport()
CGIHandler().run(validator(probe_app.application, report=report, strict_stdlib=False))
sys.stderr.write("\\nTRAILER" + json.dumps({"closes": probe_app.closes,
                                          "violations": [str(v) for v in report.violations]}))
"""


class CGIGateway:
    """``CGIHandler`` in a real CGI process: the request in its environment and stdin."""

    def clear_report(self) -> None:
        """Each CGI process has a report of its own."""

    def request(self, method: str, path: str, headers: Headers = (), body: bytes = b"") -> Reply:
        environ = _cgi_environ(method, path, headers, body)
        environ["GATEWAY_INTERFACE"] = "CGI/1.1"
        environ["PATH"] = os.environ.get("PATH", "")
        environ["PYTHONPATH"] = os.pathsep.join([str(_HERE), *sys.path])
        done = subprocess.run(
            [sys.executable, "-c", _CGI_SCRIPT],
            input=body,
            env=environ,
            capture_output=True,
            timeout=30,
            check=True,
        )
        status, fields, data = _parse(done.stdout, b"Status:")
        trailer = json.loads(done.stderr.decode().rpartition("TRAILER")[2])
        return Reply(status, fields, data, trailer["closes"], trailer["violations"])


def _cgi_environ(method: str, path: str, headers: Headers, body: bytes) -> dict[str, str]:
    path_info, _, query = path.partition("?")
    environ: dict[str, str] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    if body or method == "POST":
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


@pytest.fixture(scope="module", params=["server", "handler", "cgi"])
def gateway(request: pytest.FixtureRequest) -> Iterator[Gateway]:
    report = ValidationReport()
    if request.param == "handler":
        yield HandlerGateway(report)
    elif request.param == "cgi":
        yield CGIGateway()
    else:
        app = validator(probe_app.application, report=report, strict_stdlib=False)
        with make_server("127.0.0.1", 0, app) as server:
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
            thread.start()
            try:
                yield ServerGateway(server.server_port, report)
            finally:
                server.shutdown()
                thread.join(timeout=10)


def test_environ_is_a_dict_with_every_required_key_as_native_strings(gateway: Gateway) -> None:
    reply = gateway.request("GET", "/environ?a=1&b=%20", headers=[("X-Probe", "yes")])
    assert reply.status == 200
    seen = json.loads(reply.body)
    assert seen["problems"] == []
    assert seen["keys"]["REQUEST_METHOD"] == "GET"
    assert seen["keys"]["PATH_INFO"] == "/environ"
    assert seen["keys"]["QUERY_STRING"] == "a=1&b=%20"
    assert seen["keys"]["HTTP_X_PROBE"] == "yes"
    assert seen["url_scheme"] == "http"
    assert reply.violations == []


def test_input_stream_reads_lines_blocks_and_stops_at_content_length(gateway: Gateway) -> None:
    body = b"line one\nabcdefgh\nrest\nmore"
    reply = gateway.request("POST", "/input", body=body)
    assert json.loads(reply.body) == {"parts": ["line one\n", "abc", "defg", "h\nrest\nmore"]}
    assert reply.violations == []


def test_reading_past_content_length_gets_eof_and_the_validator_reports_it(
    gateway: Gateway,
) -> None:
    reply = gateway.request("POST", "/read-past-end", body=b"body")
    assert json.loads(reply.body) == {"body": "body", "after_end": ""}
    assert len(reply.violations) == 1
    assert "input-past-content-length" in reply.violations[0]
    gateway.clear_report()


def test_write_callable_output_comes_before_the_iterable(gateway: Gateway) -> None:
    reply = gateway.request("GET", "/write")
    assert reply.status == 200
    assert reply.body == b"written, then returned"
    assert reply.violations == []


def test_start_response_with_exc_info_before_headers_replaces_the_status(gateway: Gateway) -> None:
    reply = gateway.request("GET", "/exc-info-before-headers")
    assert reply.status == 503
    assert reply.body == b"replaced"
    assert reply.violations == []


def _closes_seen(gateway: Gateway, reply: Reply, name: str, expected: int) -> int:
    """The close() calls of *name* once *expected* are seen or 5 s have passed: a
    server may call close() just after the client has the last byte."""
    count = reply.closes.count(name)
    deadline = time.monotonic() + 5
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.01)
        count = gateway.request("GET", "/closes").closes.count(name)
    return count


def test_close_is_called_once_after_a_complete_response(gateway: Gateway) -> None:
    before = gateway.request("GET", "/closes").closes.count("normal")
    reply = gateway.request("GET", "/close-normal")
    assert reply.body == b"ab"
    assert _closes_seen(gateway, reply, "normal", before + 1) == before + 1
    assert reply.violations == []


def test_close_is_called_once_when_the_iterable_fails(gateway: Gateway) -> None:
    before = gateway.request("GET", "/closes").closes.count("failing")
    reply = gateway.request("GET", "/close-failing")
    assert reply.status == 500
    assert _closes_seen(gateway, reply, "failing", before + 1) == before + 1


def test_file_wrapper_sends_the_whole_file(gateway: Gateway) -> None:
    reply = gateway.request("GET", "/file")
    assert reply.status == 200
    assert reply.body == _PROBE_SOURCE
    assert reply.violations == []
