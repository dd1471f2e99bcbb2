"""The CGI handlers of ``wsgiref.handlers``, typed and hardened.

Drop-in names (Python 3.11 signatures and behaviour):

* ``CGIHandler()``: run an application as a CGI script: ``CGIHandler().run(app)``.
* ``IISCGIHandler()``: the same, stripping the ``SCRIPT_NAME`` that IIS repeats at
  the front of ``PATH_INFO``.
* ``read_environ()``: ``os.environ`` with the request's variables transcoded to
  PEP 3333 "bytes in unicode" (the same function as ``wsgi_handlers.read_environ``).

Beyond the stdlib, ``wsgi.input`` is bounded by ``CONTENT_LENGTH``; an unset, empty
or malformed one is an empty body (RFC 3875 section 4.1.2), so ``read()`` never
waits on a stdin that does not end (``python -m http.server --cgi`` hands the script
the client's socket). Only a chunked body passed without a length
(``HTTP_TRANSFER_ENCODING`` lists ``chunked``, as Apache does) is read to EOF, with
``wsgi.input_terminated`` true. The checks of
``wsgi_handlers.BaseHandler`` apply: nothing malformed reaches the web server.
"""

from wsgi_handlers import read_environ

from wsgi_cgi._handlers import CGIHandler, IISCGIHandler

__all__ = ["CGIHandler", "IISCGIHandler", "read_environ"]
