"""The gateway base classes of ``wsgiref.handlers``, typed and hardened.

Drop-in names (Python 3.11 signatures and behaviour):

* ``BaseHandler``: runs one WSGI application for one request; subclass it for any
  gateway (override ``_write``, ``_flush``, ``get_stdin``, ``get_stderr``,
  ``add_cgi_vars``).
* ``SimpleHandler(stdin, stdout, stderr, environ, multithread=True,
  multiprocess=False)``: a handler over given streams, for origin servers.
* ``BaseCGIHandler``: the same with ``origin_server = False`` (``Status:`` header).
* ``format_date_time(timestamp)``: an HTTP date, e.g. ``"Thu, 01 Jan 1970 00:00:00 GMT"``.
* ``read_environ()``: ``os.environ`` transcoded for WSGI (also in ``wsgi_cgi``).

Beyond the stdlib:

* ``BoundedInput(stream, length=None)``: a ``wsgi.input`` that reports EOF after
  *length* bytes (``None``: at the end of *stream*); ``read()``, ``read(n)``,
  ``readline(size)``, ``readlines(hint)`` and iteration.
* ``http_version = "1.1"`` on a handler (with ``origin_server`` true): the status
  line says ``HTTP/1.1``; ``HEAD`` requests and 1xx/204/304 responses get no body
  (and no automatic ``Content-Length``; an application's ``Content-Length`` is
  dropped for 1xx/204); a response of unknown length to an ``HTTP/1.1`` request
  (``environ["SERVER_PROTOCOL"]``) is sent with ``Transfer-Encoding: chunked``.
  The default stays ``"1.0"``: the stdlib's bytes.
* ``BaseHandler.close_connection``: after ``run()``, true when the connection
  cannot carry another response (body delimited by closing, length mismatch,
  error after the headers, client gone). It is set while the headers are sent, so
  a server's ``cleanup_headers`` override can read it after calling the base.
* ``start_response`` checks that hold under ``python -O``, before anything is
  stored or written; a client disconnect ends the request quietly (one
  ``logging`` debug line on the ``"wsgi_handlers"`` logger); the application's
  iterable is closed exactly once; ``SimpleHandler.sendfile`` uses ``os.sendfile``.
* ``CLIENT_DISCONNECTS``: the exception types treated as a client that went away.
* ``check_status(status)``, ``check_header(name, value, full=True)`` and
  ``check_response_start(status, headers)``: the checks ``start_response`` makes,
  for a server that runs applications itself.
* ``ResponseWriter``: the response core, sans-IO. It decides the head bytes, the
  framing (``CONTENT_LENGTH``, ``CHUNKED``, ``NO_BODY``, ``CLOSE_DELIMITED``), what
  body bytes may go out, and whether the connection must close afterwards.
  ``BaseHandler`` and ``wsgi_simple_server``'s engine both drive it, so the rules
  are written once: never more body bytes than a declared ``Content-Length``, no
  body for HEAD/1xx/204/304, no ``Content-Length`` on a 204, no 1xx final status,
  ``Connection: close`` whenever the connection ends after the response.
  ``request_keep_alive(version, connection)``, ``sendfile_source(filelike)``
  (``os.sendfile`` only for a plain binary file) and ``sendfile_all(...)`` (the
  ``os.sendfile`` loop) go with it.
"""

from wsgi_handlers._base import CLIENT_DISCONNECTS, BaseHandler
from wsgi_handlers._checks import check_header, check_response_start, check_status
from wsgi_handlers._date import format_date_time
from wsgi_handlers._environ import read_environ
from wsgi_handlers._input import BoundedInput
from wsgi_handlers._response import (
    CHUNKED,
    CLOSE_DELIMITED,
    CONTENT_LENGTH,
    NO_BODY,
    ResponseWriter,
    SendfileUnsupportedError,
    no_content_status,
    request_keep_alive,
    sendfile_all,
    sendfile_source,
)
from wsgi_handlers._simple import BaseCGIHandler, SimpleHandler

__all__ = [
    "CHUNKED",
    "CLIENT_DISCONNECTS",
    "CLOSE_DELIMITED",
    "CONTENT_LENGTH",
    "NO_BODY",
    "BaseCGIHandler",
    "BaseHandler",
    "BoundedInput",
    "ResponseWriter",
    "SendfileUnsupportedError",
    "SimpleHandler",
    "check_header",
    "check_response_start",
    "check_status",
    "format_date_time",
    "no_content_status",
    "read_environ",
    "request_keep_alive",
    "sendfile_all",
    "sendfile_source",
]
