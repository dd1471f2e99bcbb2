"""HTTP throughput and latency: wsgi_simple_server against waitress, gunicorn and wsgiref.

Each server runs in its own process(es) pinned to core 1, wrk runs pinned to core 0, on
loopback, one case after the other for ``--duration`` seconds each (5 by default),
``--rounds`` times interleaved (2 by default; the best run of each is kept, as other
load on the machine only ever slows a run down). Every server runs as its users get it
by default: ours and wsgiref.simple_server write their access log (to a discarded
stderr), waitress and gunicorn have none by default; gunicorn is one ``gthread``
worker with ``--threads`` threads. Ours with ``access_log=False`` is an extra row. The
table gives requests per second and p99 latency per server, and our ratios to each.
A second table runs gunicorn with our worker class
(``-k wsgi_simple_server.workers.ThreadedWorker``) beside gunicorn's ``gthread`` and
``sync`` workers, one worker process each.
Ours with the log on and off run one right after the other in each round, and a
second table gives what the access log costs: the best requests per second of each
(and the range over the rounds), and the CPU time the server process spent per
request, which other load on the machine disturbs less than the throughput.
Cases (32 connections each):

* ``keep-alive``: hello world (13 bytes), persistent connections;
* ``close``: hello world with ``Connection: close`` on every request;
* ``64k-body``: a 64 KiB response in one block;
* ``streamed``: a 64 KiB response in 64 blocks of 1 KiB (chunked for HTTP/1.1).

Usage: ``python tools/bench_server.py [--duration S] [--connections N] [--threads N]
[--rounds N] [--cases CASE ...]``
(``hatch run bench server``). Needs ``wrk`` on the PATH (``apt-get install wrk``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref import simple_server

import wsgi_simple_server
from wsgi_simple_server._exchange import EnvironBuilder, Hooks, run_exchange
from wsgi_simple_server._log import AccessLog, access_lines
from wsgi_simple_server._parser import parse_head
from wsgi_simple_server._proxy import trusted_peers
from wsgi_simple_server._server import RequestHooks

HELLO = b"Hello, world!"
BIG = b"x" * 65536
BLOCK = b"y" * 1024


def hello_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [HELLO]


def big_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [BIG]


def stream_app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    for _ in range(64):
        yield BLOCK


APPS = {"hello": hello_app, "big": big_app, "stream": stream_app}
CASES = [
    ("keep-alive", "hello", []),
    ("close", "hello", ["-H", "Connection: close"]),
    ("64k-body", "big", []),
    ("streamed", "stream", []),
]
SERVERS = ["ours", "waitress", "gunicorn", "stdlib"]
EXTRA = "ours-nolog"  # ours with the access log off: an extra row, never instead
# gunicorn's worker classes by server kind: our worker against gunicorn's own (a table
# of their own, after the main one).
GUNICORN_WORKERS = {
    "gunicorn": "gthread",
    "gunicorn-ours": "wsgi_simple_server.workers.ThreadedWorker",
    "gunicorn-sync": "sync",
}
# Log on and off side by side, then the others and gunicorn's worker classes.
ORDER = ["ours", EXTRA, "waitress", "gunicorn", "stdlib", "gunicorn-ours", "gunicorn-sync"]


class Run:
    """One wrk run: requests per second, p99 latency (ms), server CPU per request (µs)."""

    def __init__(self, rps: float, p99_ms: float, cpu_us: float) -> None:
        self.rps = rps
        self.p99_ms = p99_ms
        self.cpu_us = cpu_us


def serve(kind: str, port: int, app_name: str, threads: int) -> None:
    """Run one server in this process until killed."""
    app = APPS[app_name]
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1})
    if kind in {"ours", EXTRA}:
        config = wsgi_simple_server.ServerConfig(access_log=kind == "ours", threads=threads)
        server = wsgi_simple_server.make_server("127.0.0.1", port, app, config=config)
        server.serve_forever()
    elif kind == "waitress":
        waitress: Any = importlib.import_module("waitress")
        waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True)
    else:
        httpd = simple_server.make_server("127.0.0.1", port, app)  # logs, as by default
        httpd.serve_forever()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def _latency_ms(text: str) -> float:
    """Milliseconds from wrk's latency notation (``812.00us``, ``1.20ms``, ``2.00s``, ``1.00m``)."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if m is None:  # e.g. "-nan" when wrk saw no reply at all
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
    return float(m[1]) * scale[m[2]]


def _cpu_s(pid: int) -> float:
    """CPU seconds (user and system) process *pid* has used, from ``/proc``; NaN elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(
    port: int, extra: list[str], duration: int, connections: int, pid: int | None = None
) -> Run:
    """Run wrk against *port*; the CPU per request is that of process *pid* (NaN without)."""
    cmd = [
        "taskset", "-c", "0", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
        *extra, f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    cpu_before = _cpu_s(pid) if pid else float("nan")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    cpu = (_cpu_s(pid) if pid else float("nan")) - cpu_before
    rps_match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    rps = float(rps_match[1]) if rps_match else 0.0
    p99_match = re.search(r"99%\s+(\S+)", out)
    p99 = _latency_ms(p99_match[1]) if p99_match else float("nan")
    count_match = re.search(r"(\d+) requests in", out)
    count = int(count_match[1]) if count_match else 0
    return Run(rps, p99, cpu / count * 1e6 if count else float("nan"))


def measure(kind: str, case: tuple[str, str, list[str]], args: argparse.Namespace) -> Run:
    _, app_name, extra = case
    port = _free_port()
    env = None
    if kind in GUNICORN_WORKERS:
        cmd = [
            "taskset", "-c", "1", sys.executable, "-m", "gunicorn",
            "--chdir", os.path.dirname(os.path.abspath(__file__)),
            "--workers", "1", "--threads", str(args.threads),
            "--worker-class", GUNICORN_WORKERS[kind],
            "--bind", f"127.0.0.1:{port}", f"bench_server:{app_name}_app",
        ]  # fmt: skip
        # gunicorn 25+ opens a control socket under XDG_RUNTIME_DIR (else in $HOME):
        # one per run, so that concurrent gunicorns do not take each other's.
        env = dict(os.environ, XDG_RUNTIME_DIR=tempfile.mkdtemp(prefix="bench-gunicorn-"))
    else:
        cmd = [sys.executable, __file__, "--serve", kind, "--port", str(port)]
        cmd += ["--app", app_name, "--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        _wait_listening(port)
        run_wrk(port, extra, 1, args.connections)  # warm up
        # Ours and wsgiref serve in the process started here (gunicorn in a child).
        pid = None if kind in GUNICORN_WORKERS else proc.pid
        return run_wrk(port, extra, args.duration, args.connections, pid)
    finally:
        proc.terminate()
        proc.wait(10)
        if env is not None:
            shutil.rmtree(env["XDG_RUNTIME_DIR"], ignore_errors=True)


def _ratio(ours: float, other: float) -> float:
    return ours / other if other else float("nan")


def _best(runs: list[Run]) -> Run:
    """The most requests per second, the lowest p99 and the lowest CPU per request."""
    return Run(max(r.rps for r in runs), min(r.p99_ms for r in runs), min(r.cpu_us for r in runs))


def _cost_row(label: str, on: list[Run], off: list[Run]) -> str:
    """What the access log costs, from the runs with it on and off."""
    best_on, best_off = _best(on), _best(off)

    def span(runs: list[Run]) -> str:
        rps = [r.rps for r in runs]
        return f"{max(rps):.0f} [{min(rps):.0f}-{max(rps):.0f}]"

    rps_cost = 1 - _ratio(best_on.rps, best_off.rps)
    cpu_cost = _ratio(best_on.cpu_us, best_off.cpu_us) - 1
    return (
        f"{label:<15} {span(on):>22} {span(off):>22} {rps_cost:>8.1%}"
        f" {best_on.cpu_us:>7.1f} {best_off.cpu_us:>7.1f} {cpu_cost:>8.1%}"
    )


class _NoSocket:
    """The connection of an in-process exchange: its bytes go nowhere."""

    host = "127.0.0.1"
    addr = ("127.0.0.1", 50000)

    def __init__(self, environ_builder: EnvironBuilder) -> None:
        self.environ_builder = environ_builder

    def send_all(self, data: bytes) -> None:
        pass

    def send_parts(self, parts: list[bytes]) -> None:
        pass


class _Site:
    """What an exchange needs of the engine, for one in-process run."""

    def __init__(self, server: wsgi_simple_server.WSGIServer, *, access_log: bool) -> None:
        self.config = wsgi_simple_server.ServerConfig(access_log=access_log)
        self.access_log = AccessLog()
        self.server_software = wsgi_simple_server.software_version
        self.stopping = False
        self.hooks: Hooks = RequestHooks(server)
        self.forwarded_allow = trusted_peers(self.config.forwarded_allow_ips)


def in_process_us(rounds: int = 9, count: int = 20000) -> tuple[float, float]:
    """CPU microseconds of one keep-alive hello request through the server's exchange
    (parse, environ, application, response, access log), in this process and without
    sockets, with the access log on and off: the best of *rounds* runs of *count*
    requests each. The lines go to ``os.devnull`` by batches of 20, as a busy server
    writes them. Other load on the machine disturbs this much less than a wrk run.
    """
    head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\n\r\n"
    config = wsgi_simple_server.ServerConfig()
    best = {True: float("inf"), False: float("inf")}
    with (
        wsgi_simple_server.make_server("127.0.0.1", 0, hello_app) as server,
        open(os.devnull, "w", buffering=1) as devnull,
        contextlib.redirect_stderr(devnull),
    ):
        sites = {log: _Site(server, access_log=log) for log in best}
        conn: Any = _NoSocket(server._environ_builder(server.socket))
        access_lines.hold()
        try:
            for _ in range(rounds):
                for log, site in sites.items():
                    start = time.thread_time()
                    for i in range(count):
                        run_exchange(hello_app, conn, parse_head(head, config), site)
                        if i % 20 == 19:
                            access_lines.flush()
                    best[log] = min(best[log], (time.thread_time() - start) / count * 1e6)
        finally:
            access_lines.release()
    return best[True], best[False]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs per server and case (best kept)"
    )
    parser.add_argument("--threads", type=int, default=4, help="worker threads per server")
    parser.add_argument(
        "--cases",
        nargs="+",
        choices=[case[0] for case in CASES],
        default=[case[0] for case in CASES],
        help="cases to run (default: all)",
    )
    parser.add_argument("--serve", choices=[*SERVERS, EXTRA], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--app", choices=sorted(APPS), help=argparse.SUPPRESS)
    # Run by tools/bench.py ("bench server"), the command line is the dispatcher's:
    # its benchmark names are not ours to refuse.
    args, _ = parser.parse_known_args()
    if args.serve:
        serve(args.serve, args.port, args.app, args.threads)
        return 0
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        print("wrk and taskset are needed: apt-get install wrk", file=sys.stderr)
        return 2
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s on core 0, servers on core 1, "
        f"{args.threads} worker threads, best of {args.rounds} rounds; ours, wsgiref: "
        "access log on (the default); ratios are ours / theirs in requests per second"
    )
    header = (
        f"{'case':<15} {'ours rps':>9} {'waitress':>9} {'gunicorn':>9} {'stdlib':>9}"
        f" {'x wait':>7} {'x guni':>7} {'x std':>7} {'p99 ours':>9} {'p99 wait':>9}"
        f" {'p99 guni':>9}"
    )
    print(header)
    print("-" * len(header))
    worker_rows: list[str] = []
    costs: list[str] = []
    for case in [case for case in CASES if case[0] in args.cases]:
        runs: dict[str, list[Run]] = {kind: [] for kind in ORDER}
        for _ in range(args.rounds):
            for kind, results in runs.items():
                results.append(measure(kind, case, args))
        # Best of the rounds: the machine is shared, and noise only ever slows a run down.
        best = {kind: _best(rs) for kind, rs in runs.items()}
        wait, guni, std = best["waitress"], best["gunicorn"], best["stdlib"]
        for label, ours in ((case[0], best["ours"]), (f"{case[0]} nolog", best[EXTRA])):
            print(
                f"{label:<15} {ours.rps:>9.0f} {wait.rps:>9.0f} {guni.rps:>9.0f} {std.rps:>9.0f}"
                f" {_ratio(ours.rps, wait.rps):>6.2f}x {_ratio(ours.rps, guni.rps):>6.2f}x"
                f" {_ratio(ours.rps, std.rps):>6.2f}x {ours.p99_ms:>7.2f}ms {wait.p99_ms:>7.2f}ms"
                f" {guni.p99_ms:>7.2f}ms",
                flush=True,
            )
        worker, sync = best["gunicorn-ours"], best["gunicorn-sync"]
        worker_rows.append(
            f"{case[0]:<15} {worker.rps:>9.0f} {guni.rps:>9.0f} {sync.rps:>9.0f}"
            f" {_ratio(worker.rps, guni.rps):>8.2f}x {_ratio(worker.rps, sync.rps):>6.2f}x"
            f" {worker.p99_ms:>9.2f}ms {guni.p99_ms:>9.2f}ms {sync.p99_ms:>7.2f}ms"
        )
        costs.append(_cost_row(case[0], runs["ours"], runs[EXTRA]))
    print(
        "\ngunicorn, 1 worker process, --threads as above: -k "
        "wsgi_simple_server.workers.ThreadedWorker against gunicorn's gthread and sync"
    )
    header = (
        f"{'case':<15} {'ours -k':>9} {'gthread':>9} {'sync':>9} {'x gthread':>9} {'x sync':>7}"
        f" {'p99 ours -k':>11} {'p99 gthread':>11} {'p99 sync':>9}"
    )
    print(header)
    print("-" * len(header))
    print("\n".join(worker_rows), flush=True)
    print()
    print(
        "access log cost: ours with the log on (the default) and off, run one after the"
        " other each round; best rps [range], CPU us per request of the server process"
    )
    cost_header = (
        f"{'case':<15} {'log on rps':>22} {'log off rps':>22} {'rps cost':>9}"
        f" {'cpu on':>7} {'cpu off':>7} {'cpu cost':>9}"
    )
    print(cost_header)
    print("-" * len(cost_header))
    for row in costs:
        print(row)
    on, off = in_process_us()
    print(
        f"in-process, no sockets (best of 9 x 20000 keep-alive hello requests): "
        f"{on:.2f} us with the log, {off:.2f} us without: the log's own CPU is "
        f"{on - off:.2f} us a request"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
