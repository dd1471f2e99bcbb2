"""The command line as a new user tries it: edge values, typos, signals at awkward
moments, files that are not there; each mistake one line and exit status 2."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from wsgi_simple_server import ServerConfig, demo_app, make_server
from wsgi_simple_server._app_loader import AppLoadError, load_app
from wsgi_simple_server._cli import UsageError, _unknown_variables, parse_command

CLI = [sys.executable, "-m", "wsgi_simple_server"]
PREFIX = "python -m wsgi_simple_server: error: "


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The message of a CLI run that failed as a user's mistake should (status 2, one line)."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(PREFIX), lines[0]
    return lines[0].removeprefix(PREFIX)


# -- signals ------------------------------------------------------------------------


def test_request_shutdown_takes_no_lock_the_interrupted_main_thread_may_hold() -> None:
    # A signal handler (the CLI's SIGTERM, SIGINT and SIGHUP handlers call
    # request_shutdown) runs on the main thread between two bytecodes, possibly
    # while serve_forever's wait holds the lock of its stop event: setting that
    # Event from the handler then waited for itself, and the server never stopped.
    with make_server("127.0.0.1", 0, demo_app) as server:
        stop_event = server._stop_requested

        def handler_landing_inside_the_wait() -> None:
            with stop_event._cond:  # type: ignore[attr-defined]  # held as Event.wait holds it
                server.request_shutdown()

        handler = threading.Thread(target=handler_landing_inside_the_wait, daemon=True)
        handler.start()
        handler.join(5)
        assert not handler.is_alive(), "request_shutdown blocked on a lock its caller holds"
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        serving.join(10)
        assert not serving.is_alive(), "serve_forever did not see the stop requested"


# -- options and variables ----------------------------------------------------------


def test_an_option_wins_over_a_bad_variable_which_is_then_not_read() -> None:
    # As WSGI_SIMPLE_SERVER_PORT already was: a stale variable is overridden, not fatal.
    environ = {"WSGI_SIMPLE_SERVER_THREADS": "abc", "WSGI_SIMPLE_SERVER_ACCESS_LOG": "maybe"}
    command = parse_command(["--threads", "5", "--no-access-log"], environ)
    assert command.config.threads == 5
    assert command.config.access_log is False
    with pytest.raises(UsageError, match="WSGI_SIMPLE_SERVER_THREADS must be an integer"):
        parse_command([], environ)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # an abbreviation is a typo: not taken as the option it begins
        (["--thread", "4"], "unrecognized arguments: --thread (did you mean --threads?)"),
        (["--thraeds", "4"], "unrecognized arguments: --thraeds (did you mean --threads?)"),
        (
            ["--max-body", "5"],
            "unrecognized arguments: --max-body (did you mean --max-body-bytes?)",
        ),
        (["--acess-log"], "unrecognized arguments: --acess-log (did you mean --access-log?)"),
        (["--nope"], "unrecognized arguments: --nope (see --help)"),
    ],
)
def test_a_mistyped_or_abbreviated_option_is_refused_with_a_suggestion(
    args: list[str], message: str
) -> None:
    with pytest.raises(UsageError) as raised:
        parse_command(args, {})
    assert str(raised.value) == message


def test_a_variable_with_the_prefix_that_is_no_setting_is_warned_about(tmp_path: Path) -> None:
    assert _unknown_variables(
        {"WSGI_SIMPLE_SERVER_THREAD": "2", "WSGI_SIMPLE_SERVER_APP": "a:b", "PATH": "/bin"}
    ) == [
        "ignoring WSGI_SIMPLE_SERVER_APP: it is not a setting (the variables are listed in --help)",
        (
            "ignoring WSGI_SIMPLE_SERVER_THREAD: it is not a setting"
            " (did you mean WSGI_SIMPLE_SERVER_THREADS?)"
        ),
    ]
    known = {
        "WSGI_SIMPLE_SERVER_THREADS": "2",
        "WSGI_SIMPLE_SERVER_PORT": "",
        "WSGI_SIMPLE_SERVER_WORKERS": "2",
    }
    assert _unknown_variables(known) == []
    result = run_cli("no_such_module", cwd=tmp_path, env={"wsgi_simple_server_threads": "2"})
    assert result.returncode == 2
    assert (
        "[WARNING] ignoring wsgi_simple_server_threads: it is not a setting"
        " (did you mean WSGI_SIMPLE_SERVER_THREADS?)" in result.stderr
    )


# -- files and directories that are not there ---------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # watchfiles raised FileNotFoundError("No path was found.") as a traceback
        (["--reload", "--reload-dir", "missing"], "--reload-dir missing: no such directory"),
        # the import failed as "cannot import module", the directory unnamed
        (["--app-dir", "missing", "app:application"], "--app-dir missing: no such directory"),
    ],
)
def test_a_directory_that_is_not_there_is_named(
    args: list[str], message: str, tmp_path: Path
) -> None:
    assert one_line_error(run_cli("--port", "0", *args, cwd=tmp_path)) == message


def test_a_log_config_whose_handler_fails_says_why(tmp_path: Path) -> None:
    # dictConfig's own message, "Unable to configure handler 'file'", is all there was.
    (tmp_path / "log.json").write_text(
        '{"version": 1, "handlers": {"file": {"class": "logging.FileHandler",'
        ' "filename": "missing/server.log"}}, "root": {"handlers": ["file"]}}'
    )
    message = one_line_error(run_cli("--log-config", "log.json", cwd=tmp_path))
    assert message == (
        "--log-config log.json: Unable to configure handler 'file':"
        f" [Errno 2] No such file or directory: '{tmp_path / 'missing' / 'server.log'}'"
    )
    (tmp_path / "log.ini").write_text("[loggers]\nkeys=root\n")
    message = one_line_error(run_cli("--log-config", "log.ini", cwd=tmp_path))
    assert message == "--log-config log.ini: KeyError: 'formatters'"


def test_a_relative_module_name_is_refused_in_one_line() -> None:
    # importlib's TypeError named a file of the standard library
    with pytest.raises(AppLoadError, match=r"^application '\.app:application': a relative module"):
        load_app(".app:application")


def test_a_backlog_past_what_listen_takes_is_capped_not_a_traceback() -> None:
    # socket.listen raised OverflowError for a backlog past a C int
    config = ServerConfig(backlog=10**12)
    with make_server("127.0.0.1", 0, demo_app, config=config) as server:
        assert server.socket.getsockname()[1] > 0


def test_ctrl_c_while_the_application_imports_is_one_line_not_a_traceback(
    tmp_path: Path,
) -> None:
    (tmp_path / "slow.py").write_text("raise KeyboardInterrupt  # as Ctrl-C lands here\n")
    result = run_cli("--port", "0", "slow:application", cwd=tmp_path)
    assert result.returncode == 130
    assert result.stderr == "python -m wsgi_simple_server: interrupted while starting\n"


def test_a_second_sigint_stops_at_once_without_waiting_for_the_requests_in_flight(
    tmp_path: Path,
) -> None:
    # It waited the whole --shutdown-timeout-s for a stuck request, whatever was pressed.
    (tmp_path / "stuck.py").write_text(
        "import time\ndef application(environ, start_response):\n    time.sleep(300)\n"
    )
    proc = subprocess.Popen(
        [*CLI, "stuck:application", "--port", "0", "--shutdown-timeout-s", "120"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        serving = proc.stdout.readline()
        port = int(serving.split(" port ")[1].split()[0])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            for line in proc.stderr:  # the request is in flight once it is accepted
                if "listening at" in line:
                    break
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            for line in proc.stderr:
                if "SIGINT: stopping" in line:
                    assert "SIGINT again to stop at once" in line
                    break
            started = time.monotonic()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 128 + signal.SIGINT
            assert time.monotonic() - started < 20
        rest = proc.stderr.read()
        assert "SIGINT again: exiting now, cutting off the requests in flight" in rest
        assert "Traceback" not in rest
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_a_bracketed_ipv6_host_and_an_upper_case_log_level_are_taken() -> None:
    # "--host [::1]" failed as "cannot listen on [[::1]]:8000"; "--log-level DEBUG" was
    # an invalid choice
    command = parse_command(["--host", "[::1]", "--log-level", "DEBUG"], {})
    assert (command.host, command.log_level) == ("::1", "debug")
    assert parse_command([], {"WSGI_SIMPLE_SERVER_HOST": "[::]"}).host == "::"


def test_help_and_version_work_whatever_the_variables_say() -> None:
    # They failed with the variable's error: the variables were read before the options.
    for option in ("--help", "--version"):
        result = run_cli(option, env={"WSGI_SIMPLE_SERVER_THREADS": "x"})
        assert (result.returncode, result.stderr) == (0, "")


def test_a_timeout_longer_than_poll_takes_waits_instead_of_killing_the_worker(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "--body-timeout-s 1e9" (a user's "never") made poll() raise OverflowError in the
    # worker: "worker thread 0 died", the request unanswered. (send_timeout_s waits
    # through the same code.)
    config = ServerConfig(body_timeout_s=1e9)
    with make_server("127.0.0.1", 0, demo_app, config=config) as server:
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        try:
            port = server.socket.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                # demo_app does not read the body: the server drains the rest of it,
                # waiting for bytes that come late.
                client.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab")
                time.sleep(0.3)
                client.sendall(b"cd")
                head = client.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert "died" not in caplog.text
        finally:
            server.shutdown()
            serving.join(10)


def test_ctrl_c_under_reload_stops_the_server_process_gracefully_once(tmp_path: Path) -> None:
    # The terminal sends SIGINT to the reloader and its server process alike; the
    # reloader then sends SIGTERM, which the server took for a second Ctrl-C.
    (tmp_path / "app.py").write_text(
        "import time\n"
        "def application(environ, start_response):\n"
        "    time.sleep(2)\n"
        "    start_response('200 OK', [])\n"
        "    return [b'ok']\n"
    )
    proc = subprocess.Popen(
        [*CLI, "app:application", "--port", "0", "--reload", "--no-access-log"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's job
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        port = int(proc.stdout.readline().split(" port ")[1].split()[0])
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            time.sleep(0.5)  # in flight
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
            assert client.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        assert proc.wait(30) == 0
        log = proc.stderr.read()
        assert "again: exiting now" not in log
        assert "] stopped: " in log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--keyfile", "k.pem"], {}, "--keyfile is a TLS setting: it needs --certfile"),
        (
            ["--certfile", "c.pem", "--cert-reqs", "2"],
            {},
            "--cert-reqs asks for client certificates: it needs --ca-certs",
        ),
        (
            [],
            {"WSGI_SIMPLE_SERVER_CIPHERS": "HIGH"},
            "WSGI_SIMPLE_SERVER_CIPHERS is a TLS setting: it needs WSGI_SIMPLE_SERVER_CERTFILE",
        ),
    ],
)
def test_a_setting_another_needs_is_named_as_the_user_writes_it(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    # It said "it needs certfile", "it needs ca_certs": the field, not the option.
    with pytest.raises(UsageError) as raised:
        parse_command(argv, environ)
    assert str(raised.value) == message


ASYNC_MODULE = """
async def create_app():
    pass

async def asgi_app(scope, receive, send):
    pass

class ASGIApp:
    async def __call__(self, scope, receive, send):
        pass

asgi_instance = ASGIApp()

def create(name):
    def application(environ, start_response):
        return []
    return application
"""


@pytest.mark.parametrize(
    ("target", "message"),
    [
        # it said "taking (scope, receive, send) ... (a factory? then ...())"
        ("asgi_app", "'{m}:asgi_app' is an object of type function, which is async (an ASGI"),
        ("asgi_instance", "'{m}:asgi_instance' is an object of type ASGIApp, which is async"),
        # it said "returned an object of type coroutine", and Python warned at exit
        # that the coroutine was never awaited (a traceback under -W error)
        ("create_app()", "the factory '{m}:create_app()' is an async function"),
        # it named the loader's own line as where the error was
        (
            "create()",
            (
                "factory '{m}:create()' raised TypeError: create() missing 1 required"
                " positional argument: 'name'"
            ),
        ),
    ],
)
def test_an_asgi_application_or_a_factory_called_wrongly_is_told_plainly(
    target: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"usage_async_{abs(hash(target))}"
    (tmp_path / f"{module}.py").write_text(ASYNC_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AppLoadError) as raised:
        load_app(f"{module}:{target}")
    assert str(raised.value).startswith(message.format(m=module))
    assert "_app_loader.py" not in str(raised.value)


def test_an_async_factory_leaves_no_warning_under_w_error(tmp_path: Path) -> None:
    (tmp_path / "asyncfactory.py").write_text(ASYNC_MODULE)
    result = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", *CLI[1:], "asyncfactory:create_app()"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert one_line_error(result).startswith(
        "the factory 'asyncfactory:create_app()' is an async function"
    )


def test_a_stdout_nobody_reads_does_not_stop_the_server(tmp_path: Path) -> None:
    # The serving line raised BrokenPipeError: a traceback, and no server.
    proc = subprocess.Popen(
        [*CLI, "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()  # its reader is gone before it writes
        for line in proc.stderr:
            if match := re.search(r"listening at http://127\.0\.0\.1:(\d+)/", line):
                port = int(match.group(1))
                break
        else:
            pytest.fail("no 'listening at' line")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert client.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        log = proc.stderr.read()
        assert "Traceback" not in log
    finally:
        proc.kill()
        proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def test_reload_include_adds_to_the_python_files_as_uvicorns_does() -> None:
    # "--reload-include '*.html'" replaced *.py: the code itself was no longer watched.
    command = parse_command(["--reload", "--reload-include", "*.html"], {})
    assert command.reload_includes == ("*.py", "*.html")
    assert parse_command(["--reload"], {}).reload_includes == ("*.py",)


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX's")
def test_a_sighup_while_the_application_imports_restarts_it_once_serving(
    tmp_path: Path,
) -> None:
    # SIGHUP's default action ended the process (status 129, no word) when a reload
    # was asked for during the start-up, before the handler was set.
    (tmp_path / "slow_import.py").write_text(
        "import pathlib, time\n"
        "pathlib.Path('importing').write_text('')\n"
        "time.sleep(1.5)\n"
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'ok']\n"
    )
    proc = subprocess.Popen(
        [*CLI, "slow_import:application", "--bind", "127.0.0.1:0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        while not (tmp_path / "importing").exists():
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGHUP)  # while it imports
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "passed in LISTEN_FDS" in line:  # restarted on its sockets
                break
        assert proc.poll() is None, lines
        for line in proc.stdout:
            if match := re.search(r"Serving HTTP on 127\.0\.0\.1 port (\d+)", line):
                port = int(match.group(1))
                break
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert client.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_stop_counts_a_request_served_as_its_connection_is_accepted_as_in_flight(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The first connection of an accepted batch is served at once, and was not marked
    # busy: the shutdown log said "0 request(s) in flight finished, ... 1 idle
    # connection(s) closed" for a request the application was running.
    running, release = threading.Event(), threading.Event()

    def slow_app(environ: dict[str, object], start_response: Any) -> list[bytes]:
        running.set()
        release.wait(10)
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    caplog.set_level(logging.INFO, logger="wsgi_simple_server")
    with make_server("127.0.0.1", 0, slow_app) as server:
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        port = server.socket.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert running.wait(10)
            stopping = threading.Thread(target=server.shutdown, daemon=True)
            stopping.start()
            time.sleep(0.2)  # the stop has counted what is open
            release.set()
            assert client.recv(65536).startswith(b"HTTP/1.1 200 OK\r\n")
            stopping.join(10)
        serving.join(10)
    assert "stopped: 1 request(s) in flight finished, 0 cut off" in caplog.text
    assert "0 idle connection(s) closed" in caplog.text


# -- values that would do what nobody meant -------------------------------------------


@pytest.mark.parametrize(
    ("args", "environ", "message"),
    [
        # An unset variable in a compose file must not open the server to every network.
        ([], {"WSGI_SIMPLE_SERVER_HOST": ""}, "WSGI_SIMPLE_SERVER_HOST is empty"),
        (["--host", ""], {}, "--host is empty"),
        (["--host", " "], {}, "--host is empty"),
        (["--threads", "10001"], {}, "--threads must be from 1 to 10000, got 10001"),
        (["--handoff-s", "1e-9"], {}, "--handoff-s must be from 0.001 to 60"),
    ],
)
def test_a_value_that_would_expose_or_exhaust_the_server_is_refused(
    args: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        parse_command(args, environ)


def test_gunicorns_access_logformat_is_an_alias() -> None:
    command = parse_command(["--access-logformat", "%(h)s %(s)s"], {})
    assert command.config.access_log_format == "%(h)s %(s)s"


def test_a_bind_with_an_unknown_scheme_says_so() -> None:
    message = one_line_error(run_cli("--bind", "tcp://127.0.0.1:0"))
    assert "tcp:// is not a kind of listener here" in message, message
