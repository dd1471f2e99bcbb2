"""A real nginx on loopback in front of the server, for the deployment tests.

``nginx_serving`` installs nginx with apt-get when it is missing (as root only, with
``cgi_servers.ensure_installed``), writes a configuration to a fresh temporary folder
around the fragments the documentation shows (``tools/docs/pages/deployment/*.conf``,
so that the page and the test cannot drift), starts nginx in the foreground as a
single process (``daemon off; master_process off;``: no worker switches to another
user, so it reaches the temporary folder and its Unix sockets), waits until it
listens, yields, and stops it by its pid on every path. Where nginx cannot be had,
``ServerUnavailableError`` says why: the tests that use it fail, they are never
skipped.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cgi_servers import ServerUnavailableError, ensure_installed, stop_process

DEPLOYMENT_DOCS = Path(__file__).parent / "docs" / "pages" / "deployment"
START_TIMEOUT_S = 15.0
# Debian builds the stream module as a module of its own (libnginx-mod-stream).
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")

_CONF = """\
daemon off;
master_process off;
pid {folder}/nginx.pid;
error_log {folder}/error.log info;
{load_modules}
events {{
    worker_connections 64;
}}
http {{
    access_log {folder}/access.log;
    client_body_temp_path {folder}/temp/body;
    proxy_temp_path {folder}/temp/proxy;
    fastcgi_temp_path {folder}/temp/fastcgi;
    uwsgi_temp_path {folder}/temp/uwsgi;
    scgi_temp_path {folder}/temp/scgi;
{http}
}}
{top}
"""


def nginx_binary() -> str:
    """The nginx binary, installed with apt-get if it is missing."""
    return ensure_installed("nginx", ["nginx", "/usr/sbin/nginx"])


def nginx_version(binary: str) -> str:
    """``nginx/1.22.1``, as ``nginx -v`` says it."""
    proc = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10, check=False)
    match = re.search(r"nginx/\S+", proc.stderr + proc.stdout)
    return match.group(0) if match else "nginx/unknown"


def _version_tuple(version: str) -> tuple[int, ...]:
    """``(1, 22, 1)`` for ``nginx/1.22.1``."""
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def _load_stream_module(binary: str) -> str:
    """The ``load_module`` line the stream module needs, installing it if it is missing
    (empty when nginx has it built in)."""
    proc = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10, check=False)
    options = proc.stderr + proc.stdout
    if "--with-stream" in options and "--with-stream=dynamic" not in options:
        return ""
    module = ensure_installed("libnginx-mod-stream", [str(STREAM_MODULE)], executable=False)
    return f"load_module {module};"


def docs_fragment(name: str, replacements: Mapping[str, str]) -> str:
    """The nginx configuration fragment *name* the documentation shows, with the
    site's values in it replaced by the test's (each must be there)."""
    text = (DEPLOYMENT_DOCS / name).read_text(encoding="utf-8")
    for old, new in replacements.items():
        if old not in text:
            raise AssertionError(f"{name} no longer holds {old!r}: update the test with it")
        text = text.replace(old, new)
    return text


@dataclass
class Nginx:
    """A running nginx: its folder, its version, its process."""

    folder: Path
    version: str
    process: subprocess.Popen[bytes]

    def logs(self) -> str:
        """The error log and nginx's own output (for a failure message)."""
        paths = [self.folder / "error.log", self.folder / "nginx.out"]
        return "".join(p.read_text(errors="replace") for p in paths if p.exists())


@contextlib.contextmanager
def nginx_folder() -> Iterator[Path]:
    """A fresh temporary folder for nginx's configuration, logs and sockets."""
    folder = Path(tempfile.mkdtemp(prefix="wsgi-nginx-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def nginx_serving(
    folder: Path, ports: list[int], *, http: str = "", top: str = "", stream: bool = False
) -> Iterator[Nginx]:
    """Run nginx with *http* inside its ``http`` block and *top* beside it, until the
    block ends; it is ready once it listens on every one of *ports* (127.0.0.1)."""
    binary = nginx_binary()
    load_modules = _load_stream_module(binary) if stream else ""
    (folder / "temp").mkdir(exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(
        _CONF.format(folder=folder, load_modules=load_modules, http=http, top=top),
        encoding="utf-8",
    )
    output = (folder / "nginx.out").open("wb")
    command = [binary, "-p", str(folder), "-c", str(conf)]
    if _version_tuple(nginx_version(binary)) >= (1, 19, 5):
        # The log of the start, before the configuration is read (-e came in 1.19.5;
        # an older nginx writes that to its default error log).
        command += ["-e", str(folder / "error.log")]
    process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=folder)
    output.close()
    nginx = Nginx(folder, nginx_version(binary), process)
    try:
        _wait_listening(nginx, ports)
        yield nginx
    finally:
        stop_process(process)


def _wait_listening(nginx: Nginx, ports: list[int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = list(ports)
    while waiting:
        if nginx.process.poll() is not None:
            raise ServerUnavailableError(
                f"nginx exited with {nginx.process.returncode}: {nginx.logs()[-3000:]}"
            )
        if time.monotonic() > deadline:
            raise ServerUnavailableError(f"nginx did not listen on {waiting}: {nginx.logs()}")
        try:
            with socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.5):
                waiting.pop(0)
        except OSError:
            time.sleep(0.05)
