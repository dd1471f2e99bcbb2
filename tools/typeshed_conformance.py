"""Check the packages' annotations against typeshed's stubs for ``wsgiref``.

Code that type-checks against ``wsgiref`` must type-check against the packages once
its imports are swapped. typeshed's stubs (``mypy/typeshed/stdlib/wsgiref/*.pyi``,
shipped inside the installed mypy) are what mypy and pyright users check against, so
this module reads them with ``ast`` and, for every public name the packages map from
``wsgiref`` (``MAPPING``), generates small modules that ``mypy --strict`` judges. The
checks, named as in a ``Difference``:

``exists``
    the name (or member) is there, and exported.
``call``
    a function or method is assignable to a ``Protocol`` whose ``__call__`` is the
    stub's signature, overloads included: it accepts every call the stub accepts
    (parameter names, kinds, defaults) and returns what the stub returns.
``constructor``
    the class accepts the stub's ``__init__`` arguments.
``override``
    a subclass of the project's class that overrides the method with the stub's exact
    signature is accepted: hooks written against typeshed keep working.
``read``, ``write``, ``redeclare``
    reading the attribute gives the stub's type, the stub's type can be assigned to
    it, and a subclass may redeclare it with the stub's type (``os_environ:
    MutableMapping[str, str]`` on a ``BaseHandler`` subclass).
``base``
    the class derives from (the project's counterparts of) the stub's bases.
``equivalent``
    a protocol or type alias is assignable both ways with typeshed's.
``any``
    an attribute or return type holds ``Any`` where typeshed has a type (``Any``
    passes every check above, but it leaks into ``--strict`` user code).
``precise``
    the other way round: a type where typeshed has ``Any`` (code that used the value
    as anything no longer type-checks).

In the generated code the project's classes stand in for the ``wsgiref`` classes they
map (``headers_class: type[Headers]`` means ``wsgi_headers.Headers``); protocols and
aliases stay typeshed's. Members a class inherits (from another stub class, or from
``http.server``/``socketserver`` for the server classes) are checked on it where the
project's class redefines them. Beside mypy, the runtime (the packages imported in a
subprocess) gives three checks: ``exists`` for names in version branches mypy does not
see, ``__all__`` (each stub ``__all__`` name is in the project module's) and
``default`` (each literal default of the stub, ``blksize=8192``, is the project's).

``python tools/typeshed_conformance.py`` prints every difference found.
"""

from __future__ import annotations

import ast
import json
import operator
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

_ROOT = Path(__file__).resolve().parent.parent

# Which project module holds each stub module's names: "*" for every name not listed.
MAPPING: dict[str, dict[str, str]] = {
    "wsgiref.util": {"*": "wsgi_util"},
    "wsgiref.types": {"*": "wsgi_util.types"},
    "wsgiref.headers": {"*": "wsgi_headers"},
    "wsgiref.handlers": {
        "*": "wsgi_handlers",
        "CGIHandler": "wsgi_cgi",
        "IISCGIHandler": "wsgi_cgi",
        "read_environ": "wsgi_cgi",
    },
    "wsgiref.validate": {"*": "wsgi_validate"},
    "wsgiref.simple_server": {"*": "wsgi_simple_server"},
}

# The Python versions the packages support (requires-python >= 3.11): mypy checks the
# stubs as each of them reads them.
SUPPORTED_VERSIONS = ((3, 11), (3, 12), (3, 13), (3, 14))

# The source folders of the six packages in the workspace.
SOURCE_DIRS = tuple(sorted(_ROOT.glob("packages/*/src")))


@dataclass(frozen=True)
class Difference:
    """One way the project's annotation of *name* differs from typeshed's.

    *name* is the stub's dotted name (``wsgiref.handlers.BaseHandler.os_environ``),
    *check* one of the checks of the module docstring, *detail* what mypy (or the
    runtime) said.
    """

    name: str
    check: str
    detail: str

    @property
    def key(self) -> str:
        """``"<name> [<check>]"``."""
        return f"{self.name} [{self.check}]"


@dataclass
class Comparison:
    """What ``compare`` found: the differences, every stub name checked, and mypy's
    output (one run per Python version)."""

    differences: list[Difference]
    checked: set[str]
    mypy_output: str


def typeshed_stdlib() -> Path:
    """The ``typeshed/stdlib`` folder of the installed mypy."""
    import mypy  # noqa: PLC0415 - only this function needs it

    return Path(next(iter(mypy.__path__))) / "typeshed" / "stdlib"


# -- reading the stubs --------------------------------------------------------------------


@dataclass(frozen=True)
class _Binding:
    """What a name is bound to in a stub module."""

    kind: str  # "import", "from", "class", "func", "typedef" or "var"
    node: ast.AST  # the ast.alias of an import, else the statement
    source: str = ""  # "from": the module imported from
    original: str = ""  # "from": the name there


_COMPARISONS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.GtE: operator.ge,
    ast.Gt: operator.gt,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _holds(test: ast.expr, version: tuple[int, int]) -> bool:
    """Evaluate a stub's ``if`` condition for *version* on this platform, as mypy does.

    Raises ``ValueError`` for a condition of another shape.
    """
    match test:
        case ast.BoolOp(op=ast.And(), values=values):
            return all(_holds(v, version) for v in values)
        case ast.BoolOp(op=ast.Or(), values=values):
            return any(_holds(v, version) for v in values)
        case ast.UnaryOp(op=ast.Not(), operand=operand):
            return not _holds(operand, version)
        case ast.Compare(left=left, ops=[op], comparators=[right]) if type(op) in _COMPARISONS:
            other = ast.literal_eval(right)
            value: object
            if ast.unparse(left) == "sys.version_info" and isinstance(other, tuple):
                value = version[: len(other)]
            elif ast.unparse(left) == "sys.platform":
                value = sys.platform
            else:
                raise ValueError(f"unsupported stub condition: {ast.unparse(test)}")
            return _COMPARISONS[type(op)](value, other)
        case ast.Call(func=ast.Attribute(value=owner, attr="startswith"), args=[prefix]):
            if ast.unparse(owner) == "sys.platform":
                return sys.platform.startswith(ast.literal_eval(prefix))
    raise ValueError(f"unsupported stub condition: {ast.unparse(test)}")


def _flatten(stmts: list[ast.stmt], version: tuple[int, int]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for stmt in stmts:
        if isinstance(stmt, ast.If):
            out += _flatten(stmt.body if _holds(stmt.test, version) else stmt.orelse, version)
        else:
            out.append(stmt)
    return out


def _defined_type(stmt: ast.stmt) -> str | None:
    """The name a TypeAlias, TypeVar (ParamSpec, ...) or old-style alias defines."""
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id if ast.unparse(stmt.annotation).endswith("TypeAlias") else None
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
        if not isinstance(target, ast.Name) or target.id == "__all__":
            return None
        if isinstance(value, ast.Call):
            factory = ast.unparse(value.func).split(".")[-1]
            return target.id if factory in {"TypeVar", "ParamSpec", "TypeVarTuple"} else None
        if isinstance(value, ast.Subscript | ast.BinOp | ast.Name | ast.Attribute):
            return target.id
    return None


def _is_all(stmt: ast.stmt) -> bool:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    if isinstance(stmt, ast.AugAssign):
        targets = [stmt.target]
    return [ast.unparse(t) for t in targets] == ["__all__"]


@dataclass
class _Stub:
    module: str
    body: list[ast.stmt]  # for one version, ``if sys.version_info`` branches resolved
    scope: dict[str, _Binding] = field(default_factory=dict)


class _Stubs:
    """typeshed's stdlib stubs as one Python version reads them, parsed on demand."""

    def __init__(self, stdlib: Path, version: tuple[int, int]) -> None:
        self.stdlib = stdlib
        self.version = version
        self._parsed: dict[str, _Stub] = {}

    def path(self, module: str) -> Path:
        path = self.stdlib.joinpath(*module.split(".")).with_suffix(".pyi")
        return path if path.exists() else self.stdlib.joinpath(*module.split("."), "__init__.pyi")

    def get(self, module: str) -> _Stub:
        if module not in self._parsed:
            self._parsed[module] = self._parse(module)
        return self._parsed[module]

    def _parse(self, module: str) -> _Stub:
        path = self.path(module)
        stub = _Stub(module, _flatten(ast.parse(path.read_text(), str(path)).body, self.version))
        package = module if path.name == "__init__.pyi" else module.rpartition(".")[0]
        for stmt in stub.body:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    stub.scope[alias.asname or alias.name.split(".")[0]] = _Binding("import", alias)
            elif isinstance(stmt, ast.ImportFrom):
                source = stmt.module or ""
                if stmt.level:
                    base = package.rsplit(".", stmt.level - 1)[0]
                    source = f"{base}.{source}" if source else base
                for alias in stmt.names:
                    binding = _Binding("from", alias, source, alias.name)
                    stub.scope[alias.asname or alias.name] = binding
            elif isinstance(stmt, ast.ClassDef):
                stub.scope[stmt.name] = _Binding("class", stmt)
            elif isinstance(stmt, ast.FunctionDef):
                stub.scope.setdefault(stmt.name, _Binding("func", stmt))
            elif (name := _defined_type(stmt)) is not None:
                stub.scope[name] = _Binding("typedef", stmt)
            elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                stub.scope[stmt.target.id] = _Binding("var", stmt)
            elif module in MAPPING and not _is_all(stmt):
                # A new kind of declaration in a stub we check: make it known, not skipped.
                raise ValueError(f"unsupported statement in {module}: {ast.unparse(stmt)}")
        return stub

    def resolve_class(self, module: str, expr: ast.expr) -> tuple[str, str] | None:
        """The (module, name) of the class *expr* names in *module*'s stub (module
        ``builtins`` for a builtin); None for the ``Protocol``/``Generic`` markers."""
        if isinstance(expr, ast.Subscript):
            expr = expr.value
        text = ast.unparse(expr)
        if text.split(".")[-1] in {"Protocol", "Generic"}:
            return None
        scope = self.get(module).scope
        if isinstance(expr, ast.Attribute):
            owner, _, name = text.rpartition(".")
            binding = scope.get(owner.split(".")[0])
            if binding is not None and binding.kind == "import":
                assert isinstance(binding.node, ast.alias)  # noqa: S101 - see _parse
                return self.resolve_class(
                    owner if binding.node.asname is None else binding.node.name, ast.Name(name)
                )
            raise ValueError(f"cannot resolve the base {text} in {module}")
        assert isinstance(expr, ast.Name)  # noqa: S101 - a class base is a name here
        binding = scope.get(expr.id)
        if binding is not None and binding.kind == "class":
            return module, expr.id
        if binding is not None and binding.kind == "from":
            return self.resolve_class(binding.source, ast.Name(binding.original))
        return "builtins", expr.id

    def class_node(self, module: str, name: str) -> ast.ClassDef:
        node = self.get(module).scope[name].node
        assert isinstance(node, ast.ClassDef)  # noqa: S101 - resolve_class found a class
        return node

    def public_names(self, module: str) -> list[str]:
        """Module-level names of *module* a user can import: classes, functions,
        variables and type aliases not starting with ``_``."""
        return [
            name
            for name, binding in self.get(module).scope.items()
            if not name.startswith("_") and binding.kind in {"class", "func", "typedef", "var"}
        ]

    def all_names(self, module: str) -> list[str]:
        names: list[str] = []
        for stmt in self.get(module).body:
            if isinstance(stmt, ast.Assign) and _is_all(stmt):
                names = list(ast.literal_eval(stmt.value))
            elif isinstance(stmt, ast.AugAssign) and _is_all(stmt):
                names += ast.literal_eval(stmt.value)
        return names


@dataclass
class _Member:
    name: str
    nodes: list[ast.AnnAssign] | list[ast.FunctionDef]  # an attribute, or a method's defs

    @property
    def attribute(self) -> ast.AnnAssign | None:
        node = self.nodes[0]
        return node if isinstance(node, ast.AnnAssign) else None


def _members(cls: ast.ClassDef, version: tuple[int, int]) -> dict[str, _Member]:
    found: dict[str, _Member] = {}
    methods: dict[str, list[ast.FunctionDef]] = {}
    for stmt in _flatten(cls.body, version):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            found[stmt.target.id] = _Member(stmt.target.id, [stmt])
        elif isinstance(stmt, ast.FunctionDef):
            methods.setdefault(stmt.name, []).append(stmt)
            found[stmt.name] = _Member(stmt.name, methods[stmt.name])
        elif not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            raise ValueError(f"unsupported statement in stub class {cls.name}: {ast.unparse(stmt)}")
    return found


def _is_protocol(cls: ast.ClassDef) -> bool:
    return any(ast.unparse(b).split("[")[0].split(".")[-1] == "Protocol" for b in cls.bases)


def _target(stub_module: str, name: str) -> str:
    targets = MAPPING[stub_module]
    return targets.get(name, targets["*"])


def _nominal_target(stubs: _Stubs, module: str, name: str) -> str | None:
    """The project module holding the counterpart of a mapped stub class that is not a
    protocol (mypy compares those by name, so the project's class must stand in)."""
    if module not in MAPPING or name.startswith("_"):
        return None
    binding = stubs.get(module).scope.get(name)
    if binding is None or not isinstance(binding.node, ast.ClassDef):
        return None
    return None if _is_protocol(binding.node) else _target(module, name)


def _qualifier(annotation: ast.expr) -> tuple[str | None, ast.expr | None]:
    """``Final[X]`` -> ("Final", X), ``ClassVar`` -> ("ClassVar", None), X -> (None, X)."""
    node = annotation.value if isinstance(annotation, ast.Subscript) else annotation
    name = ast.unparse(node).split(".")[-1]
    if name not in {"Final", "ClassVar"}:
        return None, annotation
    return name, annotation.slice if isinstance(annotation, ast.Subscript) else None


# -- generating the checks ------------------------------------------------------------------


def _names_in(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


class _Replace(ast.NodeTransformer):
    def __init__(self, name: str, replacement: str) -> None:
        self.name = name
        self.replacement = replacement

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id == self.name:
            return ast.parse(self.replacement, mode="eval").body
        return node


_DUNDER = re.compile(r"__\w+__")


def _call_signature(func: ast.FunctionDef, self_type: str | None, returns: str = "") -> str:
    """A protocol's ``def __call__(self, <func's parameters>) -> <func's return>``.

    With *self_type* the function is a method: its first parameter goes, and ``Self``
    becomes *self_type*. *returns* replaces the return annotation.
    """
    copy = ast.parse(ast.unparse(func)).body[0]
    assert isinstance(copy, ast.FunctionDef)  # noqa: S101 - a def parses as a def
    args = copy.args
    if self_type is not None:
        if args.posonlyargs:
            del args.posonlyargs[0]
        else:
            del args.args[0]
        copy = _Replace("Self", self_type).visit(copy)
        args = copy.args
    if _DUNDER.fullmatch(func.name) and func.name not in {"__init__", "__new__", "__call__"}:
        # mypy reads the parameters of dunder methods as positional-only.
        args.posonlyargs, args.args = args.posonlyargs + args.args, []
    (args.posonlyargs or args.args).insert(0, ast.arg("self"))
    copy.name = "__call__"
    copy.body = [ast.Expr(ast.Constant(...))]
    copy.decorator_list = [d for d in copy.decorator_list if ast.unparse(d).endswith("overload")]
    if returns:
        copy.returns = ast.parse(returns, mode="eval").body
    return ast.unparse(ast.fix_missing_locations(copy))


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class _Span(NamedTuple):
    first: int
    last: int
    name: str
    check: str


class _Unit:
    """A pair of generated modules whose stub text comes from one stub module (and so
    is written in that module's namespace): ``<stem>_decl.pyi`` holds the protocols and
    subclasses, ``<stem>_use.py`` the functions that use them."""

    def __init__(self, stubs: _Stubs, module: str, index: int) -> None:
        self.stubs = stubs
        self.module = module
        self.stem = f"tsc_{index}_{module.replace('.', '_')}"
        self.lines: dict[str, list[str]] = {"decl": [], "use": []}
        self.spans: dict[str, list[_Span]] = {"decl": [], "use": []}
        self.needed: set[str] = set()
        self.imports: set[str] = set()
        self.subclasses: set[str] = set()
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def need(self, *nodes: ast.AST | None) -> None:
        """Bind the names used in *nodes* in the generated modules."""
        for node in nodes:
            if node is not None:
                self.needed |= _names_in(node)

    def emit(self, where: str, text: str, name: str = "", check: str = "") -> None:
        """Append *text* to the "decl" or "use" module; with *name*, an error in it is
        a difference of *name* found by *check*."""
        lines = self.lines[where]
        first = len(lines) + 1
        lines.extend(text.splitlines())
        if name:
            self.spans[where].append(_Span(first, len(lines), name, check))

    def project(self, target: str) -> str:
        """How the checks name the project module *target*."""
        alias = "PJ_" + target.replace(".", "_")
        self.imports.add(f"import {target} as {alias}")
        return alias

    def typeshed(self, module: str) -> str:
        """How the checks name the stub module *module* (typeshed's own classes)."""
        alias = "TS_" + module.replace(".", "_")
        self.imports.add(f"import {module} as {alias}")
        return alias

    def prelude(self) -> list[str]:
        """Imports (and copied type definitions) that bind the names the checks use as
        the stub module binds them, except that the project's classes stand in for the
        mapped ``wsgiref`` classes."""
        scope = self.stubs.get(self.module).scope
        imports, definitions = set(self.imports), []
        seen: set[str] = set()
        todo = sorted(self.needed)
        while todo:
            name = todo.pop()
            if name in seen or name not in scope:
                continue  # a builtin
            seen.add(name)
            binding = scope[name]
            if binding.kind == "import":
                assert isinstance(binding.node, ast.alias)  # noqa: S101 - see _parse
                imports.add(ast.unparse(ast.Import([binding.node])))
            elif binding.kind == "from":
                source = _nominal_target(self.stubs, binding.source, binding.original)
                imports.add(f"from {source or binding.source} import {binding.original} as {name}")
            elif binding.kind == "typedef":
                assert isinstance(binding.node, ast.stmt)  # noqa: S101 - see _parse
                definitions.append(binding.node)
                todo += sorted(_names_in(binding.node) - seen)
            else:
                source = _nominal_target(self.stubs, self.module, name) or self.module
                imports.add(f"from {source} import {name} as {name}")
        order = {id(stmt): i for i, stmt in enumerate(self.stubs.get(self.module).body)}
        definitions.sort(key=lambda stmt: order[id(stmt)])
        return sorted(imports) + [ast.unparse(d) for d in definitions]

    def write(self, directory: Path) -> dict[Path, list[_Span]]:
        """Write the two modules into *directory*; return their spans."""
        head = ["import typing as TY_typing", *self.prelude(), ""]
        heads = {
            "decl": [
                *head,
                "TSC_R = TY_typing.TypeVar('TSC_R')",
                "def ret_of(f: TY_typing.Callable[..., TSC_R]) -> TSC_R: ...",
                "",
            ],
            "use": [*head, f"import {self.stem}_decl as DC", ""],
        }
        written = {}
        for where, suffix in (("decl", "_decl.pyi"), ("use", "_use.py")):
            path = directory / f"{self.stem}{suffix}"
            header = [f"# Checks generated from typeshed's {self.module} stub.", *heads[where]]
            path.write_text("\n".join(header + self.lines[where]) + "\n")
            shift = len(header)
            written[path] = [
                s._replace(first=s.first + shift, last=s.last + shift) for s in self.spans[where]
            ]
        return written


@dataclass
class _Facts:
    """What the runtime says about the packages (see ``_FACTS_SCRIPT``)."""

    modules: dict[str, dict[str, Any]]  # module -> {"all": [...], "names": [...]} or {"error"}
    mros: dict[str, list[dict[str, Any]]]  # "module:Class" -> [{"key", "project", "names"}]
    defaults: list[list[str]]  # [name, message] for each literal default that differs


class _Generator:
    """Writes the checks of every public stub name for one Python version."""

    def __init__(self, stubs: _Stubs, facts: _Facts) -> None:
        self.stubs = stubs
        self.facts = facts
        self.units: dict[str, _Unit] = {}
        self.checked: set[str] = set()

    def unit(self, module: str) -> _Unit:
        if module not in self.units:
            self.units[module] = _Unit(self.stubs, module, len(self.units))
        return self.units[module]

    def run(self) -> None:
        for module in MAPPING:
            for name in self.stubs.public_names(module):
                binding = self.stubs.get(module).scope[name]
                label = f"{module}.{name}"
                self.checked.add(label)
                unit = self.unit(module)
                project = f"{unit.project(_target(module, name))}.{name}"
                typeshed = f"{unit.typeshed(module)}.{name}"
                self.exists(unit, project, "", label)
                if binding.kind == "func":
                    defs = [
                        s
                        for s in self.stubs.get(module).body
                        if isinstance(s, ast.FunctionDef) and s.name == name
                    ]
                    self.callable(unit, defs, label, project, typeshed)
                elif binding.kind == "var":
                    assert isinstance(binding.node, ast.AnnAssign)  # noqa: S101 - see _parse
                    self.variable(unit, binding.node, label, project, typeshed)
                elif binding.kind == "typedef":
                    self.equivalent(unit, label, project, typeshed)
                else:
                    assert isinstance(binding.node, ast.ClassDef)  # noqa: S101 - see _parse
                    self.cls(module, binding.node, label, project, typeshed)

    # Each check is a small function of the "use" module (or a class of the "decl" one)
    # that mypy rejects if the project differs.

    def exists(self, unit: _Unit, expression: str, params: str, label: str) -> None:
        fn = unit.fresh("exists_")
        unit.emit("use", f"def {fn}({params}) -> object:\n    return {expression}", label, "exists")

    def any_leak(self, unit: _Unit, project: str, typeshed: str, params: str, label: str) -> None:
        # Compared in _mypy_differences: "Any" more or less often in the project's type
        # than in typeshed's is a difference.
        fn = unit.fresh("reveal_")
        unit.emit("use", f"def {fn}({params}) -> None:")
        unit.emit("use", f"    reveal_type({project})", label, "any:project")
        unit.emit("use", f"    reveal_type({typeshed})", label, "any:typeshed")

    def callable(
        self,
        unit: _Unit,
        defs: list[ast.FunctionDef],
        label: str,
        project: str,
        typeshed: str,
        params: str = "",
        self_type: str | None = None,
    ) -> None:
        protocol = unit.fresh("Call_")
        body = "\n".join(_indent(_call_signature(d, self_type)) for d in defs)
        unit.emit("decl", f"class {protocol}(TY_typing.Protocol):\n{body}")
        for d in defs:
            unit.need(d.args, d.returns, *d.decorator_list)
        fn = unit.fresh("call_")
        unit.emit(
            "use", f"def {fn}({params}) -> DC.{protocol}:\n    return {project}", label, "call"
        )
        self.any_leak(unit, f"DC.ret_of({project})", f"DC.ret_of({typeshed})", params, label)

    def variable(
        self, unit: _Unit, node: ast.AnnAssign, label: str, project: str, typeshed: str
    ) -> None:
        qualifier, annotation = _qualifier(node.annotation)
        if annotation is not None:
            unit.need(annotation)
            text = ast.unparse(annotation)
            fn = unit.fresh("read_")
            unit.emit("use", f"def {fn}() -> {text}:\n    return {project}", label, "read")
            if qualifier != "Final":
                fn = unit.fresh("write_")
                unit.emit("use", f"def {fn}(v: {text}) -> None:\n    {project} = v", label, "write")
        self.any_leak(unit, project, typeshed, "", label)

    def equivalent(self, unit: _Unit, label: str, project: str, typeshed: str) -> None:
        fn = unit.fresh("equivalent_")
        text = f"def {fn}a(v: {typeshed}) -> {project}:\n    return v\n"
        text += f"def {fn}b(v: {project}) -> {typeshed}:\n    return v"
        unit.emit("use", text, label, "equivalent")
        self.any_leak(
            unit, "project", "typeshed", f"project: {project}, typeshed: {typeshed}", label
        )

    def cls(self, module: str, node: ast.ClassDef, label: str, project: str, typeshed: str) -> None:
        unit = self.unit(module)
        if _is_protocol(node):
            self.equivalent(unit, label, project, typeshed)
        for base in node.bases:
            if self.stubs.resolve_class(module, base) is None:
                continue
            base_type = base.value if isinstance(base, ast.Subscript) else base
            unit.need(base_type)
            fn = unit.fresh("base_")
            text = f"def {fn}() -> type[{ast.unparse(base_type)}]:\n    return {project}"
            unit.emit("use", text, label, "base")
        # The class's own members, then inherited ones that the project's class (or a
        # project class between it and the next class the stubs declare) redefines.
        ancestry = list(self.ancestry(module, node))
        stops = {f"{_target(m, c)}:{c}" for m, c, _ in ancestry[1:] if m in MAPPING}
        seen: set[str] = set()
        for owner_module, owner, members in ancestry:
            for member in members.values():
                if member.name in seen:
                    continue
                seen.add(member.name)
                own = (owner_module, owner) == (module, node.name)
                target = _target(module, node.name)
                if own or self.redefined(f"{target}:{node.name}", stops, member.name):
                    self.checked.add(f"{label}.{member.name}")
                    self.member(self.unit(owner_module), module, node, member, label)

    def ancestry(
        self, module: str, node: ast.ClassDef
    ) -> Iterator[tuple[str, str, dict[str, _Member]]]:
        """The stub class and its stub ancestors, depth first and left to right (the
        builtins left out), each with its members."""
        todo = [(module, node)]
        done: set[tuple[str, str]] = set()
        while todo:
            mod, cls = todo.pop(0)
            if (mod, cls.name) in done:
                continue
            done.add((mod, cls.name))
            yield mod, cls.name, _members(cls, self.stubs.version)
            bases = []
            for base in cls.bases:
                resolved = self.stubs.resolve_class(mod, base)
                if resolved is not None and resolved[0] != "builtins":
                    bases.append((resolved[0], self.stubs.class_node(*resolved)))
            todo = bases + todo

    def redefined(self, key: str, stops: set[str], member: str) -> bool:
        """Whether the project's class *key* ("module:Class"), or a project class after
        it in its MRO and before any class in *stops*, defines *member*."""
        for entry in self.facts.mros.get(key, []):
            if entry["key"] in stops or not entry["project"]:
                return False
            if member in entry["names"]:
                return True
        return False

    def member(
        self, unit: _Unit, module: str, cls: ast.ClassDef, member: _Member, label: str
    ) -> None:
        """The checks of *member* of the stub class *cls*, written in *unit* (the
        namespace of the stub class that declares the member)."""
        label = f"{label}.{member.name}"
        project = f"{unit.project(_target(module, cls.name))}.{cls.name}"
        typeshed = f"{unit.typeshed(module)}.{cls.name}"
        params = f"inst: {project}, ref: {typeshed}"
        attribute = member.attribute
        if attribute is not None:
            self.attribute(unit, project, cls, attribute, label)
            self.any_leak(unit, f"inst.{member.name}", f"ref.{member.name}", params, label)
            return
        defs = [d for d in member.nodes if isinstance(d, ast.FunctionDef)]
        for d in defs:
            for decorator in d.decorator_list:
                if ast.unparse(decorator).split(".")[-1] not in {"overload", "abstractmethod"}:
                    raise ValueError(f"unsupported decorator on {label}: {ast.unparse(decorator)}")
        if member.name == "__init__":
            (init,) = defs
            unit.need(init.args)
            protocol = unit.fresh("Init_")
            body = _indent(_call_signature(init, project, returns=project))
            unit.emit("decl", f"class {protocol}(TY_typing.Protocol):\n{body}")
            fn = unit.fresh("constructor_")
            text = f"def {fn}() -> DC.{protocol}:\n    return {project}"
            unit.emit("use", text, label, "constructor")
            return
        self.exists(unit, f"inst.{member.name}", f"inst: {project}", label)
        self.callable(
            unit, defs, label, f"inst.{member.name}", f"ref.{member.name}", params, project
        )
        overrides = []
        for d in defs:
            copy = ast.parse(ast.unparse(d)).body[0]
            assert isinstance(copy, ast.FunctionDef)  # noqa: S101 - a def parses as a def
            copy.decorator_list = [x for x in copy.decorator_list if "overload" in ast.unparse(x)]
            copy.body = [ast.Expr(ast.Constant(...))]
            overrides.append(ast.unparse(copy))
        self.subclass(unit, project, cls, "\n".join(overrides), label, "override")

    def attribute(
        self, unit: _Unit, project: str, cls: ast.ClassDef, node: ast.AnnAssign, label: str
    ) -> None:
        name = ast.unparse(node.target)
        unit.need(node.annotation)
        self.exists(unit, f"inst.{name}", f"inst: {project}", label)
        qualifier, annotation = _qualifier(node.annotation)
        if annotation is not None:
            text = ast.unparse(annotation)
            owner = project if qualifier == "ClassVar" else "inst"
            fn = unit.fresh("read_")
            body = f"def {fn}(inst: {project}) -> {text}:\n    return {owner}.{name}"
            unit.emit("use", body, label, "read")
            if qualifier is None:
                fn = unit.fresh("write_")
                body = f"def {fn}(inst: {project}, v: {text}) -> None:\n    inst.{name} = v"
                unit.emit("use", body, label, "write")
        self.subclass(unit, project, cls, ast.unparse(node), label, "redeclare")

    def subclass(
        self, unit: _Unit, project: str, cls: ast.ClassDef, body: str, label: str, check: str
    ) -> None:
        # One subclass per member, so that an error names one member. A subclass of a
        # protocol stays a protocol (the members it leaves out are not abstract then).
        bases = f"{project}, TY_typing.Protocol" if _is_protocol(cls) else project
        name = unit.fresh(f"Sub_{cls.name}_")
        unit.emit("decl", f"class {name}({bases}):\n{_indent(body)}", label, check)


# -- the runtime ----------------------------------------------------------------------------

# Run in a subprocess with the packages' source folders first on sys.path: reads a JSON
# request on stdin, prints the facts as JSON.
_FACTS_SCRIPT = r"""
import ast, importlib, inspect, json, sys

request = json.loads(sys.stdin.read())
sys.path[:0] = request["paths"]
modules, mros, defaults = {}, {}, []
for name in request["modules"]:
    try:
        module = importlib.import_module(name)
    except Exception as error:
        modules[name] = {"error": repr(error)}
    else:
        modules[name] = {"all": list(getattr(module, "__all__", [])), "names": dir(module)}


def get(key):
    module, _, name = key.partition(":")
    return getattr(importlib.import_module(module), name, None)


keys = {id(get(key)): key for key in request["classes"]}
for key in request["classes"]:
    cls = get(key)
    if isinstance(cls, type):
        mros[key] = [
            {
                "key": keys.get(id(k)),
                "project": k.__module__.split(".")[0] in request["packages"],
                "names": sorted(set(vars(k)) | set(vars(k).get("__annotations__", {}))),
            }
            for k in cls.__mro__
        ]
for name, module, path, param, literal in request["defaults"]:
    obj = importlib.import_module(module)
    try:
        for part in path:
            obj = getattr(obj, part)
        parameter = inspect.signature(obj).parameters.get(param)
    except (AttributeError, TypeError, ValueError) as error:
        defaults.append([name, f"cannot inspect: {error!r}"])
        continue
    expected = ast.literal_eval(literal)
    if parameter is None:
        defaults.append([name, f"no parameter {param} (typeshed: {param}={literal})"])
    elif parameter.default is inspect.Parameter.empty:
        defaults.append([name, f"{param} has no default (typeshed: {literal})"])
    elif type(parameter.default) is not type(expected) or parameter.default != expected:
        defaults.append([name, f"{param}={parameter.default!r} (typeshed: {literal})"])
print(json.dumps({"modules": modules, "mros": mros, "defaults": defaults}))
"""


def _literal_defaults(stubs: _Stubs) -> list[list[object]]:
    """[name, project module, attribute path, parameter, literal] for each literal
    default of a public stub function or method that is not overloaded."""
    found: list[list[object]] = []
    for module in MAPPING:
        functions: list[tuple[list[str], list[ast.FunctionDef]]] = []
        for name in stubs.public_names(module):
            node = stubs.get(module).scope[name].node
            if isinstance(node, ast.FunctionDef):
                defs = [
                    s
                    for s in stubs.get(module).body
                    if isinstance(s, ast.FunctionDef) and s.name == name
                ]
                functions.append(([name], defs))
            elif isinstance(node, ast.ClassDef):
                for member in _members(node, stubs.version).values():
                    if member.attribute is None:
                        defs = [d for d in member.nodes if isinstance(d, ast.FunctionDef)]
                        functions.append(([name, member.name], defs))
        for path, defs in functions:
            if len(defs) != 1:
                continue
            args = defs[0].args
            positional = args.posonlyargs + args.args
            pairs = list(
                zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
            )
            pairs += [
                (a, d)
                for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                if d is not None
            ]
            for arg, default in pairs:
                if isinstance(default, ast.Constant) and default.value is not ...:
                    name = ".".join([module, *path])
                    target = _target(module, path[0])
                    found.append([name, target, path, arg.arg, ast.unparse(default)])
    return found


def _clean_env() -> dict[str, str]:
    # The source folders given are the only place the packages come from.
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "MYPYPATH"}}


def _project_facts(stubs: _Stubs, source_dirs: Sequence[Path], python: str) -> _Facts:
    classes = sorted(
        f"{_target(module, name)}:{name}"
        for module in MAPPING
        for name in stubs.public_names(module)
        if stubs.get(module).scope[name].kind == "class"
    )
    targets = sorted({t for targets in MAPPING.values() for t in targets.values()})
    request = {
        "paths": [str(p) for p in source_dirs],
        "modules": targets,
        "packages": sorted({t.split(".")[0] for t in targets}),
        "classes": classes,
        "defaults": _literal_defaults(stubs),
    }
    result = subprocess.run(
        [python, "-I", "-c", _FACTS_SCRIPT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=False,
        env=_clean_env(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing the packages failed:\n{result.stderr}")
    facts = json.loads(result.stdout)
    return _Facts(facts["modules"], facts["mros"], facts["defaults"])


def _runtime_differences(all_stubs: list[_Stubs], facts: _Facts) -> list[Difference]:
    differences = []
    for module in MAPPING:
        exported: set[str] = set()
        public: set[str] = set()
        for stubs in all_stubs:
            exported |= set(stubs.all_names(module))
            public |= set(stubs.public_names(module))
        for name in sorted(public | exported):
            target = _target(module, name)
            info = facts.modules[target]
            label = f"{module}.{name}"
            if "error" in info:
                differences.append(Difference(label, "exists", f"import {target}: {info['error']}"))
            elif name not in info["names"]:
                differences.append(Difference(label, "exists", f"{target} has no {name}"))
            elif name in exported and name not in info["all"]:
                detail = f"{name} is in {module}.__all__ but not in {target}.__all__"
                differences.append(Difference(label, "__all__", detail))
    differences += [Difference(name, "default", message) for name, message in facts.defaults]
    return differences


# -- mypy -------------------------------------------------------------------------------------

_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<severity>error|note): (?P<message>.*)$")
_REVEALED = re.compile(r'^Revealed type is "(?P<type>.*)"$')
_ANY = re.compile(r"\bAny\b")


def _run_mypy(
    directory: Path,
    files: list[Path],
    source_dirs: Sequence[Path],
    version: tuple[int, int],
    cache_dir: Path,
    python: str,
) -> str:
    config = directory / "mypy.ini"
    config.write_text(
        "[mypy]\n"
        "strict = True\n"
        f"python_version = {version[0]}.{version[1]}\n"
        f"mypy_path = {os.pathsep.join(str(p) for p in [directory, *source_dirs])}\n"
        # The packages have mypy runs of their own; here the generated modules count.
        "follow_imports = silent\n"
        f"cache_dir = {cache_dir}\n"
    )
    result = subprocess.run(
        [
            python,
            "-m",
            "mypy",
            "--config-file",
            str(config),
            "--no-error-summary",
            "--hide-error-context",
            "--no-pretty",
            "--show-error-codes",
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=directory,
        env=_clean_env(),
    )
    if result.returncode not in {0, 1}:
        raise RuntimeError(f"mypy failed to run:\n{result.stdout}{result.stderr}")
    return result.stdout


def _mypy_differences(output: str, spans: dict[Path, list[_Span]]) -> list[Difference]:
    """The differences in mypy's *output*: each error (with its notes) under the span
    it falls in, and the ``any`` comparison of each pair of revealed types."""
    by_file = {path.name: items for path, items in spans.items()}
    errors: dict[tuple[str, str], list[str]] = {}
    reveals: dict[tuple[str, str], str] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        match = _LINE.match(line)
        if match is None:
            if current is not None:
                current.append(line.strip())
            continue
        file, number = Path(match["file"]).name, int(match["line"])
        span = next(
            (s for s in reversed(by_file.get(file, [])) if s.first <= number <= s.last),
            _Span(number, number, f"<generated {file}:{number}>", "generator"),
        )
        revealed = _REVEALED.match(match["message"])
        if revealed is not None:
            reveals[(span.name, span.check)] = revealed["type"]
            current = None
        elif match["severity"] == "error":
            current = errors.setdefault((span.name, span.check), [])
            current.append(match["message"])
        elif current is not None:
            current.append(match["message"])
    differences = [
        Difference(name, check, "\n".join(messages))
        for (name, check), messages in errors.items()
        if not check.startswith("any:")
    ]
    for (name, check), project in reveals.items():
        if check != "any:project":
            continue
        typeshed = reveals.get((name, "any:typeshed"), "")
        detail = f"project: {project}\ntypeshed: {typeshed}"
        ours, theirs = len(_ANY.findall(project)), len(_ANY.findall(typeshed))
        if ours > theirs:
            differences.append(Difference(name, "any", detail))
        elif ours < theirs:
            differences.append(Difference(name, "precise", detail))
    return differences


def compare(
    source_dirs: Sequence[Path] = SOURCE_DIRS,
    *,
    python_versions: Sequence[tuple[int, int]] = SUPPORTED_VERSIONS,
    work_dir: Path | None = None,
    python: str = sys.executable,
) -> Comparison:
    """Compare the packages in *source_dirs* with typeshed's ``wsgiref`` stubs.

    For each of *python_versions*, mypy (run by *python*, with that
    ``python_version``) checks the modules generated from the stubs as that version
    reads them; they stay in *work_dir* when one is given, with mypy's cache. The
    runtime checks import the packages from *source_dirs* in a subprocess and read
    the stubs for every supported version. A difference that only some of the
    versions show says so in its detail.

    Raises ``ValueError`` for a stub construct the generator does not know (a new kind
    of declaration fails loudly instead of going unchecked) and ``RuntimeError`` if
    mypy or the import of the packages fails to run.
    """
    stdlib = typeshed_stdlib()
    runtime_stubs = [_Stubs(stdlib, v) for v in SUPPORTED_VERSIONS]
    facts = _project_facts(runtime_stubs[0], source_dirs, python)
    found: dict[str, list[tuple[tuple[int, int], Difference]]] = {}
    checked: set[str] = set()
    outputs = []
    with tempfile.TemporaryDirectory(prefix="typeshed-conformance-") as tmp:
        base = work_dir or Path(tmp)
        for version in python_versions:
            generator = _Generator(_Stubs(stdlib, version), facts)
            generator.run()
            checked |= generator.checked
            directory = base / f"py{version[0]}{version[1]}"
            directory.mkdir(parents=True, exist_ok=True)
            spans: dict[Path, list[_Span]] = {}
            for unit in generator.units.values():
                spans.update(unit.write(directory))
            output = _run_mypy(
                directory, sorted(spans), source_dirs, version, base / ".mypy_cache", python
            )
            outputs.append(output)
            for difference in _mypy_differences(output, spans):
                found.setdefault(difference.key, []).append((version, difference))
    differences = _runtime_differences(runtime_stubs, facts)
    for items in found.values():
        versions = [v for v, _ in items]
        first = items[0][1]
        detail = first.detail
        if len(versions) < len(python_versions):
            detail += "\n(only with Python " + ", ".join(f"{a}.{b}" for a, b in versions) + ")"
        differences.append(Difference(first.name, first.check, detail))
    # A missing name fails every check of it: report that once (with its __all__).
    missing = {d.name for d in differences if d.check == "exists"}
    kept: dict[str, Difference] = {}
    for d in differences:
        if d.check in {"exists", "__all__"} or d.name not in missing:
            kept.setdefault(d.key, d)
    return Comparison(sorted(kept.values(), key=lambda d: d.key), checked, "\n".join(outputs))


def main() -> int:
    """Print every difference; return 1 if there is one."""
    comparison = compare()
    for difference in comparison.differences:
        print(difference.key)
        print("    " + difference.detail.replace("\n", "\n    "))
    print(f"{len(comparison.checked)} names checked, {len(comparison.differences)} differences")
    return 1 if comparison.differences else 0


if __name__ == "__main__":
    sys.exit(main())
