"""The command line as a new user tries it: edge values, typos, signals at awkward
moments, files that are not there; each mistake one line and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from wsgi_simple_server import demo_app, make_server

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
