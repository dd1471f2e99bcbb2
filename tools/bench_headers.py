"""Headers: a realistic response-header workload, ours against ``wsgiref.headers``.

The workload is what a handler and a typical app do per response: wrap the app's
list, look up Content-Length/Date/Server, set defaults, add a cookie and a
content-disposition with parameters, then serialise to bytes.
"""

import wsgiref.headers

import wsgi_headers
from _timing import print_ratio_table

_APP_HEADERS = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
    ("Set-Cookie", "session=abc123; Path=/; HttpOnly"),
]


def _workload(headers_class: type[wsgiref.headers.Headers] | type[wsgi_headers.Headers]) -> None:
    h = headers_class(list(_APP_HEADERS))
    h.get("Content-Length")
    h.setdefault("Date", "Wed, 25 Nov 2026 14:00:00 GMT")
    h.setdefault("Server", "WSGIServer/0.2")
    h["Content-Length"] = "1234"
    h.add_header("Set-Cookie", "theme=dark")
    h.add_header("Content-Disposition", "attachment", filename="report.pdf")
    "content-type" in h  # noqa: B015
    bytes(h)


def main() -> None:
    """Print the per-call times and the ratio ours/stdlib for each case."""
    pairs = list(_APP_HEADERS)
    print_ratio_table(
        "Headers (goal: ratio <= 1.0)",
        [
            (
                "response workload",
                lambda: _workload(wsgi_headers.Headers),
                lambda: _workload(wsgiref.headers.Headers),
            ),
            (
                "construct from 4 pairs",
                lambda: wsgi_headers.Headers(list(pairs)),
                lambda: wsgiref.headers.Headers(list(pairs)),
            ),
            (
                "bytes() of 6 headers",
                wsgi_headers.Headers([*pairs, ("A", "1"), ("B", "2")]).__bytes__,
                wsgiref.headers.Headers([*pairs, ("A", "1"), ("B", "2")]).__bytes__,
            ),
            (
                "__setitem__",
                lambda: wsgi_headers.Headers(list(pairs)).__setitem__("X-A", "1"),
                lambda: wsgiref.headers.Headers(list(pairs)).__setitem__("X-A", "1"),
            ),
        ],
        number=20000,
    )


if __name__ == "__main__":
    main()
