"""``demo_app``: the standard library's "Hello world!" page listing the environ."""

from __future__ import annotations

from io import StringIO

from wsgi_util.types import StartResponse, WSGIEnvironment


def demo_app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """Answer ``Hello world!`` followed by the sorted environ, one ``key = repr`` a line."""
    stdout = StringIO()
    print("Hello world!", file=stdout)
    print(file=stdout)
    for key, value in sorted(environ.items()):
        print(key, "=", repr(value), file=stdout)
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [stdout.getvalue().encode("utf-8")]
