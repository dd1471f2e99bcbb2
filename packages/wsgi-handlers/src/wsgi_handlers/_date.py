"""HTTP dates (RFC 9110 section 5.6.7, IMF-fixdate), as ``wsgiref.handlers`` formats them."""

import time

# Always English, whatever the locale.
_WEEKDAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH = (None, "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_date_time(timestamp: float | None) -> str:
    """Return *timestamp* (seconds since the epoch) as an HTTP date.

    Example: ``format_date_time(0) == "Thu, 01 Jan 1970 00:00:00 GMT"``. As with
    ``time.gmtime``, ``None`` means now.
    """
    year, month, day, hh, mm, ss, wd, _, _ = time.gmtime(timestamp)
    return "%s, %02d %3s %4d %02d:%02d:%02d GMT" % (  # noqa: UP031 - the stdlib's exact format
        _WEEKDAY[wd],
        day,
        _MONTH[month],
        year,
        hh,
        mm,
        ss,
    )


# One formatted ``Date`` line per second: the same text as formatting it every time.
_cached_date_line: tuple[int, str] = (-1, "")


def date_line_now_str() -> str:
    """Return ``"Date: <now>\\r\\n"``, formatted at most once per second."""
    global _cached_date_line  # noqa: PLW0603 - a one-entry cache, replaced atomically
    now = int(time.time())
    cached = _cached_date_line
    if cached[0] == now:
        return cached[1]
    line = f"Date: {format_date_time(now)}\r\n"
    _cached_date_line = (now, line)
    return line
