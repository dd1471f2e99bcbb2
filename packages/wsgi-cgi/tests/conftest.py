"""Real web servers for the wsgi-cgi tests: installed when missing, run from a temp folder.

The servers listen on a free loopback port, with a configuration written to a
temporary folder, and are stopped by the fixture's finalizer. A missing server is
installed with apt-get (as root only); if that is impossible the tests fail with a
message saying why: they are never skipped.
"""

import contextlib
import http.client
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import wsgi_cgi
import wsgi_handlers
import wsgi_headers
import wsgi_util

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0

# The WSGI application the CGI script serves (its source goes into the script).
CGI_APP_SOURCE = """
import hashlib
import json


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/raise":
        raise RuntimeError("boom from the cgi app")
    if path == "/status":
        start_response("418 I'm a teapot", [("Content-Type", "text/plain")])
        return [b"short and stout"]
    if path == "/cookies":
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Set-Cookie", "a=1; Path=/"),
                ("Set-Cookie", "b=2; Path=/"),
                ("Set-Cookie", "c=3; HttpOnly"),
            ],
        )
        return [b"cookies"]
    body = environ["wsgi.input"].read()
    report = {
        "method": environ["REQUEST_METHOD"],
        "query": environ.get("QUERY_STRING", ""),
        "path_info_hex": path.encode("latin-1").hex(),
        "scheme": environ["wsgi.url_scheme"],
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "content_length": environ.get("CONTENT_LENGTH"),
        "terminated": environ.get("wsgi.input_terminated", False),
        "run_once": environ["wsgi.run_once"],
        "input_type": type(environ["wsgi.input"]).__name__,
    }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(report).encode("ascii")]
"""

_apt_updated = False


def workspace_source_dirs() -> list[str]:
    """The src folders of the packages the CGI script imports."""
    return [
        str(Path(m.__file__ or "").resolve().parent.parent)
        for m in (wsgi_cgi, wsgi_handlers, wsgi_headers, wsgi_util)
    ]


def write_cgi_script(folder: Path, name: str, interpreter: str) -> Path:
    """Write an executable CGI script serving CGI_APP_SOURCE through wsgi_cgi.CGIHandler."""
    script = folder / name
    script.write_text(
        f"#!{interpreter}\n"
        "import sys\n"
        f"sys.path[:0] = {workspace_source_dirs()!r}\n"
        f"{CGI_APP_SOURCE}\n"
        "from wsgi_cgi import CGIHandler\n"
        "CGIHandler().run(app)\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def find_binary(names: list[str]) -> str | None:
    for name in names:
        if os.path.isabs(name) and os.access(name, os.X_OK):
            return name
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure_installed(package: str, binaries: list[str]) -> str:
    """Return the server binary, installing *package* with apt-get when it is missing."""
    global _apt_updated  # noqa: PLW0603 - apt-get update once per session
    binary = find_binary(binaries)
    if binary:
        return binary
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        pytest.fail(f"{package} is not installed and apt-get is unavailable: install {package}")
    if os.geteuid() != 0:
        pytest.fail(f"{package} is not installed and only root may install it: install {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [] if _apt_updated else [[apt_get, "update", "-qq"]]
    steps.append([apt_get, "install", "-y", "-qq", "--no-install-recommends", package])
    for step in steps:
        proc = subprocess.run(
            step, capture_output=True, text=True, env=env, timeout=600, check=False
        )
        if proc.returncode != 0:
            pytest.fail(f"{' '.join(step)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        _apt_updated = True
    binary = find_binary(binaries)
    if binary is None:
        pytest.fail(f"{package} was installed but none of {binaries} is there")
    return binary


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WebServer:
    """A running web server with a CGI script at /app.cgi."""

    name: str
    port: int
    folder: Path
    error_log: Path
    process: subprocess.Popen[bytes]

    def connect(self, timeout: float = 20.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(
        self, method: str, url: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = self.connect()
        try:
            conn.request(method, url, body=body, headers=headers or {})  # type: ignore[arg-type]
            response = conn.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            conn.close()

    def error_log_text(self) -> str:
        """The server's error log, and its own stderr: a server in the foreground
        (lighttpd -D) hands that to CGI scripts as theirs."""
        logs = [self.error_log, self.folder / f"{self.name}.out"]
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs if p.exists())


def start_server(
    name: str, command: list[str], port: int, folder: Path, error_log: Path
) -> WebServer:
    output = (folder / f"{name}.out").open("wb")
    # A session of its own: Apache signals its whole process group when it stops.
    process = subprocess.Popen(
        command, stdout=output, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True
    )
    output.close()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (folder / f"{name}.out").read_text(errors="replace")[-2000:]
            errors = error_log.read_text(errors="replace")[-2000:] if error_log.exists() else ""
            pytest.fail(f"{name} exited with {process.returncode}: {log} {errors}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return WebServer(name, port, folder, error_log, process)
        except OSError:
            time.sleep(0.05)
    stop_process(process)
    pytest.fail(f"{name} did not listen on 127.0.0.1:{port} within {START_TIMEOUT_S} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)


@contextlib.contextmanager
def server_folder() -> Iterator[Path]:
    """A temporary folder for one server, removed afterwards whatever happened.

    World-readable (0755), so that a server's unprivileged user reaches the script.
    """
    folder = Path(tempfile.mkdtemp(prefix="wsgi-cgi-"))
    try:
        folder.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        (folder / "htdocs").mkdir(mode=0o755)
        (folder / "htdocs").chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running(server: WebServer) -> Iterator[WebServer]:
    """Stop *server* when the block ends."""
    try:
        yield server
    finally:
        stop_process(server.process)


LIGHTTPD_CONF = """
server.modules = ("mod_cgi", "mod_setenv")
server.document-root = "{htdocs}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{error_log}"
server.upload-dirs = ("{folder}")
server.max-request-size = 4096
cgi.assign = (".cgi" => "")
$HTTP["url"] =~ "^/secure/" {{
    setenv.add-environment = ("HTTPS" => "on")
}}
"""


@pytest.fixture(scope="session")
def lighttpd() -> Iterator[WebServer]:
    """lighttpd with mod_cgi serving /app.cgi and /secure/app.cgi (HTTPS=on)."""
    binary = ensure_installed("lighttpd", ["lighttpd", "/usr/sbin/lighttpd"])
    with server_folder() as folder:
        htdocs = folder / "htdocs"
        write_cgi_script(htdocs, "app.cgi", sys.executable)
        (htdocs / "secure").mkdir()
        write_cgi_script(htdocs / "secure", "app.cgi", sys.executable)
        port = free_port()
        error_log = folder / "error.log"
        conf = folder / "lighttpd.conf"
        conf.write_text(
            LIGHTTPD_CONF.format(htdocs=htdocs, port=port, error_log=error_log, folder=folder),
            encoding="utf-8",
        )
        command = [binary, "-D", "-f", str(conf)]
        with running(start_server("lighttpd", command, port, folder, error_log)) as server:
            yield server


APACHE_MODULES_DIR = Path("/usr/lib/apache2/modules")
APACHE_USER = "www-data"

APACHE_CONF = """
ServerRoot "{folder}"
DefaultRuntimeDir "{folder}"
PidFile "{folder}/httpd.pid"
Listen 127.0.0.1:{port}
ServerName localhost
{load_modules}
TypesConfig "{folder}/mime.types"
{user_lines}
StartServers 1
MinSpareServers 1
MaxSpareServers 2
ErrorLog "{error_log}"
LogLevel warn
DocumentRoot "{htdocs}"
<Directory "{htdocs}">
    Options +ExecCGI
    AddHandler cgi-script .cgi
    Require all granted
</Directory>
"""


def _world_reachable(path: Path) -> bool:
    # Every folder on the way searchable by others, the file readable and runnable.
    path = path.resolve()
    if not path.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def python_for_unprivileged_user() -> str:
    """A Python >= 3.11 that a server's unprivileged user may run.

    Apache refuses to run CGI scripts as root, so its scripts run as www-data; the
    development environment's interpreter may sit in root's home. The scripts get
    the workspace sources on ``sys.path`` either way.
    """
    candidates = [sys.executable, shutil.which("python3.11"), shutil.which("python3")]
    candidates += [
        f"{prefix}/bin/python3{v}"
        for prefix in ("/usr", "/usr/local")
        for v in (".11", ".12", ".13", "")
    ]
    for candidate in candidates:
        if candidate is None or not os.path.exists(candidate):
            continue
        if not _world_reachable(Path(candidate)):
            continue
        check = subprocess.run(
            [candidate, "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
            check=False,
            timeout=30,
        )
        if check.returncode == 0:
            return candidate
    pytest.fail("no Python >= 3.11 reachable by an unprivileged user for Apache's CGI scripts")


@pytest.fixture(scope="session")
def apache() -> Iterator[WebServer]:
    """Apache httpd (prefork MPM, mod_cgi) serving /app.cgi."""
    binary = ensure_installed("apache2", ["/usr/sbin/apache2", "apache2"])
    root = os.geteuid() == 0
    interpreter = python_for_unprivileged_user() if root else sys.executable
    with server_folder() as folder:
        htdocs = folder / "htdocs"
        write_cgi_script(htdocs, "app.cgi", interpreter)
        modules = ["mpm_prefork", "authz_core", "mime", "cgi"]
        load_modules = "\n".join(
            f'LoadModule {name}_module "{APACHE_MODULES_DIR / f"mod_{name}.so"}"'
            for name in modules
        )
        (folder / "mime.types").write_text("", encoding="utf-8")
        port = free_port()
        error_log = folder / "error.log"
        conf = folder / "httpd.conf"
        conf.write_text(
            APACHE_CONF.format(
                folder=folder,
                port=port,
                load_modules=load_modules,
                user_lines=f"User {APACHE_USER}\nGroup {APACHE_USER}" if root else "",
                error_log=error_log,
                htdocs=htdocs,
            ),
            encoding="utf-8",
        )
        command = [binary, "-f", str(conf), "-DFOREGROUND"]
        with running(start_server("apache2", command, port, folder, error_log)) as server:
            yield server


@pytest.fixture
def installer() -> Callable[[str, list[str]], str]:
    """``ensure_installed``, for tests of the install step itself."""
    return ensure_installed
