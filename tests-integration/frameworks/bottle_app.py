"""The shared routes in Bottle."""

import hashlib
from collections.abc import Iterator
from typing import Any

import bottle

from frameworks import SERVED_FILE, STREAM_CHUNKS

app = bottle.Bottle()


def _json() -> dict[str, str]:
    return {"framework": "bottle", "hello": "world"}


def _form() -> str:
    return f"hello {bottle.request.forms.getunicode('name')}"


def _upload() -> dict[str, object]:
    stream = bottle.request.body
    body: bytes = stream.read()
    stream.close()  # Bottle spools a large body to a temporary file it never closes
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def _stream() -> Iterator[bytes]:
    bottle.response.content_type = "text/plain"
    yield from STREAM_CHUNKS


def _cookies() -> dict[str, str]:
    return {key: bottle.request.get_cookie(key) for key in bottle.request.cookies}


def _redirect() -> None:
    bottle.redirect("/json", 302)


def _file() -> Any:
    return bottle.static_file(SERVED_FILE.name, root=str(SERVED_FILE.parent), mimetype="text/plain")


def _echo(segment: str) -> str:
    bottle.response.content_type = "text/plain; charset=utf-8"
    return segment


app.route("/json", "GET", _json)
app.route("/form", "POST", _form)
app.route("/upload", "POST", _upload)
app.route("/stream", "GET", _stream)
app.route("/cookies", "GET", _cookies)
app.route("/redirect", "GET", _redirect)
app.route("/file", "GET", _file)
app.route("/echo/<segment>", "GET", _echo)

application = app
