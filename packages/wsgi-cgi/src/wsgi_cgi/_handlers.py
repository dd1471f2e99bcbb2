"""``CGIHandler`` and ``IISCGIHandler``: run a WSGI application as a CGI script."""

import sys
from typing import Any

from wsgi_handlers import BaseCGIHandler, BoundedInput, read_environ
from wsgi_util.types import InputStream


def _content_length(environ: dict[str, Any]) -> int | None:
    # RFC 3875 section 4.1.2: CONTENT_LENGTH is the body's size, or NULL (unset or
    # empty) when there is no length; a web server that forwards a chunked request
    # body (Apache) leaves it unset and closes stdin after the body.
    value = environ.get("CONTENT_LENGTH", "")
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return int(value)
    return 0  # malformed: read nothing rather than guess (section 4.1.2: MUST NOT over-read)


class _BoundedStdinMixin(BaseCGIHandler):
    # wsgi.input ends where the request body ends.

    def get_stdin(self) -> InputStream:
        """Return ``stdin`` bounded by ``CONTENT_LENGTH``, or read to EOF without one."""
        return BoundedInput(self.stdin, _content_length(self.environ))

    def setup_environ(self) -> None:
        """Set up the environ; ``wsgi.input_terminated`` when there is no length."""
        super().setup_environ()
        if _content_length(self.environ) is None:
            self.environ["wsgi.input_terminated"] = True


class CGIHandler(_BoundedStdinMixin):
    """CGI-based invocation via ``sys.stdin``/``stdout``/``stderr`` and ``os.environ``.

    Usage::

        CGIHandler().run(app)

    ``wsgi.run_once`` is true, ``wsgi.multithread`` false, ``wsgi.multiprocess``
    true. The environ is ``read_environ()`` (the request's variables as PEP 3333
    "bytes in unicode"); ``os_environ`` is empty so nothing else of the process
    environment leaks into requests. ``wsgi.input`` is ``sys.stdin.buffer``
    bounded by ``CONTENT_LENGTH``; without one it reads to EOF and
    ``wsgi.input_terminated`` is true. For other streams or settings use
    ``wsgi_handlers.BaseCGIHandler``.
    """

    wsgi_run_once = True
    # Do not let os.environ leak between requests in multi-run CGI setups
    # (bpo-7250).
    os_environ: dict[str, Any] = {}  # noqa: RUF012 - read-only, as in the stdlib

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
    os_environ: dict[str, Any] = {}  # noqa: RUF012 - read-only, as in the stdlib

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
