"""Code that type-checks against ``wsgiref`` type-checks against the packages.

typeshed's stubs for ``wsgiref`` (shipped inside the installed mypy) are what mypy and
pyright users check against. ``tools/typeshed_conformance.py`` reads them and lets
``mypy --strict`` judge every public name the packages map from ``wsgiref``: calls,
constructors, overrides with the stub's signatures, attribute reads, writes and
redeclarations, ``Any`` leaking where typeshed has a type, ``__all__`` and literal
defaults. Every difference is either fixed in the packages or explained below.
"""

import ast
import shutil
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
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                names.add(f"{module}.{node.name}")
                for inner in ast.walk(node):
                    if isinstance(inner, ast.FunctionDef):
                        names.add(f"{module}.{node.name}.{inner.name}")
                    elif isinstance(inner, ast.AnnAssign) and isinstance(inner.target, ast.Name):
                        names.add(f"{module}.{node.name}.{inner.target.id}")
        tree = ast.parse(path.read_text())
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
