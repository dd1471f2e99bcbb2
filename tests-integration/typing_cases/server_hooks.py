"""``WSGIServer`` and ``WSGIRequestHandler`` subclasses and ``make_server``, written
against typeshed's ``wsgiref`` stubs (the test also checks them against ``wsgiref``)."""

import io
import sys
from typing import Any

from wsgi_simple_server import (
    ServerHandler,
    WSGIRequestHandler,
    WSGIServer,
    demo_app,
    make_server,
    server_version,
    software_version,
    sys_version,
)
from wsgi_util import setup_testing_defaults
from wsgi_util.types import ErrorStream, StartResponse, WSGIApplication, WSGIEnvironment


class CountingServer(WSGIServer):
    """A server with an attribute of its own, read back from make_server's result."""

    requests_seen: int = 0

    def setup_environ(self) -> None:
        super().setup_environ()
        self.base_environ["SERVER_NAME"] = "counting.example"

    def get_app(self) -> WSGIApplication | None:
        self.requests_seen += 1
        return super().get_app()

    def set_app(self, application: WSGIApplication | None) -> None:
        super().set_app(application)


class QuietHandler(WSGIRequestHandler):
    """A request handler that overrides the hooks of the standard library."""

    server_version: str = "Quiet/1.0"

    def get_environ(self) -> WSGIEnvironment:
        environ = super().get_environ()
        environ["HTTP_X_QUIET"] = "1"
        return environ

    def get_stderr(self) -> ErrorStream:
        return io.StringIO()

    def handle(self) -> None:
        super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        super().log_request(code, size)


class NamedServerHandler(ServerHandler):
    server_software: str = "Named/1.0"


def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def servers() -> int:
    by_keyword = make_server("127.0.0.1", 0, app, server_class=CountingServer)
    by_position = make_server("127.0.0.1", 0, app, CountingServer, QuietHandler)
    plain: WSGIServer = make_server("127.0.0.1", 0, demo_app, handler_class=QuietHandler)
    application: WSGIApplication | None = plain.get_app()
    base: WSGIEnvironment = plain.base_environ
    del application, base
    for server in (by_keyword, by_position, plain):
        server.server_close()
    return by_keyword.requests_seen + by_position.requests_seen


def demo() -> list[bytes]:
    environ: WSGIEnvironment = {}
    setup_testing_defaults(environ)
    body = demo_app(environ, lambda status, headers, exc_info=None: lambda data: None)
    first: bytes = body[0]  # a list, as typeshed says
    versions: list[str] = [server_version, sys_version, software_version]
    del versions
    return [first]
