"""``wsgi_simple_server.workers.ThreadedWorker`` under a real gunicorn arbiter.

Each test starts ``python -m gunicorn`` with the command a deployment page shows
(``tools/docs/pages/deployment/``), on a port the system picks (``-b 127.0.0.1:0``;
gunicorn's log says which) and with a small application module written to a
temporary directory, then waits for gunicorn's log lines and for responses, never
for a fixed time. Requests go on fresh connections: a keep-alive connection the
worker closes as it stops is the client's to retry (RFC 9112 section 9.3.1), which
is not what these tests are about.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import re
import shlex
import signal
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme
from gunicorn.config import Config
from live_server import Watched
from wsgi_simple_server.workers import ThreadedWorker, server_config

DEPLOYMENT_DOCS = Path(__file__).resolve().parents[3] / "tools" / "docs" / "pages" / "deployment"
APP_SPEC = "gunicorn_test_app:app"
APP_SOURCE = """
import os, sys, time

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        print("slow request started", file=sys.stderr, flush=True)
        time.sleep(float(environ["QUERY_STRING"] or 1))
    elif path == "/error":
        raise RuntimeError("the application failed on purpose")
    body = (
        f"pid={os.getpid()} multiprocess={environ['wsgi.multiprocess']} "
        f"multithread={environ['wsgi.multithread']} scheme={environ['wsgi.url_scheme']} "
        f"remote={environ['REMOTE_ADDR']}"
    ).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""
# A gunicorn configuration file with a post_request server hook.
CONFIG_SOURCE = """
def post_request(worker, req, environ, resp):
    worker.log.info("post_request %s %s %s %s", req.method, req.path, resp.status, resp.sent)
"""
LISTENING = r"Listening at: http://127\.0\.0\.1:(\d+) "
BOOTING = r"Booting worker with pid: (\d+)"


def page_command(page: str) -> list[str]:
    """The gunicorn command line a deployment page shows in a ``sh`` block."""
    text = (DEPLOYMENT_DOCS / page).read_text()
    for block in re.findall(r"```sh(?: notest)?\n(.*?)```", text, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("gunicorn "):
                return shlex.split(line)
    raise AssertionError(f"no gunicorn command in {page}")


def dockerfile_command() -> list[str]:
    """The ``CMD`` of the Dockerfile that containers.md shows."""
    text = (DEPLOYMENT_DOCS / "containers.md").read_text()
    dockerfile = re.search(r"```dockerfile(?: notest)?\n(.*?)```", text, re.DOTALL)
    assert dockerfile is not None
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile.group(1), re.MULTILINE)
    assert cmd is not None
    argv: list[str] = json.loads(cmd.group(1))
    return argv


def runnable(argv: list[str], *extra: str, bind: str = "127.0.0.1:0") -> list[str]:
    """*argv* (``gunicorn ... module:app``) as run here: this Python's gunicorn, the
    test application, *bind* in place of the page's address, *extra* options added."""
    assert argv[0] == "gunicorn"
    assert "wsgi_simple_server.workers.ThreadedWorker" in argv
    options = argv[1:-1]
    for flag in ("-b", "--bind"):
        while flag in options:
            index = options.index(flag)
            del options[index : index + 2]
    return [sys.executable, "-m", "gunicorn", *options, *extra, "-b", bind, APP_SPEC]


class Gunicorn(Watched):
    """A gunicorn arbiter started by a test, and the lines it logs."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        # XDG_RUNTIME_DIR: where gunicorn puts its control socket.
        super().__init__(argv, cwd, dict(os.environ, XDG_RUNTIME_DIR=str(cwd)))

    @property
    def port(self) -> int:
        return int(self.wait_for(LISTENING)[0].group(1))


@contextmanager
def gunicorn(argv: list[str], cwd: Path) -> Iterator[Gunicorn]:
    (cwd / "gunicorn_test_app.py").write_text(APP_SOURCE)
    (cwd / "gunicorn_test_conf.py").write_text(CONFIG_SOURCE)
    server = Gunicorn(argv, cwd)
    try:
        server.wait_for(BOOTING)
        yield server
    finally:
        server.stop()


def get(
    port: int, path: str = "/", timeout: float = 20.0, headers: dict[str, str] | None = None
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
    match = re.match(r"pid=(\d+) ", body)
    assert match is not None, body
    return int(match.group(1))


class Clients:
    """Client threads sending GET / on fresh connections until stopped."""

    def __init__(self, port: int, threads: int = 4, limit: int = 3000) -> None:
        self.port = port
        self.limit = limit
        self.pids: collections.Counter[int] = collections.Counter()
        self.order: list[int] = []
        self.failures: list[str] = []
        self.done = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._changed:
                if self.done + len(self.failures) >= self.limit:
                    break
            try:
                status, body = get(self.port)
                failure = None if status == 200 else f"{status} {body}"
            except OSError as exc:
                failure, body = repr(exc), ""
            with self._changed:
                if failure is None:
                    pid = pid_of(body)
                    self.pids[pid] += 1
                    self.order.append(pid)
                    self.done += 1
                else:
                    self.failures.append(failure)
                self._changed.notify_all()

    def wait_until(self, condition: str, predicate: object, timeout: float = 30.0) -> None:
        """Wait until *predicate* (a callable of no arguments) is true."""
        assert callable(predicate)
        with self._changed:
            if not self._changed.wait_for(predicate, timeout):
                raise AssertionError(f"{condition}: {self.done} done, {self.failures[:3]}")

    def finish(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def test_the_page_command_serves_with_several_processes_and_logs_through_gunicorn(
    tmp_path: Path,
) -> None:
    argv = runnable(
        page_command("gunicorn.md"),
        "-w",
        "2",
        "--access-logfile",
        "-",
        "--access-logformat",
        'access %(h)s "%(r)s" %(s)s %(b)s ua=%(a)s took=%(D)sus pid=%(p)s',
        "--limit-request-line",
        "100",
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--config",
        "gunicorn_test_conf.py",
    )
    with gunicorn(argv, tmp_path) as server:
        server.wait_for(BOOTING, count=2)
        clients = Clients(server.port, limit=400)
        clients.wait_until("two processes serve", lambda: len(clients.pids) >= 2)
        clients.finish()
        assert clients.failures == []
        status, body = get(server.port, "/?logged")
        assert status == 200
        assert "multiprocess=True multithread=True scheme=http" in body
        # gunicorn's access log, in gunicorn's format, with the worker's pid.
        line = server.wait_for(r'access 127\.0\.0\.1 "GET /\?logged HTTP/1\.1" 200 \d+ ')[0]
        assert re.search(rf"ua=- took=\d+us pid=<{pid_of(body)}>", line.string), line.string
        server.wait_for(rf"\[INFO\] post_request GET / 200 OK {len(body)}$")
        # --forwarded-allow-ips: the loopback proxy's forwarding fields are believed.
        forwarded = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        body = get(server.port, "/", headers=forwarded)[1]
        assert "scheme=https remote=203.0.113.7" in body
        # Application errors go to gunicorn's error log, with its format.
        assert get(server.port, "/error")[0] == 500
        server.wait_for(r"\[ERROR\] Error in the application serving 'GET /error HTTP/1\.1'")
        server.wait_for(r"RuntimeError: the application failed on purpose")
        # --limit-request-line: 100 bytes without the CRLF.
        assert get(server.port, "/" + "a" * 86)[0] == 200  # "GET /a... HTTP/1.1": 100 bytes
        assert get(server.port, "/" + "a" * 87)[0] == 414
        server.wait_for(r"\[WARNING\] Invalid request from ip=127\.0\.0\.1: ")


def test_sigterm_lets_a_request_in_flight_finish_with_its_whole_response(tmp_path: Path) -> None:
    with gunicorn(runnable(dockerfile_command()), tmp_path) as server:
        port = server.port
        result: list[tuple[int, str]] = []
        slow = threading.Thread(target=lambda: result.append(get(port, "/slow?1")))
        slow.start()
        server.wait_for("slow request started")
        server.proc.send_signal(signal.SIGTERM)
        slow.join(30)
        assert result
        assert result[0][0] == 200
        assert result[0][1].startswith("pid=")
        assert server.proc.wait(30) == 0
        server.wait_for(r"Shutting down: Master")


def test_a_request_past_the_graceful_timeout_is_cut_off_by_the_worker_not_sigkill(
    tmp_path: Path,
) -> None:
    argv = runnable(dockerfile_command(), "-w", "1", "--graceful-timeout", "2")
    with gunicorn(argv, tmp_path) as server:
        port = server.port
        started = time.monotonic()
        result: list[object] = []

        def ask() -> None:
            try:
                result.append(get(port, "/slow?60"))
            except OSError as exc:
                result.append(exc)

        slow = threading.Thread(target=ask)
        slow.start()
        server.wait_for("slow request started")
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 0
        slow.join(30)
        assert time.monotonic() - started < 10
        assert result
        assert isinstance(result[0], OSError)  # cut off: no response
        server.wait_for(r"Worker exiting \(pid: \d+\)")
        assert not [line for line in server.lines if "SIGKILL" in line], server.lines


def test_sighup_replaces_the_workers_and_no_request_fails(tmp_path: Path) -> None:
    with gunicorn(runnable(page_command("gunicorn.md"), "-w", "2"), tmp_path) as server:
        first = {int(m.group(1)) for m in server.wait_for(BOOTING, count=2)}
        clients = Clients(server.port)
        clients.wait_until("first responses", lambda: clients.done >= 50)
        server.proc.send_signal(signal.SIGHUP)
        booted = {int(m.group(1)) for m in server.wait_for(BOOTING, count=4)}
        new = booted - first
        assert len(new) == 2
        clients.wait_until("a new worker serves", lambda: bool(new & set(clients.pids)))
        served = clients.done
        clients.wait_until("more responses", lambda: clients.done >= max(served + 100, 300))
        clients.finish()
        assert clients.failures == []
        server.wait_for(r"Worker exiting \(pid: \d+\)", count=2)


def test_max_requests_recycles_the_worker_without_a_failed_request(tmp_path: Path) -> None:
    argv = runnable(page_command("gunicorn.md"), "-w", "1", "--max-requests", "20")
    with gunicorn(argv, tmp_path) as server:
        clients = Clients(server.port, threads=1, limit=60)
        clients.wait_until("60 responses", lambda: clients.done >= 60)
        clients.finish()
        assert clients.failures == []
        runs = [pid for i, pid in enumerate(clients.order) if i == 0 or clients.order[i - 1] != pid]
        assert len(runs) >= 3  # a new process after each 20 requests
        assert clients.pids[runs[0]] == 20
        server.wait_for("Autorestarting worker after current request.")


def test_a_killed_worker_is_replaced(tmp_path: Path) -> None:
    with gunicorn(runnable(page_command("gunicorn.md"), "-w", "1"), tmp_path) as server:
        status, body = get(server.port)
        killed = pid_of(body)
        os.kill(killed, signal.SIGKILL)
        server.wait_for(BOOTING, count=2)
        status, body = get(server.port)  # waits in the backlog for the new worker
        assert status == 200
        assert pid_of(body) != killed
        assert "multiprocess=False" in body  # one worker: gunicorn's rule


def test_a_worker_whose_arbiter_died_stops(tmp_path: Path) -> None:
    with gunicorn(runnable(page_command("gunicorn.md"), "-w", "1"), tmp_path) as server:
        worker = pid_of(get(server.port)[1])
        server.proc.kill()  # the arbiter: the worker is left to notice its parent changed
        server.proc.wait(10)
        server.wait_for(rf"Parent changed, shutting down: <Worker {worker}>")
        server.wait_for(rf"Worker exiting \(pid: {worker}\)")


def test_a_unix_socket_is_served(tmp_path: Path) -> None:
    path = tmp_path / "g.sock"
    argv = runnable(page_command("gunicorn.md"), "-w", "1", bind=f"unix:{path}")
    with gunicorn(argv, tmp_path) as server:
        server.wait_for(r"Listening at: unix:")
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(20)
            sock.connect(str(path))
            sock.sendall(b"GET /unix HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"scheme=http" in data


def test_tls_with_gunicorns_certfile_and_keyfile(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    argv = runnable(
        page_command("gunicorn.md"),
        "-w",
        "1",
        "--certfile",
        str(tmp_path / "cert.pem"),
        "--keyfile",
        str(tmp_path / "key.pem"),
    )
    with gunicorn(argv, tmp_path) as server:
        port = int(server.wait_for(r"Listening at: https://127\.0\.0\.1:(\d+) ")[0].group(1))
        context = ssl.create_default_context()
        ca.configure_trust(context)
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=20, context=context)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.status == 200
            assert b"scheme=https" in response.read()
            assert conn.sock is not None
            assert isinstance(conn.sock, ssl.SSLSocket)
            assert conn.sock.selected_alpn_protocol() in (None, "http/1.1")
        finally:
            conn.close()


def gunicorn_config(**settings: object) -> Config:
    cfg = Config()
    for name, value in settings.items():
        cfg.set(name, value)
    return cfg


def test_server_config_maps_gunicorns_settings() -> None:
    config = server_config(
        gunicorn_config(
            threads=16,
            worker_connections=500,
            keepalive=7,
            graceful_timeout=12,
            limit_request_line=1000,
            limit_request_fields=50,
            limit_request_field_size=2000,
        )
    )
    assert config.threads == 16
    assert config.max_connections == 500
    assert config.idle_timeout_s == 7.0
    assert config.shutdown_timeout_s == 12.0
    assert config.max_request_line_bytes == 1002  # gunicorn counts it without CRLF
    assert config.max_header_count == 50
    assert config.max_header_bytes == 50 * 2002 + 4  # gunicorn's max_buffer_headers
    assert config.access_log is False
    assert config.forwarded_allow_ips == "127.0.0.1,::1"  # gunicorn's default, as a string
    assert config.proxy_protocol is False
    assert config.proxy_allow_ips == "127.0.0.1,::1"


def test_server_config_maps_gunicorns_proxy_settings() -> None:
    config = server_config(
        gunicorn_config(
            forwarded_allow_ips="10.0.0.0/8,192.0.2.1",
            proxy_protocol=True,
            proxy_allow_ips="*",
        )
    )
    assert config.forwarded_allow_ips == "10.0.0.0/8,192.0.2.1"
    assert config.proxy_protocol is True
    assert config.proxy_allow_ips == "*"


def test_server_config_believes_what_gunicorn_reads_from_a_trusted_proxy() -> None:
    # gunicorn's defaults: X-Forwarded-For, and X-Forwarded-Proto among its
    # secure_scheme_headers; never X-Forwarded-Host, -Port or Forwarded.
    assert server_config(Config()).trusted_proxy_headers == "x-forwarded-for,x-forwarded-proto"
    without_proto = gunicorn_config(secure_scheme_headers={"X-FORWARDED-SSL": "on"})
    assert server_config(without_proto).trusted_proxy_headers == "x-forwarded-for"
    lower = gunicorn_config(secure_scheme_headers={"x-forwarded-proto": "HTTPS"})
    assert server_config(lower).trusted_proxy_headers == "x-forwarded-for,x-forwarded-proto"


def test_server_config_bounds_unlimited_settings_as_gunicorn_does() -> None:
    config = server_config(
        gunicorn_config(
            limit_request_line=0,
            limit_request_fields=0,
            limit_request_field_size=0,
            keepalive=0,
            graceful_timeout=0,
        )
    )
    assert config.max_request_line_bytes == (1 << 20) + 2
    assert config.max_header_count == 32768
    assert config.max_header_bytes == 32768 * 8192 + 4
    assert config.idle_timeout_s == 1.0
    assert server_config(gunicorn_config(limit_request_line=9000)).max_request_line_bytes == 8192


def test_the_worker_is_a_gunicorn_worker_class() -> None:
    from gunicorn.workers.base import Worker  # noqa: PLC0415

    assert issubclass(ThreadedWorker, Worker)
    cfg = gunicorn_config(worker_class="wsgi_simple_server.workers.ThreadedWorker")
    assert cfg.worker_class is ThreadedWorker
