"""Fixtures shared by the integration suite."""

from pathlib import Path

import pytest
from workspace_dists import build_wheels, fresh_env


@pytest.fixture(scope="session")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a fresh virtual environment holding only the six freshly built
    wheels."""
    base = tmp_path_factory.mktemp("wheels")
    dists = build_wheels(base / "dist")
    return fresh_env(base / "venv", base / "dist", *dists)
