"""``read_environ``: the CGI environment as PEP 3333 "bytes in unicode" strings."""

import os
import sys

_REQUEST_VARIABLES = frozenset(
    {
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "REQUEST_METHOD",
        "AUTH_TYPE",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTPS",
        "REMOTE_USER",
        "REMOTE_IDENT",
    }
)


def _needs_transcode(name: str) -> bool:
    # Variables carrying bytes of the request; REDIRECT_ prefixes nest (Apache).
    while name.startswith("REDIRECT_"):
        name = name[9:]
    return name in _REQUEST_VARIABLES or name.startswith(("HTTP_", "SSL_"))


def _error_handler() -> str:
    try:
        "".encode("utf-8", "surrogateescape")
    except LookupError:  # pragma: no cover - every CPython 3 has it
        return "replace"
    return "surrogateescape"


def _windows_transcode(value: str, software: str, encoding: str) -> str:
    # On Windows the environment is natively Unicode; each web server decoded the
    # request's bytes its own way.
    if software.startswith("microsoft-iis/"):
        # IIS decodes as UTF-8 when the bytes are valid UTF-8 (the likely case).
        return value.encode("utf-8").decode("iso-8859-1")
    if software.startswith("apache/"):
        # Apache mod_cgi writes the bytes as if ISO-8859-1: nothing to undo.
        return value
    if software.startswith("simplehttp/") and "python/3" in software:
        # http.server's CGIHTTPRequestHandler unquotes as UTF-8.
        return value.encode("utf-8").decode("iso-8859-1")
    # Others: assume the bytes went through the system code page.
    return value.encode(encoding, "replace").decode("iso-8859-1")


def read_environ() -> dict[str, str]:
    """Return ``os.environ`` with the request variables transcoded for WSGI.

    The variables that come from the HTTP request (``PATH_INFO``, ``QUERY_STRING``,
    ``HTTP_*``, ``SSL_*``, ... and their ``REDIRECT_`` forms) are turned back into
    the request's bytes, then decoded as ISO-8859-1, as PEP 3333 wants; the others
    are copied as they are. The rules are Python 3.11's ``wsgiref.handlers``, with
    its branches for IIS, Apache and Python's own CGI server on Windows.
    """
    encoding = sys.getfilesystemencoding()
    errors = _error_handler()
    environ = {}
    windows = sys.platform == "win32"
    software = os.environ.get("SERVER_SOFTWARE", "").lower() if windows else ""
    for name, value in os.environ.items():
        if not _needs_transcode(name):
            environ[name] = value
        elif windows:
            environ[name] = _windows_transcode(value, software, encoding)
        else:
            environ[name] = value.encode(encoding, errors).decode("iso-8859-1")
    return environ
