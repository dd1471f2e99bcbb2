"""Code the packages' types refuse, as typeshed's ``wsgiref`` stubs do: each line
marked with an ``E:`` comment must fail type-checking with an error holding its text.
"""

from collections.abc import MutableMapping

from wsgi_handlers import BaseHandler
from wsgi_headers import Headers
from wsgi_simple_server import make_server
from wsgi_util import request_uri
from wsgi_util.types import InputStream, StartResponse, WSGIApplication, WSGIEnvironment
from wsgi_validate import validator


def returns_text(environ: WSGIEnvironment, start_response: StartResponse) -> str:
    start_response("200 OK", [])
    return "text"


def int_status(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    start_response(200, [])  # E: has incompatible type "int"; expected "str"
    return [b""]


wrapped: WSGIApplication = validator(returns_text)  # E: to "validator" has incompatible type
headers = Headers([("Content-Type", b"text/plain")])  # E: List item 0 has incompatible type
server = make_server("", 0, int_status, server_class=int)  # E: "_S" of "make_server" cannot be
uri = request_uri({}, include_query="no")  # E: "include_query" to "request_uri" has incompatible


class TextInput(BaseHandler):
    os_environ: MutableMapping[str, int] = {}  # noqa: RUF012  # E: Incompatible types in assignment

    def get_stdin(self) -> str:  # E: Return type "str" of "get_stdin" incompatible
        return ""

    def get_scheme(self) -> InputStream:  # E: Return type "InputStream" of "get_scheme"
        raise NotImplementedError
