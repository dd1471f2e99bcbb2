"""Install-alone check: every package works with only what it declares.

For each package under ``packages/``: build its wheel, create a fresh virtual
environment, install the wheel with ``--no-index`` so that only its declared
dependencies can come in (siblings from the wheels just built, nothing else),
import every one of its modules and make one real call. A package that imports
something it does not declare fails here.

A module that needs an optional extra (``_EXTRA_MODULES``) must, without it, raise
``ImportError`` naming the extra; then the distribution is installed once more with
the extra (its requirements downloaded as wheels first, the rest still ``--no-index``)
and the module's own smoke call runs there.
"""

import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent

# One real call per import name, run inside the package's own environment.
_SMOKE_CALLS = {
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


# gunicorn with ThreadedWorker serving demo_app on a port the system picks: one GET.
_GUNICORN_SMOKE = """\
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
"""

# Modules that need an optional extra of their distribution: the extra, and the
# smoke call run where the distribution is installed with it.
_EXTRA_MODULES = {
    "wsgi_simple_server.workers": ("gunicorn", _GUNICORN_SMOKE),
}


def _packages() -> list[tuple[Path, str, str]]:
    found = []
    for pyproject in sorted(_ROOT.glob("packages/*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        import_name = project["name"].replace("-", "_")
        found.append((pyproject.parent, project["name"], import_name))
    return found


def _run(*args: str | Path) -> None:
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{result.stdout}{result.stderr}")


def _import_everything_then_smoke(import_name: str, dist: str) -> str:
    extras = {
        module: f"{dist}[{extra}]"
        for module, (extra, _) in _EXTRA_MODULES.items()
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
        + _SMOKE_CALLS[import_name]
    )


def _extra_requirements(dist: str, extra: str) -> list[str]:
    """The requirements *dist* declares for its optional extra *extra*."""
    for folder, name, _ in _packages():
        if name == dist:
            project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
            requirements: list[str] = project["optional-dependencies"][extra]
            return requirements
    raise LookupError(dist)


def check_extra(tmp: Path, wheels: Path, module: str) -> None:
    """Install *module*'s distribution with the extra it needs and run its smoke call
    (raises ``RuntimeError`` on failure)."""
    extra, smoke = _EXTRA_MODULES[module]
    dist = next(name for _, name, imp in _packages() if imp == module.partition(".")[0])
    # The extra's requirements come from the package index, as wheels next to ours.
    _run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        wheels,
        *_extra_requirements(dist, extra),
    )
    python = fresh_env(tmp / f"{dist}-{extra}", wheels, f"{dist}[{extra}]")
    _run(python, "-I", "-c", smoke)


def build_wheels(outdir: Path) -> list[str]:
    """Build every package's wheel into *outdir*; return the distribution names."""
    packages = _packages()
    for folder, _, _ in packages:
        _run(sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", outdir, folder)
    return [dist for _, dist, _ in packages]


def fresh_env(env_dir: Path, wheels: Path, *dists: str) -> Path:
    """Create a virtual environment holding *dists* and what they declare, taken only
    from the wheels in *wheels*; return its Python."""
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / "bin" / "python"
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-index",
        "--find-links",
        wheels,
        *dists,
    )
    return python


def main() -> int:
    """Build, install alone and smoke-test every package; return an exit status."""
    packages = _packages()
    missing = [name for _, _, name in packages if name not in _SMOKE_CALLS]
    if missing:
        print(f"no smoke call defined for {missing}", file=sys.stderr)
        return 1
    failures = 0
    with tempfile.TemporaryDirectory(prefix="install-alone-") as tmp:
        wheels = Path(tmp, "wheels")
        build_wheels(wheels)
        for _, dist, import_name in packages:
            try:
                python = fresh_env(Path(tmp, dist), wheels, dist)
                _run(python, "-I", "-c", _import_everything_then_smoke(import_name, dist))
            except RuntimeError as error:
                failures += 1
                print(f"FAIL {dist}: {error}", file=sys.stderr)
            else:
                print(f"ok   {dist}: installs alone, imports, smoke call passes")
        for module, (extra, _) in _EXTRA_MODULES.items():
            try:
                check_extra(Path(tmp), wheels, module)
            except RuntimeError as error:
                failures += 1
                print(f"FAIL {module} with [{extra}]: {error}", file=sys.stderr)
            else:
                print(f"ok   {module}: installs with [{extra}], imports, smoke call passes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
