"""The access log: the standard library's line format, through ``logging``.

``wsgiref.simple_server`` writes ``host - - [date] "request line" status size`` to
``sys.stderr``. Here the same line goes to the ``wsgi_simple_server.access`` logger,
which by default has one handler writing it to whatever ``sys.stderr`` is at the time
(so redirecting ``sys.stderr`` works as before) and does not propagate. Replace its
handlers, or set ``propagate``, to send the lines elsewhere.

Errors of applications go to the ``wsgi_simple_server.error`` logger, set up the same
way: by default each message and its traceback is written to the current
``sys.stderr``, where ``wsgiref`` prints the traceback.
"""

from __future__ import annotations

import itertools
import logging
import sys
import time

access_logger = logging.getLogger("wsgi_simple_server.access")
error_logger = logging.getLogger("wsgi_simple_server.error")

_MONTHS = (None, "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# As http.server escapes them: control characters shown as \xNN, backslashes doubled.
_CONTROL_CHARS = str.maketrans(
    {c: rf"\x{c:02x}" for c in itertools.chain(range(0x20), range(0x7F, 0xA0))}
)
_CONTROL_CHARS[ord("\\")] = r"\\"


class _StderrHandler(logging.Handler):
    """Write each message (and its traceback), then a newline, to the current ``sys.stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


for _logger in (access_logger, error_logger):
    if not _logger.handlers:
        _logger.addHandler(_StderrHandler())
        _logger.setLevel(logging.INFO)
        _logger.propagate = False

# The access logger as this module set it up: one _StderrHandler, no filter, no
# formatter. Then a line can be written as the handler would write it without making
# a LogRecord (the same bytes, at a third of the cost); any other set-up goes
# through logging.
_DEFAULT_ACCESS_HANDLERS = list(access_logger.handlers)

_cached_second = -1
_cached_stamp = ""


def log_date_time_string() -> str:
    """Return the local time as ``BaseHTTPRequestHandler.log_date_time_string`` does."""
    global _cached_second, _cached_stamp  # noqa: PLW0603 - a one-second cache
    now = int(time.time())
    if now != _cached_second:
        year, month, day, hh, mm, ss, *_ = time.localtime(now)
        _cached_stamp = f"{day:02d}/{_MONTHS[month]}/{year:04d} {hh:02d}:{mm:02d}:{ss:02d}"
        _cached_second = now
    return _cached_stamp


def _default_setup(logger: logging.Logger) -> _StderrHandler | None:
    # The handler to write through directly, if the logger is still as set up here.
    handlers = logger.handlers
    if handlers != _DEFAULT_ACCESS_HANDLERS or logger.filters or logger.disabled:
        return None
    handler = handlers[0]
    if (
        type(handler) is not _StderrHandler
        or handler.filters
        or handler.formatter is not None
        or handler.level > logging.INFO
    ):
        return None
    return handler


def log_access(host: str, message: str) -> None:
    """Log *message* for a client at *host*, prefixed as the standard library does."""
    if not access_logger.isEnabledFor(logging.INFO):
        return
    if not message.isprintable() or "\\" in message:
        message = message.translate(_CONTROL_CHARS)
    handler = _default_setup(access_logger)
    if handler is None:
        access_logger.info("%s - - [%s] %s", host, log_date_time_string(), message)
        return
    line = f"{host} - - [{log_date_time_string()}] {message}\n"
    with handler.lock:  # type: ignore[union-attr]
        try:
            sys.stderr.write(line)
        except Exception:  # as the handler does: report, never fail the request
            handler.handleError(
                logging.LogRecord(access_logger.name, logging.INFO, "", 0, line, None, None)
            )
