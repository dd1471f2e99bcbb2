"""Code that type-checks against ``wsgiref`` type-checks against the packages.

typeshed's stubs for ``wsgiref`` (shipped inside the installed mypy) are what mypy and
pyright users check against. ``tools/typeshed_conformance.py`` reads them and lets
``mypy --strict`` judge every public name the packages map from ``wsgiref``: calls,
constructors, overrides with the stub's signatures, attribute reads, writes and
redeclarations, ``Any`` leaking where typeshed has a type, ``__all__`` and literal
defaults. Every difference is either fixed in the packages or explained below.
"""

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typeshed_conformance import MAPPING, SOURCE_DIRS, Comparison, compare, typeshed_stdlib

# Where the packages deliberately differ from typeshed. Each entry is the key of one
# difference ("<stub name> [<check>]") and why it stays. The test fails for a
# difference not listed here, and for an entry whose difference is gone.
ALLOWED: dict[str, str] = {
    # -- wider input, so the stored attribute has the wider type -------------------------
    "wsgiref.handlers.SimpleHandler.stdout [read]": (
        "stdout is any object with write(bytes) and flush(), what the handler uses, so"
        " a BufferedIOBase such as StreamRequestHandler.wfile is accepted (typeshed's"
        " IO[bytes] refuses it); the attribute has that type, and code calling other IO"
        " methods on it (fileno) narrows first"
    ),
    "wsgiref.util.FileWrapper.filelike [read]": (
        "FileWrapper wraps any object with read(size) -> bytes (PEP 3333's 'file-like"
        " object'), which keeps the class a valid wsgi_util.types.FileWrapper (typeshed's"
        " is no valid wsgiref.types.FileWrapper); filelike has that type, and code calling"
        " other IO methods on it narrows first"
    ),
    # -- narrower by design -------------------------------------------------------------
    "wsgiref.simple_server.WSGIRequestHandler.server [redeclare]": (
        "narrowed to WSGIServer: the handler reads server.base_environ and get_app(), so"
        " it only runs under a WSGIServer, and code reading self.server gets that API"
        " without a cast; redeclaring it as a plain socketserver.BaseServer is refused"
    ),
    "wsgiref.simple_server.WSGIRequestHandler.server [write]": (
        "narrowed to WSGIServer (see the redeclare entry): assigning a plain"
        " socketserver.BaseServer is refused"
    ),
    # -- the validator's wrappers: typeshed does not describe wsgiref's runtime ------------
    "wsgiref.validate.InputWrapper.read [call]": (
        "wsgiref's InputWrapper takes *args to check their number with its own message,"
        " so read(size=n) raises TypeError in wsgiref and here; typeshed declares a"
        " parameter that can be passed by keyword"
    ),
    "wsgiref.validate.InputWrapper.readline [call]": (
        "*args, as in wsgiref: readline(size=n) raises TypeError there and here"
    ),
    "wsgiref.validate.InputWrapper.readlines [call]": (
        "*args, as in wsgiref (readlines(hint=n) raises TypeError there and here); and it"
        " returns list[bytes], where typeshed says bytes"
    ),
    "wsgiref.validate.InputWrapper.readlines [override]": (
        "readlines returns list[bytes] (PEP 3333, and wsgiref's runtime); an override"
        " typed with typeshed's bytes is refused"
    ),
    "wsgiref.validate.InputWrapper.close [call]": (
        "typeshed says Never (wsgiref always raises); with validator(app, report=...) the"
        " violation is recorded and close() returns None"
    ),
    "wsgiref.validate.ErrorWrapper.close [call]": (
        "typeshed says Never (wsgiref always raises); with validator(app, report=...) the"
        " violation is recorded and close() returns None"
    ),
    "wsgiref.validate.IteratorWrapper.check_start_response [read]": (
        "typeshed says bool | None; wsgiref and the validator here pass the list that"
        " start_response appends to (true once it was called) or None, typed object"
    ),
    "wsgiref.validate.IteratorWrapper.original_iterator [read]": (
        "typeshed says Iterator[bytes]; it is the application's iterable as returned (a"
        " list, say), in wsgiref too, typed Iterable[bytes]"
    ),
    "wsgiref.validate.WriteWrapper.writer [precise]": (
        "typeshed says Callable[[bytes], Any]; what a write() callable returns is unused"
        " (PEP 3333), so it is typed object, as typeshed's own StartResponse types it"
    ),
    "wsgiref.validate.PartialIteratorWrapper.iterator [read]": (
        "typeshed says Iterator[bytes]; it is the iterable given, which IteratorWrapper"
        " calls iter() on (wsgiref's too), typed Iterable[bytes]"
    ),
}

# Names the stubs declare only for Python versions the packages do not support.
_UNSUPPORTED_VERSIONS_ONLY = {
    "wsgiref.util.FileWrapper.__getitem__": "Python < 3.11 only (removed in 3.11)",
}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    return compare(work_dir=tmp_path_factory.mktemp("typeshed"))


def _render(comparison: Comparison, keys: list[str]) -> str:
    by_key = {d.key: d for d in comparison.differences}
    return "\n".join(k + "\n    " + by_key[k].detail.replace("\n", "\n    ") for k in keys)


def test_every_difference_from_typeshed_is_fixed_or_explained(comparison: Comparison) -> None:
    undocumented = sorted({d.key for d in comparison.differences} - ALLOWED.keys())
    assert not undocumented, "differences from typeshed:\n" + _render(comparison, undocumented)


def test_every_explained_difference_still_exists(comparison: Comparison) -> None:
    stale = sorted(ALLOWED.keys() - {d.key for d in comparison.differences})
    assert not stale, f"remove these entries from ALLOWED, the difference is gone: {stale}"


def _declared_names() -> set[str]:
    # Every public module-level name and every class member, read from the stub files
    # directly (all version branches), independently of the checker's own reading.
    names = set()
    for module in MAPPING:
        path = typeshed_stdlib().joinpath(*module.split(".")).with_suffix(".pyi")
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                names.add(f"{module}.{node.name}")
                for inner in ast.walk(node):
                    if isinstance(inner, ast.FunctionDef):
                        names.add(f"{module}.{node.name}.{inner.name}")
                    elif isinstance(inner, ast.AnnAssign) and isinstance(inner.target, ast.Name):
                        names.add(f"{module}.{node.name}.{inner.target.id}")
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                names.add(f"{module}.{node.name}")
            elif (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and not node.target.id.startswith("_")
            ):
                names.add(f"{module}.{node.target.id}")
    return names


def test_every_public_stub_name_is_checked(comparison: Comparison) -> None:
    declared = _declared_names()
    assert "wsgiref.handlers.BaseHandler.os_environ" in declared
    missed = sorted(declared - comparison.checked - _UNSUPPORTED_VERSIONS_ONLY.keys())
    assert not missed, f"stub names the checker does not cover: {missed}"
    assert _UNSUPPORTED_VERSIONS_ONLY.keys() <= declared - comparison.checked


# Deliberately wrong annotations, each with the differences it must cause.
_MUTATIONS = {
    "wsgi-handlers/src/wsgi_handlers/_base.py": [
        (
            "os_environ: MutableMapping[str, str] = read_environ()",
            "os_environ: dict[str, Any] = read_environ()",
        ),
        ("def get_scheme(self) -> str:", "def get_scheme(self) -> Any:"),
    ],
    "wsgi-handlers/src/wsgi_handlers/_date.py": [
        ("def format_date_time(timestamp: float | None)", "def format_date_time(timestamp: float)"),
    ],
    "wsgi-util/src/wsgi_util/_file_wrapper.py": [
        ("blksize: int = 8192", "blksize: int = 4096"),
    ],
    "wsgi-util/src/wsgi_util/__init__.py": [('    "is_hop_by_hop",\n', "")],
}
_EXPECTED = {
    "wsgiref.handlers.BaseHandler.os_environ [any]",
    "wsgiref.handlers.BaseHandler.os_environ [redeclare]",
    "wsgiref.handlers.BaseHandler.os_environ [write]",
    "wsgiref.handlers.BaseHandler.get_scheme [any]",
    "wsgiref.handlers.format_date_time [call]",
    "wsgiref.util.FileWrapper.__init__ [default]",
    "wsgiref.util.is_hop_by_hop [__all__]",
    # mypy: a name left out of __all__ is not exported
    "wsgiref.util.is_hop_by_hop [exists]",
}


def test_a_wrong_annotation_is_reported_by_name(comparison: Comparison, tmp_path: Path) -> None:
    packages = SOURCE_DIRS[0].parent.parent
    for relative, edits in _MUTATIONS.items():
        package = relative.split("/")[0]
        if not (tmp_path / package).exists():
            shutil.copytree(packages / package / "src", tmp_path / package / "src")
        path = tmp_path / relative
        text = path.read_text()
        for old, new in edits:
            assert text.count(old) == 1, f"{relative} no longer holds {old!r}"
            text = text.replace(old, new)
        path.write_text(text)
    mutated = {p.name for p in tmp_path.iterdir()}
    sources = [
        tmp_path / p / "src" if p in mutated else packages / p / "src"
        for p in (d.parent.name for d in SOURCE_DIRS)
    ]

    wrong = compare(sources, python_versions=[(3, 11)], work_dir=tmp_path / "work")

    found = {d.key for d in wrong.differences}
    before = {d.key for d in comparison.differences}
    assert found - before == _EXPECTED, "\n".join(
        f"{d.key}: {d.detail}" for d in wrong.differences if d.key not in before
    )


# -- typed consumer programs, checked against the installed wheels ------------------------

_CASES = Path(__file__).parent / "typing_cases"
# The imports of a case, swapped back to wsgiref (wsgi_util.types before wsgi_util).
_TO_WSGIREF = (
    ("wsgi_util.types", "wsgiref.types"),
    ("wsgi_util", "wsgiref.util"),
    ("wsgi_headers", "wsgiref.headers"),
    ("wsgi_handlers", "wsgiref.handlers"),
    ("wsgi_cgi", "wsgiref.handlers"),
    ("wsgi_validate", "wsgiref.validate"),
    ("wsgi_simple_server", "wsgiref.simple_server"),
)
_EXPECTED_ERROR = re.compile(r"#\s*E:\s*(?P<text>.+)$")
_MYPY_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): error: (?P<message>.*)$")


def _mypy(python: Path | None, folder: Path, *files: str, verbose: bool = False) -> str:
    # The installed wheels (or the stdlib's stubs) are the only place the packages
    # come from: no config file, no MYPYPATH, no PYTHONPATH.
    env = {k: v for k, v in os.environ.items() if k not in {"MYPYPATH", "PYTHONPATH"}}
    command = [sys.executable, "-m", "mypy", "--strict", "--config-file", ""]
    command += ["--cache-dir", str(folder / ".cache"), "--no-error-summary", "--no-pretty"]
    if python is not None:
        command += ["--python-executable", str(python)]
    if verbose:
        command.append("--verbose")
    result = subprocess.run(
        [*command, *files], cwd=folder, capture_output=True, text=True, check=False, env=env
    )
    assert result.returncode in {0, 1}, result.stdout + result.stderr
    return result.stdout + (result.stderr if verbose else "")


@pytest.fixture(scope="module")
def cases(wheel_env: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """mypy's output on the cases: against the wheels ("wheels"), and with their
    imports swapped back to ``wsgiref`` against typeshed ("wsgiref")."""
    wheels = tmp_path_factory.mktemp("cases")
    stdlib = tmp_path_factory.mktemp("cases_wsgiref")
    for case in [*_CASES.glob("*.py"), *_CASES.glob("wrong/*.py")]:
        shutil.copy(case, wheels / case.name)
    for case in _CASES.glob("*.py"):
        text = case.read_text()
        for ours, theirs in _TO_WSGIREF:
            text = re.sub(rf"\b{re.escape(ours)}\b", theirs, text)
        (stdlib / case.name).write_text(text)
    files = sorted(p.name for p in wheels.glob("*.py"))
    return {
        "wheels": _mypy(wheel_env, wheels, *files, verbose=True),
        "wsgiref": _mypy(None, stdlib, *sorted(p.name for p in stdlib.glob("*.py"))),
        "wheel_env": str(wheel_env.parent.parent),
    }


def _error_lines(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if _MYPY_LINE.match(line))


def _errors(output: str) -> dict[str, list[tuple[int, str]]]:
    found: dict[str, list[tuple[int, str]]] = {}
    for line in output.splitlines():
        match = _MYPY_LINE.match(line)
        if match is not None:
            found.setdefault(match["file"], []).append((int(match["line"]), match["message"]))
    return found


def test_the_typed_cases_are_valid_wsgiref_code(cases: dict[str, str]) -> None:
    assert not _errors(cases["wsgiref"]), cases["wsgiref"]


def test_the_typed_cases_type_check_against_the_installed_wheels(cases: dict[str, str]) -> None:
    errors = {f: e for f, e in _errors(cases["wheels"]).items() if not f.startswith("wrong_")}
    assert not errors, _error_lines(cases["wheels"])
    # mypy read the packages from the wheel environment, not from the sources.
    for package in ("wsgi_handlers", "wsgi_simple_server", "wsgi_util", "wsgi_validate"):
        read_from = re.search(rf"Parsing (\S+)/{package}/__init__.py", cases["wheels"])
        assert read_from is not None, f"mypy did not read {package}"
        assert read_from[1].startswith(cases["wheel_env"]), read_from[1]


def test_wrong_code_fails_against_the_installed_wheels(cases: dict[str, str]) -> None:
    wrong = sorted(_CASES.glob("wrong/*.py"))
    assert wrong
    errors = _errors(cases["wheels"])
    for case in wrong:
        expected = {
            number: match["text"].strip()
            for number, line in enumerate(case.read_text().splitlines(), 1)
            if (match := _EXPECTED_ERROR.search(line))
        }
        found = errors.get(case.name, [])
        assert {n for n, _ in found} == set(expected), _error_lines(cases["wheels"])
        for number, message in found:
            assert expected[number] in message, (number, message)
