"""The shared routes in Flask."""

import hashlib
from collections.abc import Iterator

from flask import Flask, Response, redirect, request, send_file
from flask.typing import ResponseReturnValue

from frameworks import SERVED_FILE, STREAM_CHUNKS

app = Flask(__name__)


@app.get("/json")
def json_route() -> dict[str, str]:
    return {"framework": "flask", "hello": "world"}


@app.post("/form")
def form_route() -> str:
    return f"hello {request.form['name']}"


@app.post("/upload")
def upload_route() -> dict[str, object]:
    body = request.get_data()
    return {"length": len(body), "sha256": hashlib.sha256(body).hexdigest()}


@app.get("/stream")
def stream_route() -> Response:
    def chunks() -> Iterator[bytes]:
        yield from STREAM_CHUNKS

    return Response(chunks(), mimetype="text/plain")


@app.get("/cookies")
def cookies_route() -> dict[str, str]:
    return dict(request.cookies)


@app.get("/redirect")
def redirect_route() -> ResponseReturnValue:
    return redirect("/json", code=302)


@app.get("/file")
def file_route() -> Response:
    return send_file(SERVED_FILE, mimetype="text/plain")


@app.get("/echo/<segment>")
def echo_route(segment: str) -> Response:
    return Response(segment.encode(), mimetype="text/plain; charset=utf-8")


application = app.wsgi_app
