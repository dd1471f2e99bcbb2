"""A framework app (Flask) as a CGI script under lighttpd's mod_cgi, through
``wsgi_cgi.CGIHandler`` and ``wsgi_validate`` in report mode: every step right and
no violation in the server's error log."""

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import wsgi_cgi
import wsgi_handlers
import wsgi_headers
import wsgi_util
import wsgi_validate
from cgi_servers import WebServer, copy_packages, lighttpd_serving, write_cgi_script
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
