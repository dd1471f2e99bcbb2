"""The shared routes in Pyramid."""

import hashlib
from collections.abc import Iterator
from typing import Any

from pyramid.config import Configurator
from pyramid.httpexceptions import HTTPFound
from pyramid.request import Request
from pyramid.response import FileResponse, Response

from frameworks import SERVED_FILE, STREAM_CHUNKS


def _json(request: Request) -> dict[str, str]:
    return {"framework": "pyramid", "hello": "world"}


def _form(request: Request) -> Response:
    return Response(f"hello {request.POST['name']}", content_type="text/plain")


def _upload(request: Request) -> dict[str, object]:
    # WebOb copies a large body to a temporary file that it leaves for the garbage
    # collector; read it from there and close it.
    stream = request.body_file_seekable
    body: bytes = stream.read()
    stream.close()
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _stream(request: Request) -> Response:
    def chunks() -> Iterator[bytes]:
        yield from STREAM_CHUNKS

    return Response(app_iter=chunks(), content_type="text/plain")


def _cookies(request: Request) -> dict[str, str]:
    return dict(request.cookies)


def _redirect(request: Request) -> Any:
    return HTTPFound(location="/json")


def _file(request: Request) -> Any:
    return FileResponse(str(SERVED_FILE), request=request, content_type="text/plain")


def _echo(request: Request) -> Response:
    return Response(request.matchdict["segment"], content_type="text/plain", charset="utf-8")


def _make() -> Any:
    with Configurator() as config:
        routes = [
            ("json", "/json", "GET", _json, "json"),
            ("form", "/form", "POST", _form, None),
            ("upload", "/upload", "POST", _upload, "json"),
            ("stream", "/stream", "GET", _stream, None),
            ("cookies", "/cookies", "GET", _cookies, "json"),
            ("redirect", "/redirect", "GET", _redirect, None),
            ("file", "/file", "GET", _file, None),
            ("echo", "/echo/{segment}", "GET", _echo, None),
        ]
        for name, pattern, method, view, renderer in routes:
            config.add_route(name, pattern, request_method=method)
            config.add_view(view, route_name=name, renderer=renderer)
        return config.make_wsgi_app()


application = _make()
