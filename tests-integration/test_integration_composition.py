"""Users who outgrow one process move to gunicorn or waitress: ``wsgi_validate`` and
``wsgi_util.FileWrapper`` work there unchanged, with zero violations."""

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import waitress.server
from frameworks import SERVED_FILE
from stack_app import application

_HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    pytest.fail(f"nothing listens on port {port} after 20 s")


@pytest.fixture(scope="module")
def gunicorn_url() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "2",
            "stack_app:application",
        ],
        cwd=_HERE,
        env={**os.environ, "PYTHONPATH": str(_HERE)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_until_listening(port, process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="module")
def waitress_url() -> Iterator[str]:
    server = waitress.server.create_server(application, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown()  # let waitress's task threads finish first
        server.close()
        thread.join(timeout=10)


def _exercise(url: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for route in ("/file", "/file/ours"):
            response = client.get(route)
            assert response.status_code == 200
            assert response.content == SERVED_FILE.read_bytes()
        echoed = client.post("/echo/x?q=1", content=b"payload")
        assert echoed.content == f"payload|{url}/echo/x?q=1".encode()
        assert client.get("/missing").status_code == 404
        assert client.get("/violations").json() == []
        # The report is live: a deliberate violation shows up, and only that one.
        assert client.post("/overread", content=b"abc").content == b"abc"
        violations = client.get("/violations").json()
        assert len(violations) == 1
        assert "CONTENT_LENGTH" in violations[0]
        client.get("/violations?clear=1")


def test_validator_and_file_wrapper_under_gunicorn(gunicorn_url: str) -> None:
    _exercise(gunicorn_url)


def test_validator_and_file_wrapper_under_waitress(waitress_url: str) -> None:
    _exercise(waitress_url)
