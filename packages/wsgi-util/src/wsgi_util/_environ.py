"""Helpers that read or fill in a WSGI environ (``wsgiref.util``'s environ functions)."""

import posixpath
from io import BytesIO, StringIO
from urllib.parse import quote

from wsgi_util.types import WSGIEnvironment

_HTTPS_ON = frozenset({"yes", "on", "1"})
_DEFAULT_PORT = {"http": "80", "https": "443"}


def guess_scheme(environ: WSGIEnvironment) -> str:
    """Return ``"https"`` if ``environ["HTTPS"]`` is ``"yes"``, ``"on"`` or ``"1"``,
    else ``"http"`` (the CGI convention for a TLS request)."""
    return "https" if environ.get("HTTPS") in _HTTPS_ON else "http"


def application_uri(environ: WSGIEnvironment) -> str:
    """Return the application's base URI: scheme, host and ``SCRIPT_NAME``.

    The host is ``HTTP_HOST`` when set, else ``SERVER_NAME`` with ``SERVER_PORT``
    unless it is the scheme's default. ``SCRIPT_NAME`` is percent-quoted as latin-1
    (PEP 3333 "native strings"); an empty one becomes ``/``.
    """
    scheme: str = environ["wsgi.url_scheme"]
    host: str = environ.get("HTTP_HOST") or ""
    if not host:
        host = environ["SERVER_NAME"]
        port = environ["SERVER_PORT"]
        if port != ("443" if scheme == "https" else "80"):
            host += ":" + port
    return scheme + "://" + host + quote(environ.get("SCRIPT_NAME") or "/", encoding="latin1")


def request_uri(environ: WSGIEnvironment, include_query: bool = True) -> str:
    """Return the full request URI: ``application_uri`` plus the quoted ``PATH_INFO``
    and, if *include_query* is true, ``?QUERY_STRING`` when there is one."""
    url = application_uri(environ)
    path_info = quote(environ.get("PATH_INFO", ""), safe="/;=,", encoding="latin1")
    url += path_info if environ.get("SCRIPT_NAME") else path_info[1:]
    if include_query and environ.get("QUERY_STRING"):
        url += "?" + environ["QUERY_STRING"]
    return url


def shift_path_info(environ: WSGIEnvironment) -> str | None:
    """Move one segment from ``PATH_INFO`` to ``SCRIPT_NAME`` and return it.

    Returns ``None`` when ``PATH_INFO`` is empty. Empty and ``.`` segments in the
    middle are dropped and ``SCRIPT_NAME`` is normalised (``..`` folds). When
    ``PATH_INFO`` is just ``/``, returns ``""`` and appends ``/`` to ``SCRIPT_NAME``,
    so that an application can tell ``/x`` from ``/x/``. The environ is modified in
    place.
    """
    path_info: str = environ.get("PATH_INFO", "")
    if not path_info:
        return None

    parts = path_info.split("/")
    parts[1:-1] = [p for p in parts[1:-1] if p and p != "."]
    name = parts.pop(1)

    script_name = posixpath.normpath(environ.get("SCRIPT_NAME", "") + "/" + name)
    script_name = script_name.removesuffix("/")
    if not name and not script_name.endswith("/"):
        script_name += "/"

    environ["SCRIPT_NAME"] = script_name
    environ["PATH_INFO"] = "/".join(parts)
    # A trailing "/." is not stripped above (the last segment is kept); report it as
    # no segment at all, as wsgiref does.
    return None if name == "." else name


def setup_testing_defaults(environ: WSGIEnvironment) -> None:
    """Fill *environ* in place with the defaults a test request needs.

    Adds ``SERVER_NAME``, ``SERVER_PROTOCOL``, ``HTTP_HOST``, ``REQUEST_METHOD``,
    ``SCRIPT_NAME`` and ``PATH_INFO`` (only if neither is set), every ``wsgi.*`` key
    and ``SERVER_PORT`` for the scheme, never replacing a value that is present. The
    data is fake: for tests only, never for a real server or application.
    """
    environ.setdefault("SERVER_NAME", "127.0.0.1")
    environ.setdefault("SERVER_PROTOCOL", "HTTP/1.0")
    environ.setdefault("HTTP_HOST", environ["SERVER_NAME"])
    environ.setdefault("REQUEST_METHOD", "GET")
    if "SCRIPT_NAME" not in environ and "PATH_INFO" not in environ:
        environ.setdefault("SCRIPT_NAME", "")
        environ.setdefault("PATH_INFO", "/")
    environ.setdefault("wsgi.version", (1, 0))
    environ.setdefault("wsgi.run_once", 0)
    environ.setdefault("wsgi.multithread", 0)
    environ.setdefault("wsgi.multiprocess", 0)
    environ.setdefault("wsgi.input", BytesIO())
    environ.setdefault("wsgi.errors", StringIO())
    environ.setdefault("wsgi.url_scheme", guess_scheme(environ))
    port = _DEFAULT_PORT.get(environ["wsgi.url_scheme"])
    if port is not None:
        environ.setdefault("SERVER_PORT", port)
