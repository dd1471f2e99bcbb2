"""The server's process environment does not reach applications unless asked for.

``wsgiref`` starts every request's environ with a copy of ``os.environ`` (taken when
``wsgiref.handlers`` is imported): a ``DATABASE_PASSWORD`` of the server process is
handed to every application. gunicorn and waitress do not do this, nor does this
server unless ``ServerConfig(copy_os_environ=True)`` says so. The server runs in a
child process whose environment has the secret from the start, on each of its three
paths: the engine's own environ, a request handler's ``get_environ`` override, and the
standard library's one-request-at-a-time loop (a handler that overrides ``handle``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_CHILD = r"""
import json, socket, threading
from wsgi_simple_server import ServerConfig, WSGIRequestHandler, make_server

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    seen = f"{environ.get('DATABASE_PASSWORD', 'absent')} {environ['wsgi.url_scheme']}"
    return [seen.encode()]

class CustomEnviron(WSGIRequestHandler):
    def get_environ(self):
        return super().get_environ()

class Serial(WSGIRequestHandler):
    def handle(self):
        super().handle()

results = {}
paths = {"engine": WSGIRequestHandler, "get_environ": CustomEnviron, "stdlib": Serial}
for copy in (False, True):
    for name, handler in paths.items():
        config = ServerConfig(copy_os_environ=copy, access_log=False, threads=1)
        server = make_server("127.0.0.1", 0, app, handler_class=handler, config=config)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        try:
            with socket.create_connection(server.server_address[:2], timeout=10) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
        finally:
            server.shutdown()
            server.server_close()
            thread.join(10)
        results[f"{name} copy={copy}"] = data.split(b"\r\n\r\n", 1)[1].decode()
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def seen() -> dict[str, str]:
    """What the application saw, by path and setting, in a server started with
    ``DATABASE_PASSWORD`` and ``HTTPS=on`` in its environment."""
    env = {**os.environ, "DATABASE_PASSWORD": "hunter2", "HTTPS": "on"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, str] = json.loads(done.stdout)
    return result


@pytest.mark.parametrize("path", ["engine", "get_environ", "stdlib"])
def test_the_process_environment_does_not_reach_the_application_by_default(
    seen: dict[str, str], path: str
) -> None:
    # Nor does the shell's HTTPS=on make a plain request look like HTTPS.
    assert seen[f"{path} copy=False"] == "absent http"


@pytest.mark.parametrize("path", ["engine", "get_environ", "stdlib"])
def test_copy_os_environ_gives_the_standard_librarys_environ(
    seen: dict[str, str], path: str
) -> None:
    assert seen[f"{path} copy=True"] == "hunter2 https"
