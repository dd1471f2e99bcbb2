"""Hop-by-hop header names (RFC 2616 section 13.5.1, as ``wsgiref.util`` lists them)."""

HOP_BY_HOP_HEADERS: frozenset[str] = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
"""Lower-case names of the headers a WSGI application must not set (PEP 3333)."""

_is_hop_by_hop_lower = HOP_BY_HOP_HEADERS.__contains__


def is_hop_by_hop(header_name: str) -> bool:
    """Return true if *header_name* is an HTTP/1.1 "Hop-by-Hop" header (any case)."""
    return _is_hop_by_hop_lower(header_name.lower())
