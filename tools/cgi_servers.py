"""Real web servers with mod_cgi on loopback, for the CGI tests.

``lighttpd_serving`` and ``apache_serving`` install the server with apt-get when it
is missing (as root only), write its configuration to a fresh temporary folder,
start it on a free 127.0.0.1 port, yield it, and stop it and remove the folder on
every path. Where a server cannot be had, ``ServerUnavailableError`` says why: the tests
that use them fail, they are never skipped.
"""

import contextlib
import http.client
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
APACHE_MODULES_DIR = Path("/usr/lib/apache2/modules")
APACHE_USER = "www-data"

ScriptWriter = Callable[[Path, str], None]
"""Writes the CGI scripts into the document root, given the interpreter to use."""


class ServerUnavailableError(RuntimeError):
    """The web server is not installed and cannot be installed here, or did not start."""


_apt_updated = False


def ensure_installed(package: str, binaries: list[str], *, executable: bool = True) -> str:
    """Return the server binary, installing *package* with apt-get when it is missing.

    With *executable* false, *binaries* are absolute paths of files that need only
    exist (a server's loadable module).
    """
    global _apt_updated  # noqa: PLW0603 - apt-get update once per process
    binary = _find_binary(binaries, executable)
    if binary:
        return binary
    apt_get = shutil.which("apt-get")
    if apt_get is None:
        raise ServerUnavailableError(f"{package} is not installed and apt-get is unavailable")
    if os.geteuid() != 0:
        raise ServerUnavailableError(f"{package} is not installed and only root may install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = [] if _apt_updated else [[apt_get, "update", "-qq"]]
    steps.append([apt_get, "install", "-y", "-qq", "--no-install-recommends", package])
    for step in steps:
        proc = subprocess.run(
            step, capture_output=True, text=True, env=env, timeout=600, check=False
        )
        if proc.returncode != 0:
            raise ServerUnavailableError(
                f"{' '.join(step)} failed ({proc.returncode}): {proc.stderr[-2000:]}"
            )
        _apt_updated = True
    binary = _find_binary(binaries, executable)
    if binary is None:
        raise ServerUnavailableError(f"{package} was installed but none of {binaries} is there")
    return binary


def _find_binary(names: list[str], executable: bool = True) -> str | None:
    for name in names:
        if os.path.isabs(name) and os.access(name, os.X_OK if executable else os.R_OK):
            return name
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class WebServer:
    """A running web server, its folder (``htdocs`` is the document root) and logs."""

    name: str
    port: int
    folder: Path
    error_log: Path
    process: subprocess.Popen[bytes]

    def request(
        self, method: str, url: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """One request on a fresh connection: status, reason, headers, body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request(method, url, body=body, headers=headers or {})  # type: ignore[arg-type]
            response = conn.getresponse()
            return response.status, response.reason, response.getheaders(), response.read()
        finally:
            conn.close()

    def error_log_text(self) -> str:
        """The error log and the server's own output (a server in the foreground, such
        as ``lighttpd -D``, hands its stderr to the CGI scripts)."""
        logs = [self.error_log, self.folder / f"{self.name}.out"]
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in logs if p.exists())


def _start(name: str, command: list[str], port: int, folder: Path, error_log: Path) -> WebServer:
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
            raise ServerUnavailableError(f"{name} exited with {process.returncode}: {log} {errors}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return WebServer(name, port, folder, error_log, process)
        except OSError:
            time.sleep(0.05)
    stop_process(process)
    raise ServerUnavailableError(
        f"{name} did not listen on 127.0.0.1:{port} in {START_TIMEOUT_S} s"
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process by its pid: TERM, then KILL if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT_S)


@contextlib.contextmanager
def _serving(name: str, command: list[str], port: int, folder: Path) -> Iterator[WebServer]:
    server = _start(name, command, port, folder, folder / "error.log")
    try:
        yield server
    finally:
        stop_process(server.process)


@contextlib.contextmanager
def _server_folder() -> Iterator[Path]:
    # World-readable (0755), so that a server's unprivileged user reaches the scripts.
    folder = Path(tempfile.mkdtemp(prefix="wsgi-cgi-"))
    try:
        folder.chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        (folder / "htdocs").mkdir(mode=0o755)
        (folder / "htdocs").chmod(0o755)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def copy_packages(packages: list[ModuleType], htdocs: Path) -> str:
    """Copy the source of *packages* next to the document root, where a server's
    unprivileged user can read it wherever the workspace is; return that folder."""
    lib = htdocs.parent / "lib"
    for package in packages:
        shutil.copytree(
            Path(package.__file__ or "").parent,
            lib / package.__name__,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    for folder in (lib, *lib.rglob("*")):
        folder.chmod(0o755 if folder.is_dir() else 0o644)
    return str(lib)


def write_cgi_script(path: Path, interpreter: str, source: str, sys_path: list[str]) -> Path:
    """Write an executable Python CGI script: *sys_path* first on ``sys.path``, then
    *source*."""
    path.write_text(
        f"#!{interpreter}\nimport sys\nsys.path[:0] = {sys_path!r}\n{source}\n", encoding="utf-8"
    )
    path.chmod(0o755)
    return path


_LIGHTTPD_CONF = """
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


@contextlib.contextmanager
def lighttpd_serving(write_scripts: ScriptWriter, interpreter: str) -> Iterator[WebServer]:
    """lighttpd with mod_cgi running every ``*.cgi`` below ``htdocs``; requests under
    ``/secure/`` get ``HTTPS=on`` through mod_setenv."""
    binary = ensure_installed("lighttpd", ["lighttpd", "/usr/sbin/lighttpd"])
    with _server_folder() as folder:
        write_scripts(folder / "htdocs", interpreter)
        port = free_port()
        conf = folder / "lighttpd.conf"
        conf.write_text(
            _LIGHTTPD_CONF.format(
                htdocs=folder / "htdocs", port=port, error_log=folder / "error.log", folder=folder
            ),
            encoding="utf-8",
        )
        with _serving("lighttpd", [binary, "-D", "-f", str(conf)], port, folder) as server:
            yield server


_APACHE_CONF = """
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
    # Every folder on the way searchable by others, the file runnable by them.
    path = path.resolve()
    if not path.stat().st_mode & stat.S_IXOTH:
        return False
    return all(parent.stat().st_mode & stat.S_IXOTH for parent in path.parents)


def python_for_unprivileged_user(preferred: str) -> str:
    """A Python >= 3.11 that a server's unprivileged user may run: *preferred* when it
    can, else the system's. Apache refuses to run CGI scripts as root."""
    candidates = [preferred, shutil.which("python3.11"), shutil.which("python3")]
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
    raise ServerUnavailableError("no Python >= 3.11 that an unprivileged user may run")


@contextlib.contextmanager
def apache_serving(write_scripts: ScriptWriter, interpreter: str) -> Iterator[WebServer]:
    """Apache httpd (prefork MPM, mod_cgi) running every ``*.cgi`` in ``htdocs``. As
    root, the scripts run as www-data with an interpreter that user may run."""
    binary = ensure_installed("apache2", ["/usr/sbin/apache2", "apache2"])
    root = os.geteuid() == 0
    with _server_folder() as folder:
        write_scripts(
            folder / "htdocs", python_for_unprivileged_user(interpreter) if root else interpreter
        )
        load_modules = "\n".join(
            f'LoadModule {name}_module "{APACHE_MODULES_DIR / f"mod_{name}.so"}"'
            for name in ("mpm_prefork", "authz_core", "mime", "cgi")
        )
        (folder / "mime.types").write_text("", encoding="utf-8")
        port = free_port()
        conf = folder / "httpd.conf"
        conf.write_text(
            _APACHE_CONF.format(
                folder=folder,
                port=port,
                load_modules=load_modules,
                user_lines=f"User {APACHE_USER}\nGroup {APACHE_USER}" if root else "",
                error_log=folder / "error.log",
                htdocs=folder / "htdocs",
            ),
            encoding="utf-8",
        )
        command = [binary, "-f", str(conf), "-DFOREGROUND"]
        with _serving("apache2", command, port, folder) as server:
            yield server
