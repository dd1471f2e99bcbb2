"""Real web servers for the wsgi-cgi tests, from ``tools/cgi_servers.py``.

lighttpd and Apache are installed when missing (as root), run on a free loopback port
from a temporary folder, and stopped afterwards; where one cannot be had, the tests
fail saying why: they are never skipped.
"""

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wsgi_cgi
import wsgi_handlers
import wsgi_headers
import wsgi_util
from cgi_servers import (
    WebServer,
    apache_serving,
    copy_packages,
    ensure_installed,
    lighttpd_serving,
    write_cgi_script,
)

# The WSGI application the CGI script serves (its source goes into the script).
CGI_APP_SOURCE = """
import hashlib
import json


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/raise":
        raise RuntimeError("boom from the cgi app")
    if path == "/status":
        start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
        return [b"short and stout"]
    if path == "/cookies":
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2; Path=/"),
                ("Set-Cookie", "c=3; HttpOnly"),
            ],
        )
        return [b"cookies"]
    body = environ["wsgi.input"].read()
    report = {
        "method": environ["REQUEST_METHOD"],
        "query": environ.get("QUERY_STRING", ""),
        "path_info_hex": path.encode("latin-1").hex(),
        "scheme": environ["wsgi.url_scheme"],
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_length": environ.get("CONTENT_LENGTH"),
        "terminated": environ.get("wsgi.input_terminated", False),
        "run_once": environ["wsgi.run_once"],
        "input_type": type(environ["wsgi.input"]).__name__,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode("ascii")]
"""


_SCRIPT_SOURCE = CGI_APP_SOURCE + "\nfrom wsgi_cgi import CGIHandler\nCGIHandler().run(app)\n"


def _write_app_scripts(htdocs: Path, interpreter: str) -> None:
    lib = copy_packages([wsgi_cgi, wsgi_handlers, wsgi_headers, wsgi_util], htdocs)
    (htdocs / "secure").mkdir(exist_ok=True)
    for script in (htdocs / "app.cgi", htdocs / "secure" / "app.cgi"):
        write_cgi_script(script, interpreter, _SCRIPT_SOURCE, [lib])


@pytest.fixture(scope="session")
def lighttpd() -> Iterator[WebServer]:
    """lighttpd with mod_cgi serving /app.cgi and /secure/app.cgi (HTTPS=on)."""
    with lighttpd_serving(_write_app_scripts, sys.executable) as server:
        yield server


@pytest.fixture(scope="session")
def apache() -> Iterator[WebServer]:
    """Apache httpd (prefork MPM, mod_cgi) serving /app.cgi."""
    with apache_serving(_write_app_scripts, sys.executable) as server:
        yield server


@pytest.fixture
def installer() -> Callable[[str, list[str]], str]:
    """``ensure_installed``, for tests of the install step itself."""
    return ensure_installed
