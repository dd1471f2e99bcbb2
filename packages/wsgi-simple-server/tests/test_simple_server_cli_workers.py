"""``wsgi-simple-server --workers N``: gunicorn's arbiter run by the command line.

Each test starts ``python -m wsgi_simple_server --workers ...`` with a small
application written to a temporary directory, on a port the system picks (``--port
0``, read from the ``Serving HTTP on`` line) or a Unix socket there, and waits for log
lines and responses, never for a fixed time. ``XDG_RUNTIME_DIR`` is the temporary
directory, where gunicorn would put its control socket (the command line opens none).
"""

from __future__ import annotations

import http.client
import os
import queue
import re
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme
from live_server import Watched
from wsgi_simple_server._cli import UsageError, parse_command

CLI = [sys.executable, "-m", "wsgi_simple_server"]
APP_SOURCE = """
import os, sys, time

VERSION = "one"

def app(environ, start_response):
    if environ["PATH_INFO"] == "/error":
        raise RuntimeError("the application failed on purpose")
    if environ["PATH_INFO"] == "/slow":
        print("slow request started", file=sys.stderr, flush=True)
        time.sleep(float(environ["QUERY_STRING"] or 1))
    body = f"pid={os.getpid()} multiprocess={environ['wsgi.multiprocess']} {VERSION}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""
SERVING = r"^Serving HTTP on 127\.0\.0\.1 port (\d+)"
BOOTING = r"Booting worker with pid: (\d+)"
VARIABLE = "WSGI_SIMPLE_SERVER_WORKERS"
ACCESS_LINE = r'127\.0\.0\.1 - - \[.*\] "GET / HTTP/1\.1" 200 \d+$'


class Arbiter(Watched):
    """``python -m wsgi_simple_server --workers ...`` in *cwd*; its output lines (stdout
    and stderr) are collected as they come."""

    def __init__(
        self,
        *args: str,
        cwd: Path,
        env: dict[str, str] | None = None,
        pass_fds: tuple[int, ...] = (),
        launcher: tuple[str, ...] = (),
    ) -> None:
        super().__init__(
            [*launcher, *CLI, *args],
            cwd,
            {**os.environ, "XDG_RUNTIME_DIR": str(cwd), **(env or {})},
            pass_fds,
        )

    def port(self) -> int:
        return int(self.wait_for(SERVING)[0].group(1))


@contextmanager
def arbiter(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Iterator[Arbiter]:
    """The command line with *args*, the test application in *cwd*; stopped with SIGTERM."""
    (cwd / "workers_app.py").write_text(APP_SOURCE)
    server = Arbiter(*args, cwd=cwd, env=env)
    try:
        yield server
    finally:
        server.stop()


def get(
    port: int, path: str = "/", headers: dict[str, str] | None = None, timeout: float = 20.0
) -> tuple[int, str]:
    """GET *path* on a fresh connection; the status and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def pid_of(body: str) -> int:
    return answer(body)[0]


def answer(body: str) -> tuple[int, str]:
    """The process id and the ``VERSION`` of the test application in a response body."""
    match = re.fullmatch(r"pid=(\d+) multiprocess=True (\w+)", body)
    assert match is not None, body
    return int(match.group(1)), match.group(2)


def pids_serving(port: int, want: int, limit: int = 400) -> dict[int, str]:
    """The processes that answer ``GET /slow?0.05`` from four client threads, until
    *want* different ones did (at most *limit* requests), with the ``VERSION`` each
    answered."""
    pids: dict[int, str] = {}
    sent = 0
    lock = threading.Lock()
    failures: queue.Queue[str] = queue.Queue()

    def client() -> None:
        nonlocal sent
        while True:
            with lock:
                if len(pids) >= want or sent >= limit:
                    return
                sent += 1
            status, body = get(port, "/slow?0.05")
            if status != 200:
                failures.put(f"{status} {body}")
                return
            pid, version = answer(body)
            with lock:
                pids[pid] = version

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures.empty(), failures.get()
    return pids


# -- the command line --------------------------------------------------------------------


def test_workers_comes_from_the_option_the_variable_or_is_one() -> None:
    assert parse_command([], {}).workers == 1
    assert parse_command([], {"WSGI_SIMPLE_SERVER_WORKERS": "3"}).workers == 3
    assert parse_command(["--workers", "4"], {"WSGI_SIMPLE_SERVER_WORKERS": "3"}).workers == 4


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--workers", "0"], {}, "--workers must be a positive number, got 0"),
        (["--workers", "-2"], {}, "--workers must be a positive number, got -2"),
        (["--workers", "many"], {}, "--workers must be an integer, got 'many'"),
        ([], {VARIABLE: "0"}, f"{VARIABLE} must be a positive number, got 0"),
        ([], {VARIABLE: "2.5"}, f"{VARIABLE} must be an integer, got '2.5'"),
    ],
)
def test_a_bad_number_of_workers_is_refused_naming_its_source(
    args: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError) as refused:
        parse_command(args, env)
    assert str(refused.value).startswith(message)


def test_the_help_shows_workers_and_its_variable() -> None:
    result = subprocess.run(
        [*CLI, "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0
    help_text = " ".join(result.stdout.split())
    assert "--workers N worker processes; more than 1 runs gunicorn's arbiter" in help_text
    assert "(default: 1; WSGI_SIMPLE_SERVER_WORKERS)" in help_text


@pytest.mark.parametrize(
    ("prelude", "args", "message"),
    [
        (
            "sys.modules['gunicorn'] = None",  # as if gunicorn were not installed
            ["--workers", "2"],
            "--workers needs the gunicorn extra: pip install 'wsgi-simple-server[gunicorn]'",
        ),
        (
            "pass",
            ["--workers", "2", "--reload"],
            "--reload runs one server process: it cannot be combined with --workers",
        ),
    ],
    ids=["without-gunicorn", "with-reload"],
)
def test_workers_without_gunicorn_or_with_reload_is_one_line(
    prelude: str, args: list[str], message: str
) -> None:
    code = (
        f"import sys; {prelude}; from wsgi_simple_server._cli import main; sys.exit(main({args}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr == f"python -m wsgi_simple_server: error: {message}\n"


# -- serving -----------------------------------------------------------------------------


def test_two_workers_serve_from_two_processes_and_term_exits_0(tmp_path: Path) -> None:
    with arbiter("workers_app:app", "--workers", "2", "--threads", "3", "--port", "0",
                 cwd=tmp_path) as server:  # fmt: skip
        start = server.wait_for(r"\[INFO\] (wsgi-simple-server .*)$")[0].group(1)
        assert re.fullmatch(
            r"wsgi-simple-server \S+ \(\w+ 3[\d.]+\): application workers_app:app, 2 worker "
            r"processes \(gunicorn [\d.]+\), 3 worker threads each, \w+Selector event loop",
            start,
        )
        port = server.port()
        server.wait_for(rf"\[INFO\] listening at http://127\.0\.0\.1:{port}/$")
        workers = {int(m.group(1)) for m in server.wait_for(BOOTING, count=2)}
        assert set(pids_serving(port, want=2)) == workers
        assert server.proc.pid not in workers
        assert server.stop() == 0
    assert not list(tmp_path.glob("*.ctl")), "the command line opens no control socket"


def test_settings_by_option_reach_every_worker_and_the_access_log_is_the_servers(
    tmp_path: Path,
) -> None:
    with arbiter("workers_app:app", "--workers", "2", "--max-header-count", "3",
                 "--port", "0", cwd=tmp_path) as server:  # fmt: skip
        port = server.port()
        server.wait_for(BOOTING, count=2)
        four = {f"X-{n}": "1" for n in range(3)}  # and Host: four header fields
        for _ in range(6):  # fresh connections: both workers are likely asked
            assert get(port, headers=four)[0] == 431
            assert get(port)[0] == 200
        # The same lines as the one-process server logs, on the same logger.
        server.wait_for(ACCESS_LINE, count=6)
        server.wait_for(r'"GET / HTTP/1\.1" 431 ', count=6)
        assert server.stop() == 0


def test_settings_by_variable_reach_the_workers_and_no_access_log_is_kept(
    tmp_path: Path,
) -> None:
    env = {"WSGI_SIMPLE_SERVER_MAX_HEADER_COUNT": "3", "WSGI_SIMPLE_SERVER_ACCESS_LOG": "0"}
    with arbiter("workers_app:app", "--port", "0", cwd=tmp_path,
                 env={**env, "WSGI_SIMPLE_SERVER_WORKERS": "2"}) as server:  # fmt: skip
        port = server.port()
        assert len(server.wait_for(BOOTING, count=2)) == 2
        four = {f"X-{n}": "1" for n in range(3)}
        for _ in range(6):
            assert get(port, headers=four)[0] == 431
            assert get(port)[0] == 200
        assert server.stop() == 0
    assert not [line for line in server.lines if re.search(r'"GET / HTTP/1\.1" \d{3}', line)]


LOG_CONFIG = """{
  "version": 1,
  "formatters": {"marked": {"format": "CONFIGURED %(process)d %(name)s: %(message)s"}},
  "handlers": {"marked": {"class": "logging.StreamHandler", "formatter": "marked"}},
  "loggers": {
    "wsgi_simple_server.access": {"handlers": ["marked"], "propagate": false},
    "wsgi_simple_server.error": {"handlers": ["marked"], "propagate": false}
  }
}"""


def test_the_log_config_of_the_command_line_holds_in_the_workers(tmp_path: Path) -> None:
    (tmp_path / "logging.json").write_text(LOG_CONFIG)
    with arbiter("workers_app:app", "--workers", "2", "--port", "0",
                 "--log-config", "logging.json", cwd=tmp_path) as server:  # fmt: skip
        port = server.port()
        workers = {m.group(1) for m in server.wait_for(BOOTING, count=2)}
        assert get(port, "/error")[0] == 500
        error = server.wait_for(r"^CONFIGURED (\d+) wsgi_simple_server\.error: ")[0]
        access = server.wait_for(r'^CONFIGURED (\d+) wsgi_simple_server\.access: .*" 500 ')[0]
        assert error.group(1) in workers
        assert access.group(1) == error.group(1)
        assert server.stop() == 0


def test_term_lets_a_request_in_flight_finish_then_exits_0(tmp_path: Path) -> None:
    with arbiter("workers_app:app", "--workers", "2", "--port", "0",
                 "--graceful-timeout", "20", cwd=tmp_path) as server:  # fmt: skip
        port = server.port()
        server.wait_for(BOOTING, count=2)
        answers: queue.Queue[tuple[int, str]] = queue.Queue()
        slow = threading.Thread(target=lambda: answers.put(get(port, "/slow?1.5")))
        slow.start()
        server.wait_for("slow request started")
        server.proc.send_signal(signal.SIGTERM)
        slow.join(30)
        status, body = answers.get(timeout=1)
        assert status == 200
        pid_of(body)
        assert server.stop(None) == 0
    server.wait_for(r"Shutting down: Master")


def test_sighup_replaces_the_workers_which_serve_the_new_code(tmp_path: Path) -> None:
    with arbiter("workers_app:app", "--workers", "2", "--port", "0", cwd=tmp_path) as server:
        port = server.port()
        first = {int(m.group(1)) for m in server.wait_for(BOOTING, count=2)}
        assert get(port)[1].endswith(" one")
        (tmp_path / "workers_app.py").write_text(APP_SOURCE.replace('"one"', '"two"'))
        server.proc.send_signal(signal.SIGHUP)
        second = {int(m.group(1)) for m in server.wait_for(BOOTING, count=4)} - first
        assert len(second) == 2
        for pid in first:  # stopped gracefully once the new ones run
            server.wait_for(rf"Worker exiting \(pid: {pid}\)")
        assert pids_serving(port, want=2) == dict.fromkeys(second, "two")
        assert server.stop() == 0


def test_sigttin_and_sigttou_add_and_remove_a_worker(tmp_path: Path) -> None:
    with arbiter("workers_app:app", "--workers", "2", "--port", "0", cwd=tmp_path) as server:
        port = server.port()
        server.wait_for(BOOTING, count=2)
        server.proc.send_signal(signal.SIGTTIN)
        server.wait_for(BOOTING, count=3)
        assert len(pids_serving(port, want=3)) == 3
        server.proc.send_signal(signal.SIGTTOU)
        server.wait_for(r"Worker exiting \(pid: \d+\)")
        assert server.stop() == 0


def unix_get(path: Path) -> str:
    """``GET /`` over HTTP/1.0 on the Unix socket at *path*; the body of a 200."""
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(20)
        client.connect(str(path))
        client.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        reply = b"".join(iter(lambda: client.recv(65536), b""))
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200 OK\r\n"), reply
    return body.decode()


def test_systemd_socket_activation_serves_with_workers_and_leaves_the_socket(
    tmp_path: Path,
) -> None:
    """A launcher puts a Unix socket at descriptor 3, then becomes the command line
    (``exec``) with ``LISTEN_PID`` its own process id, as systemd starts a service."""
    path = tmp_path / "activated.sock"
    activated = socket.socket(socket.AF_UNIX)
    activated.bind(str(path))
    activated.listen()
    (tmp_path / "workers_app.py").write_text(APP_SOURCE)
    script = 'exec 3<&"$1"; shift; LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"'
    server = Arbiter(
        "workers_app:app", "--workers", "2", "--bind", "127.0.0.1:0", cwd=tmp_path,
        pass_fds=(activated.fileno(),),
        launcher=("bash", "-c", script, "bash", str(activated.fileno())),
    )  # fmt: skip
    try:
        server.wait_for(rf"^Serving HTTP on unix:{re.escape(str(path))} \.\.\.$")
        server.wait_for(BOOTING, count=2)
        assert pid_of(unix_get(path)) != server.proc.pid
    finally:
        assert server.stop() == 0
        activated.close()
    assert path.exists(), "systemd's socket: its file is systemd's business"


def test_workers_on_a_unix_socket_remove_its_file_but_not_one_passed_in(tmp_path: Path) -> None:
    made = tmp_path / "made.sock"
    passed_path = tmp_path / "passed.sock"
    passed = socket.socket(socket.AF_UNIX)
    passed.bind(str(passed_path))
    passed.listen()
    (tmp_path / "workers_app.py").write_text(APP_SOURCE)
    server = Arbiter(
        "workers_app:app", "--workers", "2", "--uds", str(made), "--fd", str(passed.fileno()),
        cwd=tmp_path, pass_fds=(passed.fileno(),),
    )  # fmt: skip
    try:
        server.wait_for(rf"^Serving HTTP on unix:{re.escape(str(made))}, unix:")
        server.wait_for(BOOTING, count=2)
        for path in (made, passed_path):
            pid_of(unix_get(path))
    finally:
        assert server.stop() == 0
        passed.close()
    assert not made.exists(), "the socket file the command made is removed"
    assert passed_path.exists(), "a socket passed in is not the command's to remove"


def test_tls_settings_reach_the_workers(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    with arbiter("workers_app:app", "--workers", "2", "--port", "0",
                 "--certfile", "server.pem", cwd=tmp_path) as server:  # fmt: skip
        port = int(server.wait_for(r"\[INFO\] listening at https://127\.0\.0\.1:(\d+)/$")[0][1])
        server.wait_for(BOOTING, count=2)
        context = ssl.create_default_context()
        ca.configure_trust(context)
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=20)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.status == 200
            pid_of(response.read().decode())
        finally:
            conn.close()
        assert server.stop() == 0


def test_an_application_that_does_not_load_is_its_one_line_error_and_status_2(
    tmp_path: Path,
) -> None:
    server = Arbiter("no_such_module:app", "--workers", "2", "--port", "0", cwd=tmp_path)
    status = server.stop(None)
    assert status == 2, server.lines
    errors = {line for line in server.lines if ": error: " in line}
    message = "cannot import module 'no_such_module' (No module named 'no_such_module')"
    assert errors == {f"python -m wsgi_simple_server: error: {message}"}
    assert not [line for line in server.lines if "Traceback" in line]
