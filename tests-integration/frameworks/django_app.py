"""The shared routes in Django, configured in this one module."""

import hashlib
from collections.abc import Iterator
from typing import Any

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="integration-tests-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import (  # noqa: E402
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.urls import path  # noqa: E402

from frameworks import SERVED_FILE, STREAM_CHUNKS  # noqa: E402


def _json(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"framework": "django", "hello": "world"})


def _form(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello {request.POST['name']}", content_type="text/plain")


def _upload(request: HttpRequest) -> HttpResponse:
    body = request.body
    return JsonResponse({"length": len(body), "sha256": hashlib.sha256(body).hexdigest()})


def _stream(request: HttpRequest) -> HttpResponse:
    def chunks() -> Iterator[bytes]:
        yield from STREAM_CHUNKS

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def _cookies(request: HttpRequest) -> HttpResponse:
    return JsonResponse(dict(request.COOKIES))


def _redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/json")


def _file(request: HttpRequest) -> Any:
    return FileResponse(SERVED_FILE.open("rb"), content_type="text/plain")


def _echo(request: HttpRequest, segment: str) -> HttpResponse:
    return HttpResponse(segment.encode(), content_type="text/plain; charset=utf-8")


def _method(method: str, view: Any) -> Any:
    def only(request: HttpRequest, **kwargs: str) -> HttpResponse:
        if request.method not in (method, "HEAD" if method == "GET" else method):
            return HttpResponse(status=405)
        return view(request, **kwargs)

    return only


urlpatterns = [
    path("json", _method("GET", _json)),
    path("form", _method("POST", _form)),
    path("upload", _method("POST", _upload)),
    path("stream", _method("GET", _stream)),
    path("cookies", _method("GET", _cookies)),
    path("redirect", _method("GET", _redirect)),
    path("file", _method("GET", _file)),
    path("echo/<str:segment>", _method("GET", _echo)),
]

application = get_wsgi_application()
