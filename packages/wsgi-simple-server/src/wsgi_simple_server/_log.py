"""The access log: one line per request, through ``logging``, written in batches.

``wsgiref.simple_server`` writes ``host - - [date] "request line" status size`` to
``sys.stderr``. Here the same line goes to the ``wsgi_simple_server.access`` logger,
which by default has one handler writing it to whatever ``sys.stderr`` is at the time
(so redirecting ``sys.stderr`` works as before) and does not propagate. Replace its
handlers, or set ``propagate``, to send the lines elsewhere.

The line can instead follow a format made of gunicorn's atoms
(``ServerConfig.access_log_format``, gunicorn's ``access_log_format``: ``%(h)s``,
``%(r)s``, ``%(D)s``, ``%({x-request-id}i)s``...; see ``AccessAtoms``). Whatever the
format, a record sent through ``logging`` carries the request's fields as attributes
(``remote_addr``, ``request_line``, ``method``, ``path``, ``query``, ``protocol``,
``status``, ``response_length``, ``duration_s``, ``user_agent``, ``referer``,
``request_id``, ``remote_user`` and ``atoms``), for a structured (JSON) formatter.

While the logger is as this module sets it up, no ``LogRecord`` is made: each line is
appended to a buffer that a running server writes to ``sys.stderr`` in one ``write``
per batch, before its event loop waits, at least every tenth of a second from its
time-keeping thread, and when it stops. Lines keep their order; a message on the
``wsgi_simple_server.error`` logger writes the pending lines first, so a traceback
comes after the lines of the requests before it. With no server running the line is
written at once, as ``http.server`` does.

Errors of applications go to the ``wsgi_simple_server.error`` logger, set up the same
way: by default each message and its traceback is written to the current
``sys.stderr``, where ``wsgiref`` prints the traceback.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import itertools
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

access_logger = logging.getLogger("wsgi_simple_server.access")
error_logger = logging.getLogger("wsgi_simple_server.error")

_INFO = logging.INFO
_MONTHS = (None, "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# As http.server escapes them: control characters shown as \xNN, backslashes doubled.
_CONTROL_CHARS = str.maketrans(
    {c: rf"\x{c:02x}" for c in itertools.chain(range(0x20), range(0x7F, 0xA0))}
)
_CONTROL_CHARS[ord("\\")] = r"\\"
# In a line made from a format, as Apache's mod_log_config writes a field: the above,
# and '"' as '\"', so that a quoted field stays one field.
_QUOTED_CHARS = {**_CONTROL_CHARS, ord('"'): r"\""}
# Most lines waiting for a flush (a bound on memory, not the usual batch).
_MAX_PENDING = 256


def _escape(text: str) -> str:
    """*text* as ``http.server``'s ``log_message`` writes it."""
    if text.isprintable() and "\\" not in text:
        return text
    return text.translate(_CONTROL_CHARS)


def _quote(text: str) -> str:
    """*text* as a field of a line made from an access log format."""
    if text.isprintable() and "\\" not in text and '"' not in text:
        return text
    return text.translate(_QUOTED_CHARS)


class _StderrHandler(logging.Handler):
    """Write each message (and its traceback), then a newline, to the current ``sys.stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            access_lines.flush()  # the access lines of the requests before this message
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_created = not access_logger.handlers
for _logger in (access_logger, error_logger):
    if not _logger.handlers:
        _logger.addHandler(_StderrHandler())
        _logger.setLevel(logging.INFO)
        _logger.propagate = False

# The access logger's handler as this module set it up, and the logger's handler list
# as it is then (a list that nothing else equals if the logger had handlers already).
_DEFAULT_HANDLER = access_logger.handlers[0]
_DIRECT_HANDLERS: list[object] = [_DEFAULT_HANDLER if _created else object()]


def direct() -> bool:
    """Whether the access logger is as this module set it up: one ``_StderrHandler``,
    no filter, no formatter. Then a line is written as the handler would write it,
    without a ``LogRecord``; any other set-up goes through ``logging``."""
    handler = _DEFAULT_HANDLER
    return (
        access_logger.handlers == _DIRECT_HANDLERS
        and not access_logger.filters
        and not handler.filters
        and handler.formatter is None
        and handler.level <= _INFO
    )


class PendingLines:
    """Access log lines on their way to ``sys.stderr``, written in batches.

    A running server ``hold()``s the buffer: lines wait for its ``flush()`` (before its
    event loop waits, from its time keeper, at its stop). With no holder each line is
    written at once. Appends are atomic, and a flush takes the lines from the front
    and writes them under the handler's lock, so no line is lost or reordered.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.holders = 0
        self._holders_lock = threading.Lock()

    def add(self, line: str) -> None:
        """Write *line* (ending with a newline) now, or with the next batch."""
        lines = self.lines
        lines.append(line)
        if not self.holders or len(lines) >= _MAX_PENDING:
            self.flush()

    def flush(self) -> None:
        """Write the pending lines to the current ``sys.stderr``, in one ``write``."""
        lines = self.lines
        if not lines:
            return
        handler = _DEFAULT_HANDLER
        with handler.lock:  # type: ignore[union-attr]
            count = len(lines)
            if not count:
                return
            text = "".join(lines[:count])
            del lines[:count]  # lines appended meanwhile are after these
            try:
                sys.stderr.write(text)
            except Exception:  # as the handler does: report, never fail the request
                handler.handleError(
                    logging.LogRecord(access_logger.name, _INFO, "", 0, text, None, None)
                )

    def hold(self) -> None:
        """Let lines wait for ``flush()`` (a server starts)."""
        with self._holders_lock:
            self.holders += 1

    def release(self) -> None:
        """Undo one ``hold()`` and write what is pending (a server stops)."""
        with self._holders_lock:
            self.holders -= 1
        self.flush()


access_lines = PendingLines()
# A server left running in a daemon thread when the interpreter exits: its last lines too.
atexit.register(access_lines.flush)

# (second, the standard library's date, the Common Log Format's date, the middle of
# the standard library's line ' - - [date] "'): a one-second cache, replaced whole so
# that threads read a consistent tuple.
_Dates = tuple[float, str, str, str]
_dates: _Dates = (-2.0, "", "", "")
_time = time.time


def _dates_now() -> _Dates:
    dates = _dates
    if 0.0 <= _time() - dates[0] < 1.0:
        return dates
    return _new_dates()


def _new_dates() -> _Dates:
    global _dates  # noqa: PLW0603 - a one-second cache
    now = int(_time())
    local = time.localtime(now)
    year, month, day, hh, mm, ss = local[:6]
    stamp = f"{day:02d}/{_MONTHS[month]}/{year:04d}"
    offset = local.tm_gmtoff // 60
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    stdlib = f"{stamp} {hh:02d}:{mm:02d}:{ss:02d}"
    dates = _dates = (
        float(now),
        stdlib,
        f"[{stamp}:{hh:02d}:{mm:02d}:{ss:02d} {sign}{offset // 60:02d}{offset % 60:02d}]",
        f' - - [{stdlib}] "',
    )
    return dates


def log_access(host: str, message: str) -> None:
    """Log *message* for a client at *host*, prefixed as the standard library does.

    For the messages of ``http.server``'s hooks (``log_message``): the record carries
    ``remote_addr`` only. Requests the server logs itself go through ``AccessLog``.
    """
    if not access_logger.isEnabledFor(_INFO):
        return
    _emit(f"{host} - - [{_dates_now()[1]}] {_escape(message)}", lambda: {"remote_addr": host})


def _emit(line: str, fields: Callable[[], Mapping[str, object]]) -> None:
    """Write access log *line*: batched to ``sys.stderr`` when the logger is as set up
    here (``direct()``), else as a ``LogRecord`` carrying *fields()* as attributes
    (the lines batched before it written first, so the order holds)."""
    if direct():
        access_lines.add(line + "\n")
        return
    access_lines.flush()
    access_logger.handle(
        access_logger.makeRecord(
            access_logger.name, _INFO, __file__, 0, line, (), None, extra=fields()
        )
    )


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """What the access log knows of one request and its response.

    ``environ`` is the request's WSGI environ as the application left it (gunicorn
    reads its atoms from it too); for a request refused before it had one, a dict
    with what is known (``REMOTE_ADDR``, ``REQUEST_METHOD``, ``SERVER_PROTOCOL``...).
    ``status`` is the status code as sent (``"200"``), ``response_length`` the body
    bytes sent (None: not counted, ``-`` in the line), ``duration_s`` the seconds
    from the parsed request to the end of its response (None: not measured).
    Header names are as received or as the application gave them.
    """

    remote_addr: str
    request_line: str
    status: str
    response_length: int | None
    duration_s: float | None
    environ: Mapping[str, object]
    request_headers: Sequence[tuple[str, str]] = ()
    response_headers: Sequence[tuple[str, str]] = ()

    def fields(self) -> dict[str, object]:
        """The attributes a ``LogRecord`` of this request gets (JSON-friendly values).

        ``status`` is an int (None if not a number), the header-derived fields are
        None when the request had no such field.
        """
        environ = self.environ
        return {
            "remote_addr": self.remote_addr,
            "remote_user": _remote_user(environ),
            "request_line": self.request_line,
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING"),
            "protocol": environ.get("SERVER_PROTOCOL"),
            "status": int(self.status) if self.status.isdigit() else None,
            "response_length": self.response_length,
            "duration_s": self.duration_s,
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "referer": environ.get("HTTP_REFERER"),
            "request_id": environ.get("HTTP_X_REQUEST_ID"),
            "atoms": AccessAtoms(self),
        }


def _remote_user(environ: Mapping[str, object]) -> str | None:
    """The user name of HTTP Basic authentication (RFC 7617), as gunicorn finds it."""
    auth = environ.get("HTTP_AUTHORIZATION")
    if not isinstance(auth, str) or auth[:6].lower() != "basic ":
        return None
    try:
        return base64.b64decode(auth[6:].strip(), validate=True).split(b":", 1)[0].decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def _fixed_atoms(entry: AccessEntry) -> dict[str, object]:
    """gunicorn's atoms that do not name a header or a variable (``glogging.atoms``)."""
    environ = entry.environ
    size = entry.response_length
    atoms: dict[str, object] = {
        "h": entry.remote_addr,
        "l": "-",
        "u": _remote_user(environ) or "-",
        "t": _dates_now()[2],
        "r": entry.request_line,
        "s": entry.status,
        "m": environ.get("REQUEST_METHOD", "-"),
        "U": environ.get("PATH_INFO", "-"),
        "q": environ.get("QUERY_STRING", "-"),
        "H": environ.get("SERVER_PROTOCOL", "-"),
        "b": "-" if size is None else str(size),
        "B": "-" if size is None else size,
        "f": environ.get("HTTP_REFERER", "-"),
        "a": environ.get("HTTP_USER_AGENT", "-"),
        "p": f"<{os.getpid()}>",
    }
    if entry.duration_s is None:
        atoms.update(T="-", D="-", M="-", L="-")
    else:
        micros = int(entry.duration_s * 1_000_000)
        seconds, fraction = divmod(micros, 1_000_000)
        atoms.update(T=seconds, D=micros, M=micros // 1000, L=f"{seconds}.{fraction:06d}")
    return atoms


def _keyed_atoms(entry: AccessEntry) -> dict[str, object]:
    """gunicorn's ``{name}i`` (request header), ``{name}o`` (response header) and
    ``{name}e`` (environ variable) atoms, names lowercased. A repeated field's
    values are joined with ``", "`` (RFC 9110 section 5.3)."""
    atoms: dict[str, object] = {}
    for suffix, headers in (("}i", entry.request_headers), ("}o", entry.response_headers)):
        for name, value in headers:
            key = "{" + name.lower() + suffix
            previous = atoms.get(key)
            atoms[key] = value if previous is None else f"{previous}, {value}"
    for name, variable in entry.environ.items():
        atoms["{" + name.lower() + "}e"] = variable
    return atoms


class AccessAtoms(dict[str, object]):
    """gunicorn's access log atoms of one request, by gunicorn's names.

    ``h`` remote address, ``l`` ``-``, ``u`` Basic-auth user, ``t`` date
    (``[30/Nov/2026:16:00:00 +0000]``), ``r`` request line, ``m`` method, ``U`` path
    (``PATH_INFO``), ``q`` query, ``H`` protocol, ``s`` status, ``B`` body bytes,
    ``b`` body bytes or ``-``, ``f`` referer, ``a`` user agent, ``T`` seconds, ``M``
    milliseconds, ``D`` microseconds, ``L`` decimal seconds, ``p`` ``<pid>``. Those are
    the dict's items. ``{name}i``, ``{name}o`` and ``{name}e`` (request header,
    response header, environ variable; any case) are looked up on demand and are not
    items, so that serialising the dict does not copy every header and the environ
    into the log. An unknown name gives ``-``, as gunicorn's ``SafeAtoms`` does.
    """

    __slots__ = ("_entry", "_keyed")

    def __init__(self, entry: AccessEntry) -> None:
        super().__init__(_fixed_atoms(entry))
        self._entry = entry
        self._keyed: dict[str, object] | None = None

    def __missing__(self, key: str) -> object:
        if key[:1] != "{":
            return "-"
        keyed = self._keyed
        if keyed is None:
            keyed = self._keyed = _keyed_atoms(self._entry)
        return keyed.get(key.lower(), "-")


def access_atoms(entry: AccessEntry) -> dict[str, object]:
    """Every atom of *entry* as one plain dict, as gunicorn's ``Logger.atoms`` returns
    it: the fixed atoms of ``AccessAtoms`` and a ``{name}i``/``{name}o``/``{name}e``
    key (lowercased) for each header and environ variable."""
    return {**_fixed_atoms(entry), **_keyed_atoms(entry)}


class _Quoted:
    """The atoms as a line made from a format shows them (strings escaped)."""

    __slots__ = ("_atoms",)

    def __init__(self, atoms: Mapping[str, object]) -> None:
        self._atoms = atoms

    def __getitem__(self, key: str) -> object:
        value = self._atoms[key]
        return _quote(value) if isinstance(value, str) else value


# One %-conversion of a format: its mapping key and its conversion character.
_CONVERSION = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conv>.?)"
)
_SAMPLE = AccessEntry(
    "127.0.0.1",
    "GET /?q=1 HTTP/1.1",
    "200",
    13,
    0.001,
    {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": "q=1"},
    (("Host", "example"),),
    (("Content-Type", "text/plain"),),
)


def check_access_log_format(fmt: str) -> None:
    """Raise ``ValueError`` unless *fmt* is a %-format of named atoms (gunicorn's
    ``access_log_format``) that formats a sample request."""
    if not isinstance(fmt, str):
        raise ValueError(f"access_log_format must be a str or None, got {fmt!r}")
    for match in _CONVERSION.finditer(fmt):
        if match["conv"] != "%" and match["key"] is None:
            raise ValueError(
                f"access_log_format {fmt!r}: {match[0]!r} names no atom (write %(h)s...)"
            )
    try:
        fmt % _Quoted(AccessAtoms(_SAMPLE))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"access_log_format {fmt!r}: {exc}") from None


class EntrySource(Protocol):
    """What can describe its request to the access log (the server's exchange)."""

    def access_entry(self, remote_addr: str, status: str) -> AccessEntry: ...


class AccessLog:
    """One server's access log: its line format (None: the standard library's line)."""

    __slots__ = ("_failed", "format")

    def __init__(self, fmt: str | None = None) -> None:
        self.format = fmt
        self._failed = False  # the format failed once (said once on the error log)

    def request(
        self, remote_addr: str, request_line: str, status: str, size: int, source: EntrySource
    ) -> None:
        """Log a request the server served. The arguments make the default line;
        *source* is asked for the whole ``AccessEntry`` only when more is needed (a
        format, or a set-up of the logger other than this module's).

        This runs once a request: the line is appended to the pending ones without
        ``PendingLines.add``'s call.
        """
        if not access_logger.isEnabledFor(_INFO):
            return
        if self.format is None and direct():
            pending = access_lines
            lines = pending.lines
            lines.append(_default_line(remote_addr, request_line, status, size))
            if not pending.holders or len(lines) >= _MAX_PENDING:
                pending.flush()
        else:
            self.entry(source.access_entry(remote_addr, status))

    def entry(self, entry: AccessEntry) -> None:
        """Log the request *entry* describes."""
        if not access_logger.isEnabledFor(_INFO):
            return
        _emit(self.line(entry), entry.fields)

    def line(self, entry: AccessEntry) -> str:
        """The line of *entry*, without its newline."""
        fmt = self.format
        if fmt is not None:
            try:
                return fmt % _Quoted(AccessAtoms(entry))
            except (TypeError, ValueError):
                # A value of the wrong type for its conversion (%(D)d of "-"): the
                # standard library's line instead, and the reason on the error log once.
                if not self._failed:
                    self._failed = True
                    error_logger.exception(
                        "access_log_format %r failed; the default line is logged instead", fmt
                    )
        size = entry.response_length
        return _default_line(
            entry.remote_addr, entry.request_line, entry.status, "-" if size is None else size
        )[:-1]


def _default_line(host: str, request_line: str, status: str, size: object) -> str:
    """``BaseHTTPRequestHandler.log_request``'s line, with its newline."""
    dates = _dates
    if not 0.0 <= _time() - dates[0] < 1.0:
        dates = _new_dates()
    if not request_line.isprintable() or "\\" in request_line:
        request_line = request_line.translate(_CONTROL_CHARS)
    return f'{host}{dates[3]}{request_line}" {status} {size}\n'
