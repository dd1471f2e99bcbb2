"""Release check: the six distributions are ready to publish.

For every package under ``packages/``:

1. build its sdist, then its wheel from that sdist;
2. ``twine check --strict`` both (metadata, and the README renders);
3. check the metadata: the licence expression and the licence file (identical to the
   workspace's ``LICENSE``, inside the sdist and the wheel), the project URLs, the
   classifiers (only the Python versions and operating systems the suite runs on),
   and a ``CHANGELOG.md`` in the sdist whose top entry is the version;
4. install the sdist alone into a fresh virtual environment, with no package index:
   its dependencies come only from the siblings' sdists, each built from source;
   then check that the environment holds exactly the package and what it declares,
   import every module and make one real call.

Prints one line per package and check; exits 1 when anything fails.
"""

from __future__ import annotations

import email.parser
import email.policy
import importlib.metadata
import re
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from email.message import Message
from functools import partial
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from workspace_dists import ROOT, Package, build, environ_with, fresh_env, run, smoke_script

# The Python versions and operating systems the test suite runs on: the classifiers
# name these and no others. Python 3.12 and 3.13 are not tested (this machine's
# Debian offers only 3.11), so no classifier claims them.
TESTED_PYTHONS = frozenset({"3.11"})
TESTED_SYSTEMS = frozenset({"Operating System :: POSIX :: Linux"})
# The project URLs a package declares: all of these, or none while the workspace has
# no public address (see _check_urls).
URL_LABELS = ("Homepage", "Source", "Issues", "Changelog", "Documentation")
BUILD_BACKEND = "hatchling"

_CHANGELOG_ENTRY = re.compile(r"^## \[?v?(?P<version>[^\s\]]+)", re.MULTILINE)
_PYTHON_CLASSIFIER = re.compile(r"^Programming Language :: Python :: (\d+\.\d+)$")


class CheckFailedError(Exception):
    """One check of one package failed; the message says what to fix."""


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.BytesParser(policy=email.policy.compat32).parsebytes(archive.read(name))


def _sdist_files(sdist: Path) -> dict[str, bytes]:
    with tarfile.open(sdist) as archive:
        files = {}
        for member in archive.getmembers():
            if not member.isfile():
                continue
            extracted = archive.extractfile(member)
            if extracted is not None:
                files[member.name.split("/", 1)[1]] = extracted.read()
        return files


def _check_license(package: Package, metadata: Message, wheel: Path, sdist: Path) -> None:
    if metadata["License-Expression"] != package.project.get("license"):
        raise CheckFailedError(f"License-Expression is {metadata['License-Expression']!r}")
    if metadata.get_all("License-File") != ["LICENSE"]:
        files = metadata.get_all("License-File")
        raise CheckFailedError(f"License-File is {files}, not ['LICENSE']")
    expected = (ROOT / "LICENSE").read_bytes()
    if (package.folder / "LICENSE").read_bytes() != expected:
        folder = package.folder.name
        raise CheckFailedError(f"{folder}/LICENSE differs from the workspace's LICENSE")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        if not in_wheel or archive.read(in_wheel[0]) != expected:
            raise CheckFailedError("the wheel does not hold the LICENSE file")
    if _sdist_files(sdist).get("LICENSE") != expected:
        raise CheckFailedError("the sdist does not hold the LICENSE file")


def _check_urls(metadata: Message) -> str:
    urls = dict(
        entry.split(", ", 1) for entry in metadata.get_all("Project-URL") or () if ", " in entry
    )
    if not urls:
        # The workspace names no public repository or documentation address yet;
        # inventing one would publish a dead link.
        return "no project URLs yet (the workspace has no public address)"
    missing = [label for label in URL_LABELS if label not in urls]
    if missing:
        raise CheckFailedError(f"project URLs miss {missing}: declare all of {list(URL_LABELS)}")
    relative = [url for url in urls.values() if not url.startswith("https://")]
    if relative:
        raise CheckFailedError(f"project URLs must be absolute https URLs: {relative}")
    return f"{len(urls)} project URLs"


def _check_classifiers(metadata: Message) -> None:
    classifiers = metadata.get_all("Classifier") or []
    versions = {m[1] for c in classifiers if (m := _PYTHON_CLASSIFIER.match(c))}
    if versions != TESTED_PYTHONS:
        raise CheckFailedError(
            f"Python classifiers {sorted(versions)}, the suite runs on {sorted(TESTED_PYTHONS)}"
        )
    systems = {c for c in classifiers if c.startswith("Operating System ::")}
    if systems != TESTED_SYSTEMS:
        raise CheckFailedError(
            f"operating system classifiers {sorted(systems)}, "
            f"the suite runs on {sorted(TESTED_SYSTEMS)}"
        )
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if running not in TESTED_PYTHONS or sys.platform != "linux":
        raise CheckFailedError(
            f"this run is on Python {running} on {sys.platform}: add it to TESTED_PYTHONS/"
            "TESTED_SYSTEMS and to the classifiers, or run the suite where they say"
        )


def _check_changelog(package: Package, sdist: Path) -> None:
    changelog = _sdist_files(sdist).get("CHANGELOG.md")
    if changelog is None:
        raise CheckFailedError("the sdist holds no CHANGELOG.md")
    top = _CHANGELOG_ENTRY.search(changelog.decode())
    if top is None or top["version"] != package.version:
        found = top["version"] if top else None
        raise CheckFailedError(
            f"CHANGELOG.md's top entry is {found!r}, pyproject.toml's version {package.version!r}"
        )


def _requirement_closure(name: str) -> list[importlib.metadata.Distribution]:
    """The installed distribution *name* and everything it requires (markers applied)."""
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = [name]
    while todo:
        key = canonicalize_name(todo.pop())
        if key in found:
            continue
        found[key] = distribution = importlib.metadata.distribution(key)
        for text in distribution.requires or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return list(found.values())


def _backend_folder(folder: Path) -> Path:
    """A folder holding links to the build backend and what it requires, taken from this
    environment: on ``PYTHONPATH`` while pip builds an sdist without an index, it keeps
    the build tools out of the environment being checked."""
    folder.mkdir()
    for distribution in _requirement_closure(BUILD_BACKEND):
        tops = {file.parts[0] for file in distribution.files or () if file.parts[0] != ".."}
        for top in tops:
            source = Path(str(distribution.locate_file(top)))
            if (source.is_dir() or source.suffix == ".py") and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return folder


def _declared_closure(package: Package, by_name: dict[str, Package]) -> set[str]:
    names = {package.dist}
    for dependency in package.requires:
        names |= _declared_closure(by_name[dependency], by_name)
    return names


def _check_install_alone(
    package: Package, by_name: dict[str, Package], dists: Path, work: Path, backend: Path
) -> None:
    python = fresh_env(
        work / f"venv-{package.dist}",
        dists,
        package.dist,
        pip_options=("--no-binary", ":all:", "--no-build-isolation"),
        env=environ_with(PYTHONPATH=str(backend)),
    )
    listing = run(
        python,
        "-I",
        "-c",
        "import importlib.metadata as m\n"
        "print('\\n'.join(sorted(d.metadata['Name'] for d in m.distributions())))",
    )
    installed = set(listing.split())
    expected = _declared_closure(package, by_name)
    if installed != expected:
        raise CheckFailedError(f"the environment holds {sorted(installed)}, not {sorted(expected)}")
    run(python, "-I", "-c", smoke_script(package.import_name))


def _check(label: str, package: Package, check: Callable[[], str | None]) -> bool:
    """Run *check*, which returns an optional note; print one line."""
    try:
        note = check()
    except (CheckFailedError, RuntimeError) as error:
        print(f"FAIL {package.dist:<20} {label}: {error}", file=sys.stderr)
        return False
    print(f"ok   {package.dist:<20} {label}" + (f": {note}" if note else ""))
    return True


def main() -> int:
    """Run every check on every package; return an exit status."""
    started = time.monotonic()
    ok = True
    with tempfile.TemporaryDirectory(prefix="release-check-") as tmp:
        work = Path(tmp)
        dists = work / "dist"
        found = build(dists, sdist=True)
        print(f"built {len(found)} sdists and wheels in {time.monotonic() - started:.1f} s")
        try:
            run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dists.iterdir()))
        except RuntimeError as error:
            print(f"FAIL twine check --strict: {error}", file=sys.stderr)
            ok = False
        else:
            print(f"ok   twine check --strict on {len(list(dists.iterdir()))} files")
        by_name = {package.dist: package for package in found}
        backend = _backend_folder(work / "backend")
        for package in found:
            stem = f"{package.dist.replace('-', '_')}-{package.version}"
            wheel = dists / f"{stem}-py3-none-any.whl"
            sdist = dists / f"{stem}.tar.gz"
            metadata = _metadata(wheel)
            checks: dict[str, Callable[[], str | None]] = {
                "licence": partial(_check_license, package, metadata, wheel, sdist),
                "project URLs": partial(_check_urls, metadata),
                "classifiers": partial(_check_classifiers, metadata),
                "changelog": partial(_check_changelog, package, sdist),
                "sdist installs alone": partial(
                    _check_install_alone, package, by_name, dists, work, backend
                ),
            }
            for label, check in checks.items():
                ok = _check(label, package, check) and ok
    print(f"release check {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
