"""``CGIHandler`` and ``IISCGIHandler``: run a WSGI application as a CGI script."""

import sys
from collections.abc import MutableMapping

from wsgi_handlers import BaseCGIHandler, BoundedInput, read_environ
from wsgi_util.types import InputStream

from wsgi_cgi._body import body_length


class _BoundedStdinMixin(BaseCGIHandler):
    # wsgi.input ends where the request body ends (wsgi_cgi._body).

    def get_stdin(self) -> InputStream:
        """Return ``stdin`` bounded by the body's length (RFC 3875 section 4.2): empty
        without ``CONTENT_LENGTH``, read to EOF for a chunked body without one."""
        return BoundedInput(self.stdin, body_length(self.environ))

    def setup_environ(self) -> None:
        """Set up the environ; ``wsgi.input_terminated`` only when the body ends at EOF
        (a chunked body passed without ``CONTENT_LENGTH``)."""
        super().setup_environ()
        if body_length(self.environ) is None:
            self.environ["wsgi.input_terminated"] = True


class CGIHandler(_BoundedStdinMixin):
    """CGI-based invocation via ``sys.stdin``/``stdout``/``stderr`` and ``os.environ``.

    Usage::

        CGIHandler().run(app)

    ``wsgi.run_once`` is true, ``wsgi.multithread`` false, ``wsgi.multiprocess``
    true. The environ is ``read_environ()`` (the request's variables as PEP 3333
    "bytes in unicode"); ``os_environ`` is empty so nothing else of the process
    environment leaks into requests. ``wsgi.input`` is ``sys.stdin.buffer``
    bounded by ``CONTENT_LENGTH``; an unset, empty or malformed one is an empty body
    (RFC 3875 section 4.1.2), except that a chunked body passed without one
    (``HTTP_TRANSFER_ENCODING`` lists ``chunked``) is read to EOF with
    ``wsgi.input_terminated`` true. For other streams or settings use
    ``wsgi_handlers.BaseCGIHandler``.
    """

    wsgi_run_once = True
    # Do not let os.environ leak between requests in multi-run CGI setups
    # (bpo-7250).
    os_environ: MutableMapping[str, str] = {}  # noqa: RUF012 - read-only, as in the stdlib

    def __init__(self) -> None:
        BaseCGIHandler.__init__(
            self,
            sys.stdin.buffer,
            sys.stdout.buffer,
            sys.stderr,
            read_environ(),
            multithread=False,
            multiprocess=True,
        )


class IISCGIHandler(_BoundedStdinMixin):
    """``CGIHandler`` with the workaround for the IIS ``PATH_INFO`` bug.

    IIS (without ``allowPathInfo``, IIS 7 and later, or
    ``allowPathInfoForScriptMappings``, before) gives a ``PATH_INFO`` that repeats
    ``SCRIPT_NAME`` at its front; this handler strips the repeat. There is no way
    for a script to tell whether the option is set, hence a separate class.
    """

    wsgi_run_once = True
    os_environ: MutableMapping[str, str] = {}  # noqa: RUF012 - read-only, as in the stdlib

    def __init__(self) -> None:
        environ = read_environ()
        path = environ.get("PATH_INFO", "")
        script = environ.get("SCRIPT_NAME", "")
        if (path + "/").startswith(script + "/"):
            environ["PATH_INFO"] = path[len(script) :]
        BaseCGIHandler.__init__(
            self,
            sys.stdin.buffer,
            sys.stdout.buffer,
            sys.stderr,
            environ,
            multithread=False,
            multiprocess=True,
        )
