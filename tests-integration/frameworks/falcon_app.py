"""The shared routes in Falcon."""

import hashlib
from collections.abc import Iterator

import falcon

from frameworks import SERVED_FILE, STREAM_CHUNKS


class _Json:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"framework": "falcon", "hello": "world"}

    on_head = on_get  # Falcon routes HEAD only to an explicit responder


class _Form:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = req.get_media()
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"hello {form['name']}"


class _Upload:
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.bounded_stream.read()
        resp.media = {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


class _Stream:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        def chunks() -> Iterator[bytes]:
            yield from STREAM_CHUNKS

        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = chunks()


class _Cookies:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = dict(req.cookies)


class _Redirect:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPFound("/json")


class _File:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = SERVED_FILE.open("rb")
        resp.content_length = SERVED_FILE.stat().st_size


class _Echo:
    def on_get(self, req: falcon.Request, resp: falcon.Response, segment: str) -> None:
        resp.content_type = "text/plain; charset=utf-8"
        resp.text = segment


app = falcon.App()
app.add_route("/json", _Json())
app.add_route("/form", _Form())
app.add_route("/upload", _Upload())
app.add_route("/stream", _Stream())
app.add_route("/cookies", _Cookies())
app.add_route("/redirect", _Redirect())
app.add_route("/file", _File())
app.add_route("/echo/{segment}", _Echo())

application = app
