"""An application that checks, from the inside, what PEP 3333 promises it.

Each route exercises one part of the interface and answers JSON: what it saw and
the list of promises it found broken (``problems``). ``closes`` counts the
``close()`` calls on the response iterables of this process.
"""

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from wsgi_util.types import StartResponse, WSGIEnvironment

CGI_KEYS_REQUIRED = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
)
WSGI_KEYS_REQUIRED = (
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)
closes: list[str] = []


class _Closing:
    """A response iterable whose ``close()`` is counted (PEP 3333: must be called)."""

    def __init__(self, name: str, chunks: Iterable[bytes], fail_after: int | None = None) -> None:
        self.name = name
        self.chunks = list(chunks)
        self.fail_after = fail_after

    def __iter__(self) -> Iterator[bytes]:
        for index, chunk in enumerate(self.chunks):
            if index == self.fail_after:
                raise RuntimeError("deliberate failure while iterating")
            yield chunk

    def close(self) -> None:
        closes.append(self.name)


def _environ_problems(environ: WSGIEnvironment) -> list[str]:
    problems = []
    if type(environ) is not dict:
        problems.append(f"environ is {type(environ).__name__}, not a builtin dict")
    problems += [
        f"missing {key}" for key in CGI_KEYS_REQUIRED + WSGI_KEYS_REQUIRED if key not in environ
    ]
    for key, value in environ.items():
        if key.startswith("wsgi.") or "." in key:
            continue
        if type(value) is not str:
            problems.append(f"{key} is {type(value).__name__}, not a native str")
        elif not value.isascii() and any(ord(c) > 255 for c in value):
            problems.append(f"{key} is not latin-1 (bytes decoded as latin-1, PEP 3333)")
    if environ.get("wsgi.version") != (1, 0):
        problems.append(f"wsgi.version is {environ.get('wsgi.version')!r}")
    if environ.get("wsgi.url_scheme") not in ("http", "https"):
        problems.append(f"wsgi.url_scheme is {environ.get('wsgi.url_scheme')!r}")
    for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once"):
        if not isinstance(environ.get(key), bool | int):
            problems.append(f"{key} is not a truth value")
    script, path = environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", "")
    if script and not script.startswith("/"):
        problems.append("SCRIPT_NAME does not start with /")
    if path and not path.startswith("/"):
        problems.append("PATH_INFO does not start with /")
    if not (script or path):
        problems.append("SCRIPT_NAME and PATH_INFO are both empty")
    if "HTTP_CONTENT_TYPE" in environ or "HTTP_CONTENT_LENGTH" in environ:
        problems.append("Content-Type/Length appear as HTTP_ keys")
    if not environ.get("SERVER_PORT", "").isdigit():
        problems.append("SERVER_PORT is not digits")
    errors = environ.get("wsgi.errors")
    for method in ("write", "writelines", "flush"):
        if not callable(getattr(errors, method, None)):
            problems.append(f"wsgi.errors has no {method}()")
    stdin = environ.get("wsgi.input")
    for method in ("read", "readline", "readlines", "__iter__"):
        if not callable(getattr(stdin, method, None)):
            problems.append(f"wsgi.input has no {method}()")
    return problems


def _json(
    start_response: StartResponse, payload: dict[str, Any], status: str = "200 OK"
) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def application(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Dispatch on ``PATH_INFO`` to one check of the interface."""
    route = environ.get("PATH_INFO", "")
    if route == "/environ":
        environ["wsgi.errors"].write("probe: a line on wsgi.errors\n")
        environ["wsgi.errors"].writelines(["probe: ", "writelines\n"])
        environ["wsgi.errors"].flush()
        keys = {
            k: environ[k]
            for k in (
                "REQUEST_METHOD",
                "SCRIPT_NAME",
                "PATH_INFO",
                "QUERY_STRING",
                "SERVER_PROTOCOL",
                "HTTP_X_PROBE",
            )
            if k in environ
        }
        return _json(
            start_response,
            {
                "problems": _environ_problems(environ),
                "keys": keys,
                "url_scheme": environ["wsgi.url_scheme"],
            },
        )
    if route == "/input":
        stdin = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        first_line = stdin.readline()
        sized_line = stdin.readline(3)
        block = stdin.read(4)
        rest = b"".join(stdin.readlines()) if length else b""
        parts = [p.decode("latin-1") for p in (first_line, sized_line, block, rest)]
        return _json(start_response, {"parts": parts})
    if route == "/read-past-end":  # a deliberate violation: the server must give EOF
        stdin = environ["wsgi.input"]
        body = stdin.read(int(environ.get("CONTENT_LENGTH") or 0))
        after_end = stdin.read(10)
        return _json(start_response, {"body": body.decode(), "after_end": after_end.decode()})
    if route == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written, ")
        write(b"")
        return [b"then ", b"returned"]
    if route == "/exc-info-before-headers":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("the app failed before its body")
        except ValueError:
            start_response(
                "503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"replaced"]
    if route == "/close-normal":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _Closing("normal", [b"a", b"b"])
    if route == "/close-failing":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _Closing("failing", [b"a", b"b"], fail_after=0)
    if route == "/closes":
        return _json(start_response, {"closes": closes})
    if route == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        blocks: Iterable[bytes] = environ["wsgi.file_wrapper"](open(__file__, "rb"), 1024)  # noqa: SIM115
        return blocks
    return _json(start_response, {"problems": [f"no route {route}"]}, "404 Not Found")
