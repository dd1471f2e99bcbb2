"""The six distributions of the workspace: find them, build them, install them into
fresh virtual environments and smoke-test them there.

Shared by ``check_install_alone.py`` (each wheel alone), ``release_check.py`` (each
sdist alone, metadata) and the integration suite's ``wheel_env`` fixture.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One real call per import name, run inside the package's own environment.
SMOKE_CALLS = {
    "wsgi_util": (
        "from wsgi_util import request_uri, setup_testing_defaults\n"
        "env = {}\nsetup_testing_defaults(env)\n"
        "assert request_uri(env) == 'http://127.0.0.1/', request_uri(env)"
    ),
    "wsgi_headers": (
        "from wsgi_headers import Headers\n"
        "assert bytes(Headers([('A', 'b')])) == b'A: b\\r\\n\\r\\n'"
    ),
    "wsgi_validate": (
        "from wsgi_util import setup_testing_defaults\n"
        "from wsgi_validate import validator\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
        "env = {}\nsetup_testing_defaults(env)\n"
        "body = validator(app)(env, lambda s, h, e=None: (lambda data: None))\n"
        "assert list(body) == [b'ok']\nbody.close()"
    ),
    "wsgi_handlers": (
        "import io\n"
        "from wsgi_handlers import SimpleHandler\n"
        "from wsgi_util import setup_testing_defaults\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
        "env = {}\nsetup_testing_defaults(env)\nout = io.BytesIO()\n"
        "SimpleHandler(io.BytesIO(), out, io.StringIO(), env).run(app)\n"
        "assert out.getvalue().startswith(b'HTTP/1.0 200 OK\\r\\n'), out.getvalue()\n"
        "assert out.getvalue().endswith(b'\\r\\n\\r\\nok'), out.getvalue()"
    ),
    "wsgi_simple_server": (
        "import threading, urllib.request\n"
        "from wsgi_simple_server import demo_app, make_server\n"
        "with make_server('127.0.0.1', 0, demo_app) as server:\n"
        "    threading.Thread(target=server.serve_forever, daemon=True).start()\n"
        "    url = f'http://127.0.0.1:{server.server_port}/'\n"
        "    body = urllib.request.urlopen(url, timeout=10).read()\n"
        "    server.shutdown()\n"
        "assert body.startswith(b'Hello world!'), body[:40]"
    ),
    "wsgi_cgi": (
        "import io, os, sys\n"
        "from wsgi_cgi import CGIHandler, read_environ\n"
        "os.environ.update(REQUEST_METHOD='GET', SERVER_NAME='h', SERVER_PORT='80',"
        " SERVER_PROTOCOL='HTTP/1.0', PATH_INFO='/')\n"
        "assert read_environ()['PATH_INFO'] == '/'\n"
        "sys.stdout = io.TextIOWrapper(io.BytesIO())\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'ok']\n"
        "CGIHandler().run(app)\n"
        "out = sys.stdout.buffer.getvalue()\n"
        "assert out.startswith(b'Status: 200 OK\\r\\n') and out.endswith(b'ok'), out"
    ),
}


@dataclass(frozen=True)
class Package:
    """One distribution of ``packages/``, as its ``pyproject.toml`` declares it."""

    folder: Path
    dist: str  # the distribution name, "wsgi-util"
    import_name: str  # "wsgi_util"
    version: str
    requires: tuple[str, ...]  # the distribution names it depends on
    project: dict[str, object]  # the whole [project] table


# gunicorn with ThreadedWorker serving demo_app on a port the system picks: one GET.
GUNICORN_SMOKE = """\
import os, re, subprocess, sys, tempfile, urllib.request
from gunicorn.workers.base import Worker
from wsgi_simple_server.workers import ThreadedWorker
assert issubclass(ThreadedWorker, Worker)
with tempfile.TemporaryDirectory() as tmp:
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
    env['XDG_RUNTIME_DIR'] = tmp  # gunicorn's control socket
    proc = subprocess.Popen(
        [sys.executable, '-I', '-m', 'gunicorn', '-k', 'wsgi_simple_server.workers.ThreadedWorker',
         '-b', '127.0.0.1:0', 'wsgi_simple_server:demo_app'],
        stderr=subprocess.PIPE, text=True, env=env, cwd=tmp)
    try:
        port = None
        for line in proc.stderr:
            if match := re.search(r'Listening at: http://127\\.0\\.0\\.1:(\\d+)', line):
                port = match.group(1)
            if 'Booting worker' in line:
                break
        assert port, 'gunicorn did not start'
        body = urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=10).read()
        assert body.startswith(b'Hello world!'), body[:40]
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stderr.close()
    # The command line's --workers: the same arbiter and worker class, run by it.
    proc = subprocess.Popen(
        [sys.executable, '-I', '-m', 'wsgi_simple_server', '--workers', '2', '--port', '0'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tmp)
    try:
        port = None
        for line in proc.stdout:
            if match := re.search(r'^Serving HTTP on 127\\.0\\.0\\.1 port (\\d+)', line):
                port = match.group(1)
                break
        assert port, 'wsgi-simple-server --workers 2 did not start'
        body = urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=10).read()
        assert body.startswith(b'Hello world!'), body[:40]
    finally:
        proc.terminate()
        proc.stdout.read()
        assert proc.wait(30) == 0, proc.returncode
        proc.stdout.close()
"""

# Modules that need an optional extra of their distribution: the extra, and the
# smoke call run where the distribution is installed with it.
EXTRA_MODULES = {
    "wsgi_simple_server.workers": ("gunicorn", GUNICORN_SMOKE),
}


def packages() -> list[Package]:
    """Every package of the workspace, sorted by folder."""
    found = []
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        requires = tuple(
            re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]
            for requirement in project.get("dependencies", [])
        )
        found.append(
            Package(
                folder=pyproject.parent,
                dist=project["name"],
                import_name=project["name"].replace("-", "_"),
                version=project["version"],
                requires=requires,
                project=project,
            )
        )
    return found


def run(*args: object, env: dict[str, str] | None = None) -> str:
    """Run a command; return its standard output, or raise ``RuntimeError`` with its
    output when it fails."""
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, env=env
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def build(outdir: Path, *, sdist: bool = False) -> list[Package]:
    """Build every package's wheel (and first its sdist, the wheel then built from it,
    when *sdist*) into *outdir* with the current environment's backend; return the
    packages."""
    kinds = ["--sdist", "--wheel"] if sdist else ["--wheel"]
    found = packages()
    for package in found:
        run(
            sys.executable,
            "-m",
            "build",
            *kinds,
            "--no-isolation",
            "--outdir",
            outdir,
            package.folder,
        )
    return found


def build_wheels(outdir: Path) -> list[str]:
    """Build every package's wheel into *outdir*; return the distribution names."""
    return [package.dist for package in build(outdir)]


def fresh_env(
    env_dir: Path,
    find_links: Path,
    *dists: str,
    pip_options: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Path:
    """Create a virtual environment holding *dists* and what they declare, taken only
    from the distributions in *find_links* (no package index); return its Python."""
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / "bin" / "python"
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-index",
        "--find-links",
        find_links,
        *pip_options,
        *dists,
        env=env,
    )
    return python


def smoke_script(import_name: str) -> str:
    """Python source that imports every module of *import_name* (a module of
    ``EXTRA_MODULES`` must instead raise ``ImportError`` naming its extra), then makes
    its one real call (``SMOKE_CALLS``)."""
    dist = import_name.replace("_", "-")
    extras = {
        module: f"{dist}[{extra}]"
        for module, (extra, _) in EXTRA_MODULES.items()
        if module.partition(".")[0] == import_name
    }
    return (
        "import importlib, pkgutil\n"
        f"import {import_name} as package\n"
        f"extras = {extras!r}\n"
        "for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "    if info.name not in extras:\n"
        "        importlib.import_module(info.name)\n"
        "        continue\n"
        "    try:\n"
        "        importlib.import_module(info.name)\n"
        "    except ImportError as exc:\n"
        "        assert extras[info.name] in str(exc), f'{info.name}: {exc}'\n"
        "    else:\n"
        "        raise AssertionError(f'{info.name} imports without {extras[info.name]}')\n"
        + SMOKE_CALLS[import_name]
    )


def environ_with(**extra: str) -> dict[str, str]:
    """A copy of this process's environment with *extra* set."""
    return {**os.environ, **extra}
