"""``wsgi_util.types`` gives PEP 3333 apps types with teeth: mypy --strict accepts a
conforming app and refuses one that returns ``str`` or passes an ``int`` status."""

import io
import textwrap
from pathlib import Path

import wsgi_util.types
from mypy import api
from wsgi_util import FileWrapper, setup_testing_defaults

_GOOD_APP = """
    from collections.abc import Iterable
    from wsgi_util.types import (
        ErrorStream, InputStream, StartResponse, WSGIApplication, WSGIEnvironment,
    )

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        stdin: InputStream = environ["wsgi.input"]
        errors: ErrorStream = environ["wsgi.errors"]
        errors.write("log line\\n")
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"early")
        return [stdin.read(10)]

    checked: WSGIApplication = app
"""

_BAD_APP = """
    from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment

    def returns_str(environ: WSGIEnvironment, start_response: StartResponse) -> str:
        start_response("200 OK", [])
        return "text"

    def int_status(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        start_response(200, [])
        return [b""]

    checked: WSGIApplication = returns_str
"""


def _mypy(tmp_path: Path, source: str) -> tuple[str, int]:
    module = tmp_path / "app_under_check.py"
    module.write_text(textwrap.dedent(source))
    stdout, stderr, status = api.run(
        ["--strict", "--cache-dir", str(tmp_path / ".cache"), "--config-file", "", str(module)]
    )
    return stdout + stderr, status


def test_a_conforming_app_type_checks(tmp_path: Path) -> None:
    output, status = _mypy(tmp_path, _GOOD_APP)
    assert status == 0, output


def test_returning_str_or_an_int_status_fails_type_checking(tmp_path: Path) -> None:
    output, status = _mypy(tmp_path, _BAD_APP)
    assert status == 1
    assert 'has incompatible type "int"; expected "str"' in output
    assert "Incompatible types in assignment" in output
    assert "found 2 errors" in output.lower()


def test_types_are_importable_at_runtime_and_fit_real_objects() -> None:
    environ: wsgi_util.types.WSGIEnvironment = {}
    setup_testing_defaults(environ)
    stdin: wsgi_util.types.InputStream = environ["wsgi.input"]
    errors: wsgi_util.types.ErrorStream = environ["wsgi.errors"]
    wrapper_factory: wsgi_util.types.FileWrapper = FileWrapper
    assert stdin.read() == b""
    errors.write("x")
    assert list(wrapper_factory(io.BytesIO(b"ab"), 1)) == [b"a", b"b"]
