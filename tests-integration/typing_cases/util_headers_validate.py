"""``wsgi_util``, ``wsgi_util.types``, ``Headers`` and ``validator`` used as typeshed's
``wsgiref`` stubs type them (the test also checks this against ``wsgiref``)."""

import io
from collections.abc import Iterable, MutableMapping

from wsgi_cgi import CGIHandler, IISCGIHandler, read_environ
from wsgi_headers import Headers, tspecials
from wsgi_util import (
    FileWrapper,
    application_uri,
    guess_scheme,
    is_hop_by_hop,
    request_uri,
    setup_testing_defaults,
    shift_path_info,
)
from wsgi_util.types import (
    ErrorStream,
    InputStream,
    StartResponse,
    WSGIApplication,
    WSGIEnvironment,
)
from wsgi_validate import WSGIWarning, validator


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    headers = Headers([("Content-Type", "text/plain")])
    headers.add_header("Content-Disposition", "attachment", filename="a.txt", inline=None)
    headers["X-Request"] = "1"
    first: str | None = headers["X-Request"]
    fallback: str = headers.get("X-Missing", "none")
    maybe: str | None = headers.get("X-Missing")
    every: list[str] = headers.get_all("X-Request")
    del headers["X-Request"]
    default: str = headers.setdefault("Cache-Control", "no-store")
    names: list[str] = headers.keys()
    values: list[str] = headers.values()
    count: int = len(headers)
    present: bool = "Content-Type" in headers
    wire: bytes = bytes(headers)
    quoted = tspecials.search("a b") is not None
    del first, fallback, maybe, every, default, names, values, count, present, wire, quoted

    stdin: InputStream = environ["wsgi.input"]
    errors: ErrorStream = environ["wsgi.errors"]
    errors.write("request\n")
    write = start_response("200 OK", headers.items())
    write(b"")
    uri: str = request_uri(environ, include_query=False)
    base: str = application_uri(environ)
    scheme: str = guess_scheme(environ)
    segment: str | None = shift_path_info(environ)
    hop: bool = is_hop_by_hop("Connection")
    del base, scheme, segment, hop
    return [uri.encode(), stdin.read(0)]


checked: WSGIApplication = validator(app)
warning: type[Warning] = WSGIWarning


def files() -> list[bytes]:
    wrapper = FileWrapper(io.BytesIO(b"abcdef"), 2)
    blocks: list[bytes] = [next(wrapper)]
    blocks += list(iter(wrapper))
    size: int = wrapper.blksize
    del size
    wrapper.close()
    return blocks


def environ_for_tests() -> WSGIEnvironment:
    environ: WSGIEnvironment = {}
    setup_testing_defaults(environ)
    return environ


class QuietCGIHandler(CGIHandler):
    os_environ: MutableMapping[str, str] = {}  # noqa: RUF012 - typeshed's type


def cgi() -> dict[str, str]:
    QuietCGIHandler().run(checked)
    IISCGIHandler().run(checked)
    return read_environ()
