"""The CGI handlers of ``wsgiref.handlers``, typed and hardened.

Drop-in names (Python 3.11 signatures and behaviour):

* ``CGIHandler()``: run an application as a CGI script: ``CGIHandler().run(app)``.
* ``IISCGIHandler()``: the same, stripping the ``SCRIPT_NAME`` that IIS repeats at
  the front of ``PATH_INFO``.
* ``read_environ()``: ``os.environ`` with the request's variables transcoded to
  PEP 3333 "bytes in unicode" (the same function as ``wsgi_handlers.read_environ``).

Beyond the stdlib, ``wsgi.input`` is bounded by ``CONTENT_LENGTH``; when the web
server passes a body without one (Apache does for a chunked request), the input is
read to EOF and ``wsgi.input_terminated`` is true. The checks of
``wsgi_handlers.BaseHandler`` apply: nothing malformed reaches the web server.
"""

from wsgi_handlers import read_environ

from wsgi_cgi._handlers import CGIHandler, IISCGIHandler

__all__ = ["CGIHandler", "IISCGIHandler", "read_environ"]
