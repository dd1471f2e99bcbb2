"""The real-server tests install a missing server, or fail saying why: never a skip."""

import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from cgi_servers import ServerUnavailableError

Installer = Callable[[str, list[str]], str]


def test_a_present_binary_is_used_without_apt(
    installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_apt(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("apt-get must not run")

    monkeypatch.setattr(subprocess, "run", no_apt)
    assert installer("coreutils", ["sh"]) == shutil.which("sh")


def test_without_apt_get_the_test_fails_with_a_clear_message(
    installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ServerUnavailableError, match="apt-get is unavailable"):
        installer("nosuchd", ["nosuchd"])


def test_without_root_the_test_fails_with_a_clear_message(
    installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ServerUnavailableError, match="only root may install it"):
        installer("nosuchd", ["nosuchd"])


def test_a_failing_apt_get_fails_the_test_with_its_output(
    installer: Installer, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 100, "", "E: Unable to locate package nosuchd")

    monkeypatch.setattr(
        shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(ServerUnavailableError, match="Unable to locate package nosuchd"):
        installer("nosuchd", ["nosuchd"])
    assert len(calls) == 1  # it stops at the first failing step (update, or install)
    assert calls[0][0] == "/usr/bin/apt-get"
    assert calls[0][1] in {"update", "install"}
