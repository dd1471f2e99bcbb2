"""A gateway of its own on ``BaseHandler``, written against typeshed's ``wsgiref`` stubs.

Every documented hook and attribute is overridden with typeshed's types; the test
type-checks this file with its imports swapped back to ``wsgiref`` too.
"""

import io
from collections.abc import Callable, MutableMapping
from types import TracebackType

from wsgi_handlers import BaseCGIHandler, BaseHandler, SimpleHandler, format_date_time
from wsgi_headers import Headers
from wsgi_util import FileWrapper
from wsgi_util.types import (
    ErrorStream,
    InputStream,
    StartResponse,
    WSGIApplication,
    WSGIEnvironment,
)

OptExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]


class GatewayHeaders(Headers):
    pass


class GatewayFileWrapper(FileWrapper):
    pass


class BufferGateway(BaseHandler):
    """Serves one request from a bytes buffer into another."""

    wsgi_version: tuple[int, int] = (1, 0)
    wsgi_multithread: bool = False
    wsgi_multiprocess: bool = False
    wsgi_run_once: bool = True
    origin_server: bool = True
    http_version: str = "1.0"
    server_software: str | None = "BufferGateway/1.0"
    os_environ: MutableMapping[str, str] = {}  # noqa: RUF012 - typeshed's type, as users write it
    wsgi_file_wrapper: type[FileWrapper] | None = GatewayFileWrapper
    headers_class: type[Headers] = GatewayHeaders
    traceback_limit: int | None = 5
    error_status: str = "503 Service Unavailable"
    error_headers: list[tuple[str, str]] = [("Content-Type", "text/plain")]  # noqa: RUF012
    error_body: bytes = b"unavailable"
    environ: WSGIEnvironment  # typeshed leaves it out; gateways declare it

    def __init__(self, request_body: bytes, cgi_vars: dict[str, str]) -> None:
        self.request_body = io.BytesIO(request_body)
        self.output = io.BytesIO()
        self.errors = io.StringIO()
        self.cgi_vars = cgi_vars

    # The five abstract hooks.
    def _write(self, data: bytes) -> None:
        self.output.write(data)

    def _flush(self) -> None:
        self.output.flush()

    def get_stdin(self) -> InputStream:
        return self.request_body

    def get_stderr(self) -> ErrorStream:
        return self.errors

    def add_cgi_vars(self) -> None:
        self.environ.update(self.cgi_vars)

    # The template's other hooks, each calling the base.
    def run(self, application: WSGIApplication) -> None:
        super().run(application)

    def setup_environ(self) -> None:
        super().setup_environ()

    def finish_response(self) -> None:
        super().finish_response()

    def get_scheme(self) -> str:
        return super().get_scheme()

    def set_content_length(self) -> None:
        super().set_content_length()

    def cleanup_headers(self) -> None:
        super().cleanup_headers()

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Callable[[bytes], None]:
        return super().start_response(status, headers, exc_info)

    def send_preamble(self) -> None:
        super().send_preamble()

    def write(self, data: bytes) -> None:
        super().write(data)

    def sendfile(self) -> bool:
        return super().sendfile()

    def finish_content(self) -> None:
        super().finish_content()

    def close(self) -> None:
        super().close()

    def send_headers(self) -> None:
        super().send_headers()

    def result_is_file(self) -> bool:
        return super().result_is_file()

    def client_is_modern(self) -> bool:
        return super().client_is_modern()

    def log_exception(self, exc_info: OptExcInfo) -> None:
        super().log_exception(exc_info)

    def handle_error(self) -> None:
        super().handle_error()

    def error_output(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        return super().error_output(environ, start_response)


class StreamHandler(SimpleHandler):
    """A ``SimpleHandler`` over in-memory streams."""

    base_env: MutableMapping[str, str]

    def __init__(self, environ: MutableMapping[str, str]) -> None:
        super().__init__(io.BytesIO(), io.BytesIO(), io.StringIO(), environ, False, True)

    def get_stdin(self) -> InputStream:
        return self.stdin

    def get_stderr(self) -> ErrorStream:
        return self.stderr

    def add_cgi_vars(self) -> None:
        super().add_cgi_vars()

    def _write(self, data: bytes) -> None:
        super()._write(data)

    def _flush(self) -> None:
        super()._flush()


class GatewayCGIHandler(BaseCGIHandler):
    """A FastCGI-like gateway: a ``Status:`` header, no status line."""

    origin_server: bool = False
    os_environ: MutableMapping[str, str] = {}  # noqa: RUF012 - typeshed's type


def app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Date", format_date_time(0))])
    return [b"hello"]


def serve_once() -> bytes:
    gateway = BufferGateway(b"", {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.0"})
    gateway.run(app)
    stream = StreamHandler({"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.0"})
    stream.run(app)
    environ: MutableMapping[str, str] = stream.base_env
    stdin: InputStream = stream.stdin
    stderr: ErrorStream = stream.stderr
    del environ, stdin, stderr
    cgi = GatewayCGIHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), {}, multithread=False)
    cgi.run(app)
    return gateway.output.getvalue()
