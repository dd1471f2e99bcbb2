"""A consumer project outside the workspace type-checks against the installed wheels:
a correct composition of the packages passes ``mypy --strict``, a wrong one fails
with the errors a user needs to see."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

_CONSUMER = """
    import io
    from collections.abc import Iterable

    from wsgi_cgi import CGIHandler
    from wsgi_handlers import SimpleHandler
    from wsgi_headers import Headers
    from wsgi_simple_server import WSGIServer, make_server
    from wsgi_util import request_uri, setup_testing_defaults
    from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment
    from wsgi_validate import validator


    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        headers = Headers([("Content-Type", "text/plain")])
        start_response("200 OK", headers.items())
        return [request_uri(environ).encode()]


    checked: WSGIApplication = validator(app)


    def serve() -> WSGIServer:
        return make_server("127.0.0.1", 0, checked)


    def run_once() -> bytes:
        environ: WSGIEnvironment = {}
        setup_testing_defaults(environ)
        out = io.BytesIO()
        SimpleHandler(io.BytesIO(), out, io.StringIO(), environ).run(checked)
        return out.getvalue()


    def cgi() -> None:
        CGIHandler().run(checked)
"""

_WRONG = """
    from wsgi_headers import Headers
    from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment
    from wsgi_validate import validator


    def returns_text(environ: WSGIEnvironment, start_response: StartResponse) -> str:
        start_response("200 OK", [])
        return "text"


    def int_status(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response(200, [])
        return [b""]


    wrapped: WSGIApplication = validator(returns_text)
    headers = Headers([("Content-Type", b"text/plain")])
"""


def _mypy(wheel_env: Path, tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    project = tmp_path / "consumer"
    project.mkdir()
    (project / "consumer_app.py").write_text(textwrap.dedent(source))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--python-executable",
            str(wheel_env),
            "--config-file",
            "",
            "--cache-dir",
            str(tmp_path / "cache"),
            "consumer_app.py",
        ],
        cwd=project,
        # The wheels alone: no search path of a source checkout.
        env={k: v for k, v in os.environ.items() if k not in {"MYPYPATH", "PYTHONPATH"}},
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_consumer_composing_every_package_type_checks_strictly(
    wheel_env: Path, tmp_path: Path
) -> None:
    result = _mypy(wheel_env, tmp_path, _CONSUMER)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_consumer_fails_type_checking_against_the_wheels(
    wheel_env: Path, tmp_path: Path
) -> None:
    result = _mypy(wheel_env, tmp_path, _WRONG)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'incompatible type "Callable[[dict[str, Any], StartResponse], str]"' in result.stdout
    assert 'has incompatible type "int"; expected "str"' in result.stdout
    assert "bytes" in result.stdout
    assert "Found 3 errors" in result.stdout
