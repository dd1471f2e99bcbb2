"""The command line: every ServerConfig field as an option and a variable, the
application forms, one-line errors, the startup and shutdown logs, ``--reload``."""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wsgi_simple_server import ServerConfig, _cli
from wsgi_simple_server._app_loader import AppLoadError
from wsgi_simple_server._cli import (
    ALIASES,
    ENV_PREFIX,
    SETTINGS,
    UsageError,
    load_app,
    parse_command,
    read_settings,
)

# A value other than the default for the str fields known here (the generic tests
# take "sample" for a str field not named here). Together with the samples of the
# other fields they make a valid ServerConfig (cert_reqs 1 needs certfile and ca_certs;
# the files are read when the server listens, not here).
STR_SAMPLES = {
    "selector": "poll",
    "certfile": "cert.pem",
    "keyfile": "key.pem",
    "ca_certs": "ca.pem",
    "ciphers": "ECDHE+AESGCM",
    "trusted_proxy_headers": "X-Forwarded-Host, x-forwarded-port",
}


def sample(setting: Any) -> tuple[str, object]:
    """A value other than the default: as text, and as the CLI should convert it."""
    default = setting.default
    if setting.is_switch:
        return ("false" if default else "true"), not default
    if setting.kind == "n":
        value: object = (default or 1) + 1
        return str(value), value
    if setting.kind == "number":
        value = (default or 1.0) * 2 + 0.5
        return repr(value), value
    text = STR_SAMPLES.get(setting.name, "sample")
    return text, setting.convert(text)


# -- every field, by option and by variable -------------------------------------------


def test_every_field_of_server_config_has_an_option_and_a_variable() -> None:
    assert [s.name for s in SETTINGS] == [f.name for f in dataclasses.fields(ServerConfig)]
    for setting in SETTINGS:
        assert setting.option == "--" + setting.name.replace("_", "-")
        assert setting.variable == ENV_PREFIX + setting.name.upper()
        assert setting.summary, f"{setting.name} has no :param: entry in the docstring"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_field_is_set_by_its_option(setting: Any) -> None:
    text, value = sample(setting)
    if setting.is_switch:
        argv = [setting.option if value else f"--no-{setting.option[2:]}"]
    else:
        argv = [setting.option, text]
    _, fields = read_settings(argv, {})
    assert fields == {setting.name: (value, argv[0])}


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_field_is_set_by_its_variable(setting: Any) -> None:
    text, value = sample(setting)
    _, fields = read_settings([], {setting.variable: text})
    assert fields == {setting.name: (value, setting.variable)}


@pytest.mark.parametrize(
    "setting",
    [s for s in SETTINGS if s.is_switch or s.kind in ("n", "number")],
    ids=lambda s: s.name,
)
def test_a_bad_variable_is_refused_naming_the_variable(setting: Any) -> None:
    # (Any text is a str or a list: a bad one is refused by ServerConfig, as
    # --selector nope is.)
    with pytest.raises(UsageError, match=rf"^{setting.variable} must be .*, got 'x1'$"):
        read_settings([], {setting.variable: "x1"})


def test_the_config_built_holds_every_value_given() -> None:
    argv: list[str] = []
    expected = {}
    for setting in SETTINGS:
        known = setting.is_switch or setting.kind in ("n", "number")
        if not known and setting.name not in STR_SAMPLES:
            continue  # no value known to be valid for it (a file name, an address)
        text, value = sample(setting)
        if setting.is_switch:
            argv.append(setting.option if value else f"--no-{setting.option[2:]}")
        else:
            argv += [setting.option, text]
        expected[setting.name] = value
    config = parse_command(argv, {}).config
    assert {name: getattr(config, name) for name in expected} == expected


def test_switch_variables_take_the_usual_words() -> None:
    for word in ("1", "true", "Yes", "ON"):
        assert parse_command([], {ENV_PREFIX + "ACCESS_LOG": word}).config.access_log
    for word in ("0", "false", "No", "off"):
        assert not parse_command([], {ENV_PREFIX + "ACCESS_LOG": word}).config.access_log


def test_an_option_wins_over_a_variable_and_a_variable_over_the_default() -> None:
    env = {ENV_PREFIX + "THREADS": "3", ENV_PREFIX + "ACCESS_LOG": "0"}
    assert parse_command([], {}).config.threads == ServerConfig().threads
    assert parse_command([], env).config.threads == 3
    assert parse_command(["--threads", "5"], env).config.threads == 5
    assert parse_command([], env).config.access_log is False
    assert parse_command(["--access-log"], env).config.access_log is True


def test_host_and_port_come_from_options_variables_or_defaults() -> None:
    command = parse_command([], {})
    assert (command.host, command.port) == ("127.0.0.1", 8000)
    env = {ENV_PREFIX + "HOST": "::1", ENV_PREFIX + "PORT": "8081"}
    command = parse_command([], env)
    assert (command.host, command.port) == ("::1", 8081)
    command = parse_command(["--host", "0.0.0.0", "--port", "0"], env)
    assert (command.host, command.port) == ("0.0.0.0", 0)


def test_the_aliases_of_gunicorn_and_uvicorn_set_the_same_fields() -> None:
    assert set(ALIASES) <= {s.name for s in SETTINGS}
    settings = {s.name: s for s in SETTINGS}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            _, fields = read_settings([alias, "7"], {})
            assert fields == {name: (settings[name].convert("7"), alias)}
    config = parse_command(["--limit-request-fields", "50", "--keep-alive", "2"], {}).config
    assert config.max_header_count == 50
    assert config.idle_timeout_s == 2.0
    assert parse_command(["--graceful-timeout", "3"], {}).config.shutdown_timeout_s == 3.0
    # gunicorn's --limit-request-line counts without the CRLF: no alias of a setting
    # that counts it (the gunicorn worker converts it).
    with pytest.raises(UsageError, match="limit-request-line"):
        parse_command(["--limit-request-line", "100"], {})


def test_the_help_shows_units_defaults_and_variables() -> None:
    text = _cli._parser("wsgi-simple-server").format_help()
    for setting in SETTINGS:
        assert setting.option in text
        assert setting.variable in " ".join(text.split())
    assert "--idle-timeout-s SECONDS" in text
    assert "--max-body-bytes BYTES" in text
    assert "default: 1073741824 bytes" in " ".join(text.split())


def test_optional_types_take_an_empty_value_as_unset() -> None:
    convert = _cli._converter(int | None)
    assert convert("") is None
    assert convert("4") == 4
    assert _cli._converter(str | None)("") is None
    assert _cli._converter(float | None)("0.5") == 0.5
    assert _cli._converter(tuple[str, ...])("a, b,,c") == ("a", "b", "c")
    with pytest.raises(TypeError):
        _cli._converter(list[int])


# -- the application ------------------------------------------------------------------


@pytest.fixture
def app_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: Any) -> str:
    """A module of applications and factories, under a name unique to the test."""
    name = "cli_app_" + re.sub(r"\W", "_", request.node.name)
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(
            """
            import types

            def application(environ, start_response):
                start_response("200 OK", [])
                return [b"application"]

            def create_app(greeting="hello", *, twice=False):
                def app(environ, start_response):
                    start_response("200 OK", [])
                    return [greeting.encode() * (2 if twice else 1)]
                return app

            def failing_factory():
                raise RuntimeError("no database")

            def returns_none():
                return None

            holder = types.SimpleNamespace(inner=types.SimpleNamespace(app=application))
            number = 42
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def call(app: Any) -> bytes:
    return b"".join(app({}, lambda status, headers, exc_info=None: None))


def test_application_forms(app_module: str) -> None:
    assert call(load_app(app_module)) == b"application"
    assert call(load_app(f"{app_module}:application")) == b"application"
    assert call(load_app(f"{app_module}:holder.inner.app")) == b"application"
    assert call(load_app(f"{app_module}:create_app()")) == b"hello"
    assert call(load_app(f"{app_module}:create_app('hi', twice=True)")) == b"hihi"
    assert call(load_app(f"{app_module}:create_app", factory=True)) == b"hello"
    assert call(load_app(f"{app_module}:create_app('x')", factory=True)) == b"x"
    command = parse_command([f"{app_module}:create_app", "--factory", "--app-dir", "src"], {})
    assert (command.app, command.factory, command.app_dir) == (
        f"{app_module}:create_app",
        True,
        "src",
    )


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nothing", r"module '{m}' has no attribute 'nothing'"),
        ("holder.nope", r"'{m}:holder' has no attribute 'nope'"),
        ("holder.inner.nope", r"'{m}:holder.inner' has no attribute 'nope'"),
        (
            "number",
            r"'{m}:number' is an object of type int, not a WSGI application \(a callable\)",
        ),
        (
            "create_app",
            (
                r"'{m}:create_app' is an object of type function taking .*"
                r"not \(environ, start_response\) "
                r"\(a factory\? then {m}:create_app\(\) or --factory\)"
            ),
        ),
        (
            "failing_factory()",
            (
                r"factory '{m}:failing_factory\(\)' raised RuntimeError: "
                r"no database \(.*{m}.py, line \d+\)"
            ),
        ),
        (
            "returns_none()",
            (
                r"the factory '{m}:returns_none\(\)' returned an object of type "
                r"NoneType, not a WSGI application \(a callable\)"
            ),
        ),
        ("create_app(__import__('os'))", r"the arguments of the factory .* must be literals .*"),
        ("create_app(*x)", r"application '{m}:create_app\(\*x\)' is not module:name.*"),
        ("1 + 2", r"application '{m}:1 \+ 2' is not module:name.*"),
    ],
)
def test_application_mistakes_are_one_clear_line(
    app_module: str, target: str, message: str
) -> None:
    with pytest.raises(AppLoadError, match="^" + message.format(m=app_module) + "$"):
        load_app(f"{app_module}:{target}")


def test_a_missing_module_and_an_import_failing_inside_a_module_are_told_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "cli_needs_missing_dep.py").write_text("x = 1\nimport cli_no_such_dependency\n")
    with pytest.raises(AppLoadError, match=r"^cannot import module 'cli_nope' \(No module named"):
        load_app("cli_nope:app")
    with pytest.raises(AppLoadError, match=r"^cannot import module 'cli_nope.sub' \(No module"):
        load_app("cli_nope.sub")
    with pytest.raises(
        AppLoadError,
        match=r"^importing module 'cli_needs_missing_dep' failed: ModuleNotFoundError: "
        r"No module named 'cli_no_such_dependency' \(.*cli_needs_missing_dep.py, line 2\)$",
    ):
        load_app("cli_needs_missing_dep:app")


# -- the process: errors, version, help, logs -----------------------------------------

CLI = [sys.executable, "-m", "wsgi_simple_server"]


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, command: Any = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(command or CLI), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


ERRORS = [
    (["--threads", "0"], {}, "--threads must be a positive number, got 0"),
    (["--threads", "many"], {}, "--threads must be an integer, got 'many'"),
    (["--keep-alive", "-1"], {}, "--keep-alive must be a positive number, got -1.0"),
    (["--idle-timeout-s", "nan"], {}, "--idle-timeout-s must be a number, got 'nan'"),
    (["--selector", "nope"], {}, "--selector must be one of default, epoll, kqueue"),
    (["--forwarded-allow-ips", "nope!"], {}, "--forwarded-allow-ips: not an IP address"),
    (
        ["--trusted-proxy-headers", "x-real-ip"],
        {},
        "--trusted-proxy-headers: unknown proxy header 'x-real-ip'",
    ),
    (
        [],
        {"WSGI_SIMPLE_SERVER_TRUSTED_PROXY_HEADERS": "forwarded,x-forwarded-for"},
        "WSGI_SIMPLE_SERVER_TRUSTED_PROXY_HEADERS: forwarded and x-forwarded-* cannot",
    ),
    ([], {"WSGI_SIMPLE_SERVER_THREADS": "0"}, "WSGI_SIMPLE_SERVER_THREADS must be a positive"),
    ([], {"WSGI_SIMPLE_SERVER_THREADS": "x"}, "WSGI_SIMPLE_SERVER_THREADS must be an integer"),
    ([], {"WSGI_SIMPLE_SERVER_ACCESS_LOG": "maybe"}, "WSGI_SIMPLE_SERVER_ACCESS_LOG must be true"),
    (["--port", "70000"], {}, "--port must be a port number from 0 to 65535, got '70000'"),
    ([], {"WSGI_SIMPLE_SERVER_PORT": "http"}, "WSGI_SIMPLE_SERVER_PORT must be a port number"),
    (["--port", "0", "--host", "999.1.1.1"], {}, "cannot listen on 999.1.1.1:0: "),
    (["nope"], {}, "cannot import module 'nope' (No module named 'nope')"),
    (["wsgi_simple_server:x"], {}, "module 'wsgi_simple_server' has no attribute 'x'"),
    (["--nope"], {}, "unrecognized arguments: --nope (see --help)"),
    (["--log-config", "logging.txt"], {}, "--log-config logging.txt: the file name must end in"),
    (["--log-config", "missing.json"], {}, "--log-config missing.json: [Errno 2] No such file"),
]


@pytest.mark.parametrize(("args", "env", "message"), ERRORS, ids=lambda v: str(v)[:40])
def test_each_mistake_is_one_line_and_exit_status_2(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    result = run_cli(*args, cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("python -m wsgi_simple_server: error: " + message), lines[0]


def test_a_port_in_use_is_one_line(busy_port: int) -> None:
    result = run_cli("--port", str(busy_port))
    assert result.returncode == 2
    assert result.stderr == (
        f"python -m wsgi_simple_server: error: cannot listen on 127.0.0.1:{busy_port}: "
        "Address already in use\n"
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad_json.json", "{nope", "--log-config bad_json.json: Expecting property name"),
        ("bad.ini", "[loggers]\nkeys=root\n", "--log-config bad.ini: "),
        ("list.yaml", "- 1\n", "--log-config list.yaml: the file does not hold a mapping"),
        ("wrong.json", '{"version": 2}', "--log-config wrong.json: Unsupported version: 2"),
    ],
)
def test_a_bad_log_config_is_one_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    result = run_cli("--log-config", name, cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("python -m wsgi_simple_server: error: " + message)


def test_version_names_the_distribution_and_python() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert re.fullmatch(
        r"wsgi-simple-server \S+ \((CPython|PyPy) 3\.\d+\.\d+\S*\)\n", result.stdout
    )


def test_the_console_script_and_python_m_name_themselves_in_the_help() -> None:
    result = run_cli("--help")
    assert result.stdout.startswith("usage: python -m wsgi_simple_server [module:app] [options]")
    script = Path(sys.executable).with_name("wsgi-simple-server")
    result = run_cli("--help", command=[str(script)])
    assert result.stdout.startswith("usage: wsgi-simple-server [module:app] [options]")
    result = run_cli("--threads", "0", command=[str(script)])
    assert result.stderr.startswith("wsgi-simple-server: error: --threads must be")


class Served:
    """A CLI process; its output lines (stdout and stderr) are collected as they come."""

    def __init__(self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None):
        self.proc = subprocess.Popen(
            [*CLI, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put("")  # end of output

    def wait_for(self, pattern: str, timeout_s: float = 20.0) -> re.Match[str]:
        """The first line from now on that matches *pattern* (TimeoutError after *timeout_s*)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"no line matching {pattern!r} in {self.lines}") from None
            if not line and self.proc.poll() is not None:
                raise AssertionError(f"exited ({self.proc.returncode}): {self.lines}")
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match

    def port(self) -> int:
        return int(self.wait_for(r"Serving HTTP on \S+ port (\d+) ").group(1))

    def stop(self, signum: int | None = signal.SIGTERM) -> int:
        """Send *signum* (None: none, the process is stopping) and wait for the exit status."""
        if signum is not None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(20)
        finally:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(5)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            while not self._queue.empty():
                self.lines.append(self._queue.get())


def get(port: int, timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).partition(b"\r\n\r\n")[2]


def test_startup_logs_version_threads_event_loop_and_url_and_shutdown_logs_the_drain() -> None:
    served = Served("--port", "0", "--threads", "3", "--selector", "poll", "--no-access-log")
    try:
        start = served.wait_for(r"\[INFO\] (wsgi-simple-server .*)$").group(1)
        assert re.fullmatch(
            r"wsgi-simple-server \S+ \(\w+ 3[\d.]+\): application wsgi_simple_server:demo_app,"
            r" 3 worker threads, PollSelector event loop",
            start,
        )
        port = int(served.wait_for(r"\[INFO\] listening at http://127\.0\.0\.1:(\d+)/$").group(1))
        # On stdout, as http.server prints it.
        assert served.wait_for("^Serving HTTP on .*").group(0) == (
            f"Serving HTTP on 127.0.0.1 port {port} ..."
        )
        assert b"Hello world!" in get(port)
        served.proc.send_signal(signal.SIGTERM)
        served.wait_for(
            r"\[INFO\] SIGTERM: stopping \(requests in flight get 10 s;"
            r" SIGTERM again to stop at once\)$"
        )
        served.wait_for(
            r"\[INFO\] stopped: 0 request\(s\) in flight finished, 0 cut off at the 10 s "
            r"shutdown timeout, 0 idle connection\(s\) closed$"
        )
    finally:
        assert served.stop(None) == 0


SLOW_APP = """\
import sys, time

def application(environ, start_response):
    sys.stderr.write("request started\\n")
    time.sleep(float(environ["QUERY_STRING"]))
    start_response("200 OK", [])
    return [b"finished"]
"""


@pytest.mark.parametrize(
    ("sleep_s", "timeout_s", "expected", "body"),
    [
        ("1", "10", "1 request(s) in flight finished, 0 cut off at the 10 s", b"finished"),
        ("3", "0.2", "0 request(s) in flight finished, 1 cut off at the 0.2 s", b""),
    ],
)
def test_shutdown_logs_the_requests_it_let_finish_cut_off_and_the_idle_connections(
    tmp_path: Path, sleep_s: str, timeout_s: str, expected: str, body: bytes
) -> None:
    (tmp_path / "slow_app.py").write_text(SLOW_APP)
    served = Served(
        "slow_app", "--port", "0", "--shutdown-timeout-s", timeout_s, "--threads", "2",
        cwd=tmp_path,
    )  # fmt: skip
    port = served.port()
    with (
        socket.create_connection(("127.0.0.1", port), timeout=15) as idle,
        socket.create_connection(("127.0.0.1", port), timeout=15) as busy,
    ):
        try:
            busy.sendall(f"GET /?{sleep_s} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            served.wait_for("^request started$")
            served.proc.send_signal(signal.SIGTERM)
            served.wait_for(rf"\[INFO\] stopped: {re.escape(expected)} shutdown timeout, "
                            r"1 idle connection\(s\) closed$")  # fmt: skip
            assert b"".join(iter(lambda: busy.recv(65536), b"")).endswith(body)
            assert idle.recv(1) == b""
        finally:
            assert served.stop(None) == 0


def test_an_ipv6_address_is_bracketed_in_the_url() -> None:
    if not socket.has_ipv6:
        pytest.fail("the machine has no IPv6 loopback")
    served = Served("--host", "::1", "--port", "0")
    try:
        port = int(served.wait_for(r"\[INFO\] listening at http://\[::1\]:(\d+)/$").group(1))
        assert (
            served.wait_for("^Serving HTTP on .*").group(0)
            == f"Serving HTTP on ::1 port {port} ..."
        )
    finally:
        assert served.stop(signal.SIGINT) == 0


def test_a_factory_with_arguments_is_served(tmp_path: Path) -> None:
    (tmp_path / "factory_app.py").write_text(
        "def create(word):\n"
        "    def app(environ, start_response):\n"
        "        start_response('200 OK', [])\n"
        "        return [word.encode()]\n"
        "    return app\n"
    )
    served = Served("factory_app:create('made')", "--port", "0", cwd=tmp_path)
    try:
        assert get(served.port()) == b"made"
    finally:
        assert served.stop() == 0


def test_app_dir_is_searched_first(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "dir_app.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'from src']\n"
    )
    served = Served("dir_app", "--app-dir", "src", "--port", "0", cwd=tmp_path)
    try:
        assert get(served.port()) == b"from src"
    finally:
        assert served.stop() == 0


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "logging.json",
            (
                '{"version": 1, "formatters": {"f": {"format": "JSONCONF %(message)s"}},'
                ' "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "f"}},'
                ' "loggers": {"wsgi_simple_server": {"handlers": ["h"], "level": "INFO"}}}'
            ),
        ),
        (
            "logging.yaml",
            (
                "version: 1\nformatters: {f: {format: 'JSONCONF %(message)s'}}\n"
                "handlers: {h: {class: logging.StreamHandler, formatter: f}}\n"
                "loggers: {wsgi_simple_server: {handlers: [h], level: INFO}}\n"
            ),
        ),
        (
            "logging.ini",
            (
                "[loggers]\nkeys=root,server\n[handlers]\nkeys=h\n[formatters]\nkeys=f\n"
                "[logger_root]\nhandlers=\n[logger_server]\nqualname=wsgi_simple_server\n"
                "level=INFO\nhandlers=h\n[handler_h]\nclass=StreamHandler\nformatter=f\n"
                "args=(sys.stderr,)\n[formatter_f]\nformat=JSONCONF %(message)s\n"
            ),
        ),
    ],
)
def test_log_config_files_configure_the_startup_log(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    served = Served("--log-config", name, "--port", "0", cwd=tmp_path)
    try:
        served.wait_for(r"^JSONCONF listening at http://127\.0\.0\.1:\d+/$")
        # The access log keeps its own handler (the config did not disable it).
    finally:
        assert served.stop() == 0


def test_log_level_sets_the_level_of_the_server_logger() -> None:
    logger = logging.getLogger("wsgi_simple_server")
    saved = logger.level, logger.handlers[:], logger.propagate
    try:
        _cli._configure_logging(parse_command(["--log-level", "warning"], {}))
        assert logger.getEffectiveLevel() == logging.WARNING
        assert not logger.isEnabledFor(logging.INFO)
    finally:
        logger.setLevel(saved[0])
        logger.handlers[:] = saved[1]
        logger.propagate = saved[2]


# -- reload ---------------------------------------------------------------------------

RELOAD_APP = """\
def application(environ, start_response):
    start_response("200 OK", [])
    return [{body!r}]
"""


def poll_until(port: int, body: bytes, timeout_s: float = 30.0) -> None:
    """Ask until the response is *body* (the server restarts meanwhile)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = get(port, timeout=2.0)
        except OSError as exc:
            last = exc
        if last == body:
            return
        time.sleep(0.05)
    raise TimeoutError(f"still {last!r}, not {body!r}, after {timeout_s} s")


def alive(pid: int) -> bool:
    """Whether process *pid* runs (a zombie no one has reaped yet does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_reload_restarts_the_server_on_a_change_and_leaves_no_process(tmp_path: Path) -> None:
    app = tmp_path / "reload_app.py"
    app.write_text(RELOAD_APP.format(body=b"one"))
    served = Served("reload_app", "--reload", "--port", "0", "--no-access-log", cwd=tmp_path)
    try:
        first = int(served.wait_for(r"reloader: started server process (\d+)").group(1))
        port = served.port()
        assert get(port) == b"one"
        app.write_text(RELOAD_APP.format(body=b"two"))
        served.wait_for(r"reloader: reload_app\.py changed: restarting")
        second = int(served.wait_for(r"reloader: started server process (\d+)").group(1))
        poll_until(port, b"two")
        assert second != first
        assert not alive(first)
        # A file not matching --reload-include is not watched: no restart for it.
        (tmp_path / "notes.txt").write_text("x")
        app.write_text("this is not python(\n")
        served.wait_for(r"importing module 'reload_app' failed: SyntaxError")
        served.wait_for(r"server process \d+ exited with status 2; waiting for a change")
        app.write_text(RELOAD_APP.format(body=b"three"))
        third = int(served.wait_for(r"reloader: started server process (\d+)").group(1))
        poll_until(port, b"three")
    finally:
        assert served.stop() == 0
    assert any(line.endswith("reloader: stopped") for line in served.lines)
    assert not any("notes.txt" in line for line in served.lines)
    assert not alive(third), "the server process outlived the reloader"


def test_reload_hands_every_listening_socket_on_and_restarts_on_sighup(tmp_path: Path) -> None:
    (tmp_path / "reload_app.py").write_text(RELOAD_APP.format(body=b"one"))
    path = tmp_path / "app.sock"
    served = Served(
        "reload_app", "--reload", "--bind", "127.0.0.1:0", "--uds", str(path), cwd=tmp_path
    )
    try:
        first = int(served.wait_for(r"reloader: started server process (\d+)").group(1))
        urls = served.wait_for(r"listening at http://127\.0\.0\.1:(\d+)/, unix:(.*)$")
        assert urls.group(2) == str(path)
        port = int(urls.group(1))
        assert get(port) == b"one"
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(path)), timeout=5) as client:
            assert client.get("http://x/").content == b"one"
        served.proc.send_signal(signal.SIGHUP)
        served.wait_for(r"reloader: SIGHUP: restarting")
        second = int(served.wait_for(r"reloader: started server process (\d+)").group(1))
        served.wait_for(r"listening at http://127\.0\.0\.1:\d+/, unix:")
        assert second != first
        assert get(port) == b"one"
    finally:
        assert served.stop() == 0
    assert not path.exists()  # the reloader bound it: its file goes with it


def test_the_server_process_stops_when_its_reloader_is_killed(tmp_path: Path) -> None:
    (tmp_path / "reload_app.py").write_text(RELOAD_APP.format(body=b"one"))
    served = Served("reload_app", "--reload", "--port", "0", cwd=tmp_path)
    try:
        child = int(served.wait_for(r"reloader: started server process (\d+)").group(1))
        assert get(served.port()) == b"one"
        served.proc.kill()  # no chance to stop its child
        served.wait_for(r"the reloader \(process \d+\) is gone: stopping")
        deadline = time.monotonic() + 20
        while alive(child):
            assert time.monotonic() < deadline, "the server process outlived its reloader"
            time.sleep(0.05)
    finally:
        served.stop(None)


def test_reload_without_watchfiles_is_one_line(tmp_path: Path) -> None:
    # A watchfiles that cannot be imported, first on the path.
    (tmp_path / "watchfiles.py").write_text("raise ImportError('not installed')\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    result = run_cli("--reload", "--port", "0", env={"PYTHONPATH": path})
    assert result.returncode == 2
    assert result.stderr == (
        "python -m wsgi_simple_server: error: --reload needs the watchfiles package:"
        " python -m pip install 'wsgi-simple-server[reload]'\n"
    )


# -- the documentation ----------------------------------------------------------------


def test_the_settings_table_in_the_docs_is_the_generated_one() -> None:
    page = Path(__file__).parents[3] / "tools" / "docs" / "pages" / "operations.md"
    text = page.read_text(encoding="utf-8")
    begin, end = "<!-- cli-settings: begin -->\n", "<!-- cli-settings: end -->"
    assert begin in text, f"{page} lost its settings table markers"
    assert end in text, f"{page} lost its settings table markers"
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == _cli.settings_table(), (
        "the settings table in operations.md is stale: run python tools/cli_settings_table.py"
    )


@pytest.mark.parametrize("signum", [signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1])
def test_the_arbiters_other_signals_leave_one_process_serving(signum: int) -> None:
    # gunicorn's arbiter adds a worker on SIGTTIN, removes one on SIGTTOU and reopens
    # its log files on SIGUSR1 (logrotate sends it). By default they stop or kill the
    # process: one process says it ignores them, and goes on serving.
    served = Served("--port", "0")
    try:
        port = served.port()
        served.proc.send_signal(signum)
        served.wait_for(rf"\[WARNING\] {signal.Signals(signum).name} ignored: ")
        assert b"Hello world!" in get(port)
    finally:
        assert served.stop() == 0
