"""Fixtures shared by the integration suite."""

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment holding only the six wheels, freshly built."""
    base = tmp_path_factory.mktemp("wheels")
    wheels = base / "dist"
    for folder in sorted(ROOT.glob("packages/*/")):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                str(wheels),
                str(folder),
            ],
            check=True,
            capture_output=True,
        )
    env_dir = base / "venv"
    venv.create(env_dir, with_pip=False, symlinks=True)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-index",
            *sorted(str(w) for w in wheels.glob("*.whl")),
        ],
        check=True,
        capture_output=True,
    )
    return python
