"""``wsgiref.simple_server``, and a strict, fast HTTP/1.1 WSGI server.

This first part holds the sans-IO request parser (``parse_head``, ``find_head_end``,
``Request``, ``ParseError``) and the server's settings (``ServerConfig``).
"""

from wsgi_simple_server._config import DEFAULT_CONFIG, ServerConfig
from wsgi_simple_server._parser import ParseError, Request, find_head_end, parse_head

__all__ = [
    "DEFAULT_CONFIG",
    "ParseError",
    "Request",
    "ServerConfig",
    "find_head_end",
    "parse_head",
]
