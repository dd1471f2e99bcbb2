"""Every fenced code block of the documentation is run, type-checked or marked.

pytest-markdown-docs runs the ```` ```python ```` blocks (the root ``conftest.py``
collects the markdown files); this module type-checks the same blocks with
``mypy --strict``, runs every command of the shell blocks that is not marked
``notest``, and checks that no block escapes both: a block is python, shell or
```` ```text ````, or carries ``notest`` with a sentence before it saying it is not run.
"""

from __future__ import annotations

import http.client
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

import mypy.api
import pytest
from markdown_blocks import (
    PYTHON,
    ROOT,
    SHELL,
    TEXT,
    Fence,
    fences,
    markdown_files,
    python_blocks,
    relative,
    stray_markdown_files,
)

_FENCES = [fence for path in markdown_files() for fence in fences(path)]
# The workspace's mypy settings: the blocks are checked as its code is.
_MYPY_SETTINGS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
# What the prose before a ``notest`` block says, so that a reader sees it is not run.
_MARKED = re.compile(r"not\s+run|fragment", re.IGNORECASE)


def _shell_commands(fence: Fence) -> list[str]:
    """The commands of a shell block: in ``console`` the lines after a ``$ `` prompt
    (the others are output), elsewhere every line but blanks and comments; a line
    ending in a backslash continues on the next."""
    commands = []
    current = ""
    for line in fence.content.splitlines():
        if not current:
            if fence.language == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]  # noqa: PLW2901
            elif not line.strip() or line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        commands.append(current + line)
        current = ""
    return commands


_COMMANDS = [
    pytest.param(fence, command, id=f"{fence.where}:{number}")
    for fence in _FENCES
    if fence.language in SHELL and fence.runs
    for number, command in enumerate(_shell_commands(fence), 1)
]


def test_every_markdown_file_is_in_the_places_the_suite_collects() -> None:
    assert [relative(path) for path in stray_markdown_files()] == [], (
        "move these files under a folder of markdown_blocks.MARKDOWN_PLACES "
        "(and pytest's testpaths), or add their folder to both"
    )


def test_the_documentation_has_code_blocks() -> None:
    languages = {fence.language for fence in _FENCES if fence.runs}
    assert {"python", "sh", "console"} <= languages, languages


def _tested_elsewhere(included: str) -> bool:
    """Whether a test of the workspace names the file *included* (it then runs it, as
    tests-integration/test_integration_nginx.py runs the nginx configurations that
    tools/docs/pages/deployment/nginx.md includes)."""
    name = Path(included).name
    tests = [*ROOT.glob("tests-integration/**/test_*.py"), *ROOT.glob("packages/*/tests/**/*.py")]
    return any(name in test.read_text(encoding="utf-8") for test in tests)


@pytest.mark.parametrize("fence", _FENCES, ids=[fence.where for fence in _FENCES])
def test_every_block_is_run_or_marked_as_not_run(fence: Fence) -> None:
    if fence.runs and fence.included and fence.language not in PYTHON | SHELL:
        assert (ROOT / fence.included).is_file(), f"{fence.where}: no {fence.included}"
        assert _tested_elsewhere(fence.included), (
            f"{fence.where}: no test names {fence.included}, which this block includes: "
            "run it in a test, or mark the block notest and say why"
        )
    elif fence.runs:
        assert fence.language in PYTHON | SHELL | {TEXT}, (
            f"{fence.where}: a ```{fence.language or '(no language)'} block is never run: "
            "make it ```text, or mark it ```LANGUAGE notest with a sentence before it "
            "saying it is not run and why"
        )
    else:
        assert _MARKED.search(fence.prose), (
            f"{fence.where}: the paragraph before a notest block must say that it is "
            f"not run (or is a fragment), and why; it says: {fence.prose!r}"
        )


def test_the_python_blocks_pass_mypy_strict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One mypy run over every python block that pytest-markdown-docs runs, each block a
    module of its own, with the workspace's settings (and the example project, as when
    the blocks run); errors name the markdown line."""
    search_path = [str(_EXAMPLE_PROJECT.parent), *filter(None, [os.environ.get("MYPYPATH")])]
    monkeypatch.setenv("MYPYPATH", os.pathsep.join(search_path))
    sources: dict[str, str] = {}
    for path in markdown_files():
        for _, source in python_blocks(path):
            block = tmp_path / f"doc_block_{len(sources)}.py"
            block.write_text(source, encoding="utf-8")
            sources[str(block)] = relative(path)
    assert sources, "no python block found"
    stdout, stderr, status = mypy.api.run(
        [
            "--config-file=",
            "--strict",
            "--warn-unreachable",
            f"--python-version={_MYPY_SETTINGS['python_version']}",
            f"--cache-dir={tmp_path / 'mypy-cache'}",
            *sources,
        ]
    )
    for module, markdown in sources.items():
        stdout = stdout.replace(module, markdown)
    assert status == 0, stdout + stderr


# -- shell blocks ---------------------------------------------------------------------

# The example project the documentation names (myproject.wsgi:application, ...).
_EXAMPLE_PROJECT = ROOT / "tools/docs/example/myproject"
_STARTUP_TIMEOUT_S = 20.0
_NO_CACHE = shutil.ignore_patterns("__pycache__")
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _server_command(argv: list[str]) -> list[str] | None:
    """The command that starts a server as *argv* does, run from this interpreter's
    environment, or ``None`` when *argv* does not start one: ``python -m
    wsgi_simple_server``, the ``wsgi-simple-server`` console script, ``gunicorn``."""
    if argv[:3] == ["python", "-m", "wsgi_simple_server"]:
        return [sys.executable, *argv[1:]]
    if argv[:1] in (["wsgi-simple-server"], ["gunicorn"]):
        script = Path(sys.executable).parent / argv[0]
        assert script.exists(), f"{argv[0]} is not installed beside {sys.executable}"
        return [str(script), *argv[1:]]
    return None


def _on_loopback(argv: list[str], cwd: Path) -> list[str]:
    """*argv* with every address it listens on moved to loopback, port 0 (any free
    port), or a Unix socket in *cwd*: tests never listen on other interfaces nor on
    fixed ports or paths."""
    out: list[str] = []
    listens = False
    args = iter(argv)
    for arg in args:
        name, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name not in ("--host", "--port", "--bind", "-b", "--uds", "--fd"):
            out.append(arg)
            continue
        if not equals:
            value = next(args)
        if name == "--fd" or value.startswith("fd://"):
            pytest.fail(f"{shlex.join(argv)}: an inherited socket cannot be passed here")
        if name == "--host":
            value = "::1" if ":" in value else "127.0.0.1"
        elif name == "--port":
            value = "0"
        elif name == "--uds" or value.startswith("unix:"):
            socket_path = cwd / f"server-{len(out)}.sock"
            value = str(socket_path) if name == "--uds" else f"unix:{socket_path}"
        else:  # --bind HOST:PORT or [IPV6]:PORT
            value = "[::1]:0" if value.startswith("[") else "127.0.0.1:0"
        listens = listens or name in ("--bind", "-b", "--uds")
        out += [name, value]
    if Path(argv[0]).name == "gunicorn":
        if not listens:
            out += ["--bind", "127.0.0.1:0"]
    elif not listens and "--port" not in out:
        out += ["--port", "0"]
    return out


# The first address a server names once it listens: "Serving HTTP on 127.0.0.1 port
# 8000, unix:/path ..." (wsgi_simple_server, on stdout), "Listening at:
# http://127.0.0.1:8000" or "Listening at: unix:/path" (gunicorn, on stderr).
_SERVING = re.compile(
    r"Serving HTTP on (?:(?P<host>[^\s,]+) port (?P<port>\d+)|unix:(?P<path>[^\s,]+))"
    r"|Listening at: (?:http://\[?(?P<host2>[^\s\]]+?)\]?:(?P<port2>\d+)|unix:(?P<path2>\S+))"
)


def _wait_for_address(process: subprocess.Popen[str], deadline: float) -> dict[str, str]:
    """Read the server's stdout and stderr until it names the address it listens on;
    return ``host`` and ``port``, or ``path`` (a Unix socket). Raises AssertionError
    with what it printed when it exits or the deadline passes first."""
    assert process.stdout is not None
    assert process.stderr is not None
    printed = ""
    streams = [process.stdout, process.stderr]
    while streams and time.monotonic() < deadline:
        readable, _, _ = select.select(streams, [], [], max(0.0, deadline - time.monotonic()))
        for stream in readable:
            line = stream.readline()
            if not line:
                streams.remove(stream)
            printed += line
            found = _SERVING.search(line)
            if found:
                return {k.rstrip("2"): v for k, v in found.groupdict().items() if v}
    raise AssertionError(f"no address named by {process.args!r}:\n{printed}")


def _get(where: dict[str, str]) -> tuple[int, bytes]:
    """``GET /`` at the address *where* names; the status and the body."""
    if "path" in where:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(where["path"])
            client.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            reply = b"".join(iter(lambda: client.recv(65536), b""))
        head, _, body = reply.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), body
    connection = http.client.HTTPConnection(where["host"], int(where["port"]), timeout=10)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _serve_and_probe(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Start the server on loopback, wait until it names the address it listens on,
    make one request there, stop it with SIGTERM and expect a clean exit."""
    argv = _on_loopback(command, cwd)
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        where = _wait_for_address(process, time.monotonic() + _STARTUP_TIMEOUT_S)
        status, body = _get(where)
        assert status == 200, (status, body[:200])
        assert body
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
        assert process.returncode == 0, out + err
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _run_command(argv: list[str], where: str) -> None:
    """Run one documented command: a server command serves one request on loopback,
    then stops; asking the server for ``--help`` or ``--version`` prints and exits 0.
    Leading ``NAME=value`` words set environment variables, as in a POSIX shell."""
    env = dict(os.environ)
    while argv and _ASSIGNMENT.match(argv[0]):
        name, _, value = argv[0].partition("=")
        env[name] = value
        argv = argv[1:]
    server = _server_command(argv)
    assert server is not None, (
        f"{where}: no test runs {shlex.join(argv)!r}; fence its block notest and say in "
        "the prose before it why it is not run, or teach tools/docs/tests to run it"
    )
    with tempfile.TemporaryDirectory(prefix="doc-command-") as tmp:
        cwd = Path(tmp)
        shutil.copytree(_EXAMPLE_PROJECT, cwd / "myproject", ignore=_NO_CACHE)
        if {"--help", "-h", "--version"} & set(server):
            result = subprocess.run(
                server, cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False
            )
            assert result.returncode == 0, result.stdout + result.stderr
            assert result.stdout
        else:
            _serve_and_probe(server, cwd, env)


@pytest.mark.parametrize(("fence", "command"), _COMMANDS)
def test_shell_command(fence: Fence, command: str) -> None:
    """Each command of a runnable shell block is run here (``_run_command``). Any other
    command has no runner yet: mark its block ``notest`` with the reason, or teach this
    test to run it."""
    _run_command(shlex.split(command, comments=True), fence.where)


def test_the_hatch_serve_script_serves() -> None:
    """``hatch run serve:serve`` (in the README, not run: hatch makes its own
    environment) runs the ``serve`` script of hatch.toml's ``serve`` environment, with
    no arguments; that command is run here."""
    hatch = tomllib.loads((ROOT / "hatch.toml").read_text())
    script = hatch["envs"]["serve"]["scripts"]["serve"].replace("{args}", "")
    _run_command(shlex.split(script), "hatch.toml envs.serve.scripts.serve")
