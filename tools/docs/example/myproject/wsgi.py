"""``myproject.wsgi:application``, the application the documentation serves."""

from wsgi_util.types import StartResponse, WSGIEnvironment


def application(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """Answer every request with ``myproject`` in plain text."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"myproject\n"]
