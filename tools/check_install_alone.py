"""Install-alone check: every package works with only what it declares.

For each package under ``packages/``: build its wheel, create a fresh virtual
environment, install the wheel with ``--no-index`` so that only its declared
dependencies can come in (siblings from the wheels just built, nothing else),
import every one of its modules and make one real call. A package that imports
something it does not declare fails here.

A module that needs an optional extra (``EXTRA_MODULES``) must, without it, raise
``ImportError`` naming the extra; then the distribution is installed once more with
the extra (its requirements downloaded as wheels first, the rest still ``--no-index``)
and the module's own smoke call runs there.
"""

import sys
import tempfile
from pathlib import Path

from workspace_dists import (
    EXTRA_MODULES,
    SMOKE_CALLS,
    build_wheels,
    fresh_env,
    packages,
    run,
    smoke_script,
)


def check_extra(tmp: Path, wheels: Path, module: str) -> None:
    """Install *module*'s distribution with the extra it needs and run its smoke call
    (raises ``RuntimeError`` on failure)."""
    extra, smoke = EXTRA_MODULES[module]
    package = next(p for p in packages() if p.import_name == module.partition(".")[0])
    optional = package.project.get("optional-dependencies")
    if not isinstance(optional, dict) or extra not in optional:
        raise RuntimeError(f"{package.dist} declares no extra {extra!r}")
    # The extra's requirements come from the package index, as wheels next to ours.
    run(
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--only-binary=:all:",
        "--dest",
        wheels,
        *optional[extra],
    )
    python = fresh_env(tmp / f"{package.dist}-{extra}", wheels, f"{package.dist}[{extra}]")
    run(python, "-I", "-c", smoke)


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
        for module, (extra, _) in EXTRA_MODULES.items():
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
