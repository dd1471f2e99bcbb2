"""Install-alone check: every package works with only what it declares.

For each package under ``packages/``: build its wheel, create a fresh virtual
environment, install the wheel with ``--no-index`` so that only its declared
dependencies can come in (siblings from the wheels just built, nothing else),
import every one of its modules and make one real call. A package that imports
something it does not declare fails here.
"""

import sys
import tempfile
from pathlib import Path

from workspace_dists import SMOKE_CALLS, build_wheels, fresh_env, packages, run, smoke_script


def main() -> int:
    """Build, install alone and smoke-test every package; return an exit status."""
    found = packages()
    missing = [package.import_name for package in found if package.import_name not in SMOKE_CALLS]
    if missing:
        print(f"no smoke call defined for {missing}", file=sys.stderr)
        return 1
    failures = 0
    with tempfile.TemporaryDirectory(prefix="install-alone-") as tmp:
        wheels = Path(tmp, "wheels")
        build_wheels(wheels)
        for package in found:
            try:
                python = fresh_env(Path(tmp, package.dist), wheels, package.dist)
                run(python, "-I", "-c", smoke_script(package.import_name))
            except RuntimeError as error:
                failures += 1
                print(f"FAIL {package.dist}: {error}", file=sys.stderr)
            else:
                print(f"ok   {package.dist}: installs alone, imports, smoke call passes")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
