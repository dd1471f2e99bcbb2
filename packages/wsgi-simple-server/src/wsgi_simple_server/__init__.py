"""``wsgiref.simple_server``, and a strict, fast HTTP/1.1 WSGI server.

Drop-in names (Python 3.11 behaviour): ``make_server``, ``WSGIServer``,
``WSGIRequestHandler``, ``ServerHandler``, ``demo_app``, ``server_version``,
``sys_version``, ``software_version``. Beyond the standard library: ``ServerConfig``
(limits, timeouts, pool size), the sans-IO request parser (``parse_head``,
``find_head_end``, ``Request``, ``ParseError``), listening sockets of every kind
(``WSGIServer.add_listener``/``from_listeners``, ``open_listener``, ``parse_bind``,
``adopt_socket``, ``systemd_listeners``), behind a proxy (``TrustedPeers``,
``apply_forwarded``, the sans-IO PROXY protocol parser ``parse_proxy_header``,
``ProxyHeader``, ``ProxyProtocolError``) and ``python -m wsgi_simple_server``.
"""

from wsgi_simple_server._config import DEFAULT_CONFIG, ServerConfig
from wsgi_simple_server._demo import demo_app
from wsgi_simple_server._listeners import (
    BindAddress,
    adopt_socket,
    open_listener,
    parse_bind,
    systemd_listeners,
)
from wsgi_simple_server._parser import ParseError, Request, find_head_end, parse_head
from wsgi_simple_server._proxy import (
    ProxyHeader,
    ProxyProtocolError,
    TrustedPeers,
    apply_forwarded,
    parse_proxy_header,
)
from wsgi_simple_server._server import (
    ServerHandler,
    WSGIRequestHandler,
    WSGIServer,
    make_server,
    server_version,
    software_version,
    sys_version,
)

__all__ = [
    "DEFAULT_CONFIG",
    "BindAddress",
    "ParseError",
    "ProxyHeader",
    "ProxyProtocolError",
    "Request",
    "ServerConfig",
    "ServerHandler",
    "TrustedPeers",
    "WSGIRequestHandler",
    "WSGIServer",
    "adopt_socket",
    "apply_forwarded",
    "demo_app",
    "find_head_end",
    "make_server",
    "open_listener",
    "parse_bind",
    "parse_head",
    "parse_proxy_header",
    "server_version",
    "software_version",
    "sys_version",
    "systemd_listeners",
]
