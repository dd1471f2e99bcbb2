"""The same small application written with five frameworks.

Every app answers the same routes, so one test drives them all:

- ``GET /json``: ``{"framework": NAME, "hello": "world"}``
- ``POST /form``: urlencoded ``name=...``, answers ``hello NAME``
- ``POST /upload``: any body, answers ``{"length": N, "sha256": HEX}``
- ``GET /stream``: 64 chunks ``chunk NN\\n`` from a generator
- ``GET /cookies``: the request's cookies as JSON
- ``GET /redirect``: 302 to ``/json``
- ``GET /file``: ``SERVED_FILE`` through ``wsgi.file_wrapper`` where the framework uses it
- ``GET /echo/<segment>``: the decoded segment as UTF-8 text
"""

from pathlib import Path

SERVED_FILE = Path(__file__).with_name("served.txt")
STREAM_CHUNKS = [f"chunk {i:02d}\n".encode() for i in range(64)]
