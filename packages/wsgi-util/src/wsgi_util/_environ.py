"""Helpers that read or fill in a WSGI environ (``wsgiref.util``'s environ functions)."""

import codecs
import posixpath
from io import BytesIO, StringIO
from urllib.parse import quote

from wsgi_util.types import WSGIEnvironment

_HTTPS_ON = frozenset({"yes", "on", "1"})
_DEFAULT_PORT = {"http": "80", "https": "443"}
# The codecs error handler for characters beyond latin-1 (registered below).
_BEYOND_LATIN1 = "wsgi_util.utf8_beyond_latin1"


def guess_scheme(environ: WSGIEnvironment) -> str:
    """Return ``"https"`` if ``environ["HTTPS"]`` is ``"yes"``, ``"on"`` or ``"1"``,
    else ``"http"`` (the CGI convention for a TLS request)."""
    return "https" if environ.get("HTTPS") in _HTTPS_ON else "http"


def application_uri(environ: WSGIEnvironment) -> str:
    """Return the application's base URI: scheme, host and ``SCRIPT_NAME``.

    The host is ``HTTP_HOST`` when set, else ``SERVER_NAME`` with ``SERVER_PORT``
    unless it is the scheme's default. ``SCRIPT_NAME`` is percent-encoded from its
    latin-1 bytes (PEP 3333 "native strings"); an empty one becomes ``/``.

    Beyond the stdlib: a ``SCRIPT_NAME`` that does not start with ``/`` is read as if
    it did (the stdlib glues it to the host, ``http://hostapp``), and a character
    beyond latin-1 is percent-encoded as its UTF-8 bytes (RFC 3987 section 3.1)
    instead of raising ``UnicodeEncodeError``. The path always starts with ``/``, so
    nothing of ``SCRIPT_NAME`` can join the authority (RFC 3986 section 3.3).
    """
    scheme: str = environ["wsgi.url_scheme"]
    host: str = environ.get("HTTP_HOST") or ""
    if not host:
        host = environ["SERVER_NAME"]
        port = environ["SERVER_PORT"]
        if port != ("443" if scheme == "https" else "80"):
            host += ":" + port
    script_name: str = environ.get("SCRIPT_NAME") or "/"
    if script_name[0] != "/":
        script_name = "/" + script_name
    return scheme + "://" + host + _quote_path(script_name, "/")


def request_uri(environ: WSGIEnvironment, include_query: bool = True) -> str:
    """Return the full request URI: ``application_uri`` plus the quoted ``PATH_INFO``
    and, if *include_query* is true, ``?QUERY_STRING`` when there is one.

    For every ``PATH_INFO`` that is empty or starts with ``/`` the result is the
    stdlib's. Beyond the stdlib, the other values give a URI of the same host, never
    a path glued to the last segment of ``SCRIPT_NAME`` (or to the host):

    * ``*`` (``OPTIONS * HTTP/1.1``, RFC 9112 section 3.2.4) names the server, not a
      resource, and its target URI has an empty path (RFC 9112 section 3.3); it adds
      nothing, so the result is ``application_uri(environ)`` (``http://host/`` when
      ``SCRIPT_NAME`` is empty: the same URI, RFC 9110 section 4.2.3). Tell it from
      ``/`` by ``environ["PATH_INFO"] == "*"``.
    * any other value without a leading ``/`` (``foo``, ``foo/bar``: CGI servers pass
      odd ones) is a path below ``SCRIPT_NAME``, as if it started with ``/``.
    * a character beyond latin-1 is percent-encoded as its UTF-8 bytes, as in
      ``application_uri``.
    """
    url = application_uri(environ)
    path_info: str = environ.get("PATH_INFO", "")
    if path_info and path_info[0] != "/":
        path_info = "" if path_info == "*" else "/" + path_info
    path = _quote_path(path_info, "/;=,")
    url += path if environ.get("SCRIPT_NAME") else path[1:]
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

    For every ``PATH_INFO`` that is empty or starts with ``/`` the result is the
    stdlib's. Beyond the stdlib (which raises ``IndexError`` on the others), the
    same reading as ``request_uri``, so the URI it rebuilds does not change:

    * ``*`` (asterisk-form, RFC 9112 section 3.2.4) has no segment: returns ``None``
      and leaves the environ as it is.
    * any other value without a leading ``/`` is read as if it had one: ``foo/bar``
      returns ``"foo"`` and leaves ``PATH_INFO`` ``/bar``.
    * a non-empty ``SCRIPT_NAME`` without a leading ``/`` gets one.
    """
    path_info: str = environ.get("PATH_INFO", "")
    if not path_info:
        return None
    if path_info[0] != "/":
        if path_info == "*":
            return None
        path_info = "/" + path_info

    parts = path_info.split("/")
    parts[1:-1] = [p for p in parts[1:-1] if p and p != "."]
    name = parts.pop(1)

    script_name: str = environ.get("SCRIPT_NAME", "")
    if script_name and script_name[0] != "/":
        script_name = "/" + script_name
    script_name = posixpath.normpath(script_name + "/" + name).removesuffix("/")
    if not name and not script_name.endswith("/"):
        script_name += "/"

    environ["SCRIPT_NAME"] = script_name
    environ["PATH_INFO"] = "/".join(parts)
    # A trailing "/." is not stripped above (the last segment is kept); report it as
    # no segment at all, as wsgiref does.
    return None if name == "." else name


def _quote_path(path: str, safe: str) -> str:
    return quote(path, safe, encoding="latin-1", errors=_BEYOND_LATIN1)


def _utf8_beyond_latin1(error: UnicodeError) -> tuple[bytes, int]:
    # PEP 3333 environ strings carry latin-1 bytes; a character beyond latin-1 is text
    # that was decoded (or never was bytes): it goes out as its UTF-8 bytes (RFC 3987
    # section 3.1), lone surrogates too. Character by character, so that quoting
    # SCRIPT_NAME and PATH_INFO apart or together gives the same bytes.
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return error.object[error.start : error.end].encode("utf-8", "surrogatepass"), error.end


codecs.register_error(_BEYOND_LATIN1, _utf8_beyond_latin1)


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
