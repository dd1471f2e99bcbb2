"""CGI scripts through ``wsgi_cgi.CGIHandler`` under real web servers.

* A framework app (Flask) under lighttpd's mod_cgi, inside ``wsgi_validate`` in
  report mode: every step right and no violation in the server's error log.
* A plain WSGI app under ``python -m http.server --cgi``, which sets
  ``CONTENT_LENGTH=""`` for a GET and hands the script the client's socket as stdin:
  the GET's body is empty at once, a POST's is exact (RFC 3875 section 4.1.2).
"""

import contextlib
import hashlib
import http.client
import json
import os
import re
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import wsgi_cgi
import wsgi_handlers
import wsgi_headers
import wsgi_util
import wsgi_validate
from cgi_servers import (
    WebServer,
    copy_packages,
    lighttpd_serving,
    python_for_unprivileged_user,
    write_cgi_script,
)
from frameworks import SERVED_FILE

# Installing lighttpd on the first run may take a while; the requests are quick.
pytestmark = pytest.mark.timeout(600)

_HERE = Path(__file__).resolve().parent
_SCRIPT = """
from frameworks.flask_app import application
from wsgi_cgi import CGIHandler
from wsgi_validate import ValidationReport, validator

report = ValidationReport()
CGIHandler().run(validator(application, report=report, strict_stdlib=False))
for violation in report.violations:
    sys.stderr.write(f"VIOLATION {violation}\\n")
"""


def _write_scripts(htdocs: Path, interpreter: str) -> None:
    lib = copy_packages([wsgi_cgi, wsgi_handlers, wsgi_headers, wsgi_util, wsgi_validate], htdocs)
    write_cgi_script(htdocs / "flask.cgi", interpreter, _SCRIPT, [str(_HERE), lib])


@pytest.fixture(scope="module")
def lighttpd() -> Iterator[WebServer]:
    with lighttpd_serving(_write_scripts, sys.executable) as server:
        yield server
    assert "VIOLATION" not in server.error_log_text()


def test_flask_json_form_and_upload_through_cgi(lighttpd: WebServer) -> None:
    status, _, _, body = lighttpd.request("GET", "/flask.cgi/json")
    assert status == 200
    assert json.loads(body) == {"framework": "flask", "hello": "world"}
    status, _, _, body = lighttpd.request(
        "POST",
        "/flask.cgi/form",
        "name=cgi",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (status, body) == (200, b"hello cgi")
    upload = hashlib.shake_256(b"cgi upload").digest(1 << 20)
    status, _, _, body = lighttpd.request("POST", "/flask.cgi/upload", upload)
    assert json.loads(body) == {"length": len(upload), "sha256": hashlib.sha256(upload).hexdigest()}


def test_flask_cookies_redirect_file_and_non_ascii_path_through_cgi(lighttpd: WebServer) -> None:
    _, _, _, body = lighttpd.request("GET", "/flask.cgi/cookies", headers={"Cookie": "a=1; b=2"})
    assert json.loads(body) == {"a": "1", "b": "2"}
    status, _, headers, _ = lighttpd.request("GET", "/flask.cgi/redirect")
    assert status == 302
    assert dict(headers)["Location"].endswith("/json")
    status, _, _, body = lighttpd.request("GET", "/flask.cgi/file")
    assert (status, body) == (200, SERVED_FILE.read_bytes())
    _, _, _, body = lighttpd.request("GET", "/flask.cgi/echo/caf%C3%A9")
    assert body.decode() == "caf\xe9"


# python -m http.server --cgi ------------------------------------------------------

# Every request is bounded: a script that waits for a body that never comes fails the
# test in this many seconds instead of hanging it.
_CLIENT_TIMEOUT_S = 10.0
_SERVER_START_TIMEOUT_S = 15.0
_SERVER_STOP_TIMEOUT_S = 10.0
# What http.server prints once it listens: "Serving HTTP on 127.0.0.1 port 41234 (...".
_SERVING = re.compile(rb"Serving HTTP on \S+ port (\d+)")

_BODY_REPORT_SCRIPT = """
import hashlib
import json

from wsgi_cgi import CGIHandler


def app(environ, start_response):
    body = environ["wsgi.input"].read()
    report = {
        "method": environ["REQUEST_METHOD"],
        "content_length": environ.get("CONTENT_LENGTH"),
        "terminated": environ.get("wsgi.input_terminated", False),
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode("ascii")]


CGIHandler().run(app)
"""


@contextlib.contextmanager
def _http_server_cgi() -> Iterator[int]:
    """``python -m http.server --cgi`` on an ephemeral 127.0.0.1 port, serving
    ``/cgi-bin/report.py``; yields the port, stops the server by its pid.

    As root, http.server runs a script as ``nobody``: the folder is world-readable
    and the script's interpreter one that user may run.
    """
    folder = Path(tempfile.mkdtemp(prefix="wsgi-cgi-http-server-"))
    try:
        folder.chmod(0o755)
        root = folder / "htdocs"
        (root / "cgi-bin").mkdir(parents=True)
        for made in (root, root / "cgi-bin"):
            made.chmod(0o755)
        lib = copy_packages([wsgi_cgi, wsgi_handlers, wsgi_headers, wsgi_util], root)
        root_user = os.geteuid() == 0
        interpreter = python_for_unprivileged_user(sys.executable) if root_user else sys.executable
        write_cgi_script(root / "cgi-bin" / "report.py", interpreter, _BODY_REPORT_SCRIPT, [lib])
        command = [sys.executable, "-u", "-m", "http.server", "--cgi", "--bind", "127.0.0.1"]
        with (folder / "server.err").open("wb") as errors:
            process = subprocess.Popen(
                [*command, "--directory", str(root), "0"],  # port 0: the kernel picks
                stdout=subprocess.PIPE,
                stderr=errors,
                cwd=root,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        try:
            yield _announced_port(process, folder / "server.err")
        finally:
            _stop(process)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _announced_port(process: subprocess.Popen[bytes], errors: Path) -> int:
    # The port is the one the server says it listens on: no guess, no race.
    assert process.stdout is not None
    deadline = time.monotonic() + _SERVER_START_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                break
            line = process.stdout.readline()
            if not line:
                break
            if found := _SERVING.search(line):
                return int(found.group(1))
    pytest.fail(f"http.server did not start: {errors.read_text(errors='replace')[-2000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(_SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(_SERVER_STOP_TIMEOUT_S)
    if process.stdout is not None:
        process.stdout.close()


def _report(port: int, method: str, body: bytes | None = None) -> dict[str, object]:
    # An HTTP/1.1 client that keeps its socket open, as a browser does: a script that
    # read stdin to EOF would wait on it until the timeout.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=_CLIENT_TIMEOUT_S)
    try:
        conn.request(method, "/cgi-bin/report.py/x", body=body)
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    assert response.status == 200, data
    report: dict[str, object] = json.loads(data)
    return report


@pytest.fixture(scope="module")
def http_server_cgi() -> Iterator[int]:
    with _http_server_cgi() as port:
        yield port


@pytest.mark.timeout(120)
def test_http_server_get_with_an_empty_content_length_reads_an_empty_body_at_once(
    http_server_cgi: int,
) -> None:
    report = _report(http_server_cgi, "GET")
    assert report == {
        "method": "GET",
        "content_length": "",
        "terminated": False,
        "length": 0,
        "sha256": hashlib.sha256(b"").hexdigest(),
    }


@pytest.mark.timeout(120)
def test_http_server_post_reads_exactly_its_body(http_server_cgi: int) -> None:
    body = hashlib.shake_256(b"http.server cgi").digest(200_000) + b"\r\n\r\nGET / HTTP/1.1\r\n"
    report = _report(http_server_cgi, "POST", body)
    assert report == {
        "method": "POST",
        "content_length": str(len(body)),
        "terminated": False,
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
