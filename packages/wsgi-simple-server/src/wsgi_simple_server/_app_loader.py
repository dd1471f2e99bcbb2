"""Import the WSGI application a command line names: ``module:name`` or a factory call.

The forms are gunicorn's and uvicorn's: ``module:name``, ``module:name.attr``,
``module`` (``module:application``), and ``module:create_app(...)`` whose arguments are
literals read with ``ast.literal_eval`` (never run as code). A mistake is an
``AppLoadError`` whose message is one line that says what is wrong and, when the code
of the application failed, where.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import traceback
import types
import typing

from wsgi_util.types import WSGIApplication


class AppLoadError(Exception):
    """The application named cannot be loaded; the message says why, in one line."""


def one_line(text: str) -> str:
    """*text* with every run of whitespace, line breaks included, as one space."""
    return " ".join(text.split())


def _where(exc: BaseException) -> str:
    """*exc* in one line with the place it was raised (skipping the import machinery)."""
    text = f"{type(exc).__name__}: {one_line(str(exc))}"
    if isinstance(exc, SyntaxError):
        return text  # its text names the file and line already
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        # not the import machinery, nor this module's call (a factory given the wrong
        # arguments failed here, before its code ran)
        if not f.filename.startswith("<") and f.filename != __file__
    ]
    if frames:
        frame = frames[-1]
        try:
            filename = os.path.relpath(frame.filename)
        except ValueError:  # another drive (Windows)
            filename = frame.filename
        text += f" ({filename}, line {frame.lineno})"
    return text


def _import(name: str) -> types.ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (name == missing or name.startswith(missing + ".")):
            raise AppLoadError(f"cannot import module {name!r} ({exc})") from None
        raise AppLoadError(f"importing module {name!r} failed: {_where(exc)}") from None
    except Exception as exc:  # the module's own code failed
        raise AppLoadError(f"importing module {name!r} failed: {_where(exc)}") from None


def _dotted(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute) and (parent := _dotted(node.value)) is not None:
        return [*parent, node.attr]
    return None


def _parse_target(
    spec: str, target: str
) -> tuple[list[str], tuple[list[object], dict[str, object]] | None]:
    """The attribute path of ``module:target``, and the arguments if it is a call."""
    bad = (
        f"application {spec!r} is not module:name, module:name.attr or "
        "module:factory(...) with literal arguments"
    )
    try:
        node = ast.parse(target.strip(), mode="eval").body
    except SyntaxError:
        raise AppLoadError(bad) from None
    call = None
    if isinstance(node, ast.Call):
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            keyword.arg is None for keyword in node.keywords
        ):
            raise AppLoadError(bad)
        try:
            args = [ast.literal_eval(arg) for arg in node.args]
            kwargs = {str(kw.arg): ast.literal_eval(kw.value) for kw in node.keywords}
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise AppLoadError(
                f"the arguments of the factory {spec!r} must be literals "
                "(strings, numbers, tuples, lists, dicts, True, False, None)"
            ) from None
        call = (args, kwargs)
        node = node.func
    path = _dotted(node)
    if path is None:
        raise AppLoadError(bad)
    return path, call


def load_app(spec: str, *, factory: bool = False) -> WSGIApplication:
    """Import the application *spec* names and return it.

    *spec* is ``module:name``, ``module:name.attr``, ``module`` (``module:application``)
    or a factory call ``module:create_app()`` / ``module:create_app("a", debug=True)``
    with literal arguments (read by ``ast.literal_eval``, never evaluated as code).
    With *factory* the named object is called with no arguments. Raise ``AppLoadError``
    with one line that says what is wrong: the module does not import (and why, where),
    the attribute is missing, the factory raised, or the result is not a callable that
    takes ``(environ, start_response)``.
    """
    module_name, _, target = spec.partition(":")
    if not module_name:
        raise AppLoadError(f"application {spec!r} names no module (module:name)")
    if module_name.startswith("."):
        raise AppLoadError(
            f"application {spec!r}: a relative module name cannot be imported"
            " (name it in full, as package.module, with --app-dir for where it is)"
        )
    path, call = _parse_target(spec, target or "application")
    obj: object = _import(module_name)
    for i, part in enumerate(path):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            owner = (
                f"module {module_name!r}" if i == 0 else repr(f"{module_name}:{'.'.join(path[:i])}")
            )
            raise AppLoadError(f"{owner} has no attribute {part!r}") from None
    if call is None and factory:
        call = ([], {})
    if call is not None:
        obj = _call_factory(obj, spec, call)
        what = f"the factory {spec!r} returned an object of type {type(obj).__name__}"
        hint = ""
    else:
        what = f"{spec!r} is an object of type {type(obj).__name__}"
        hint = f" (a factory? then {module_name}:{'.'.join(path)}() or --factory)"
    return _checked(obj, what, hint)


def _call_factory(
    factory: object, spec: str, call: tuple[list[object], dict[str, object]]
) -> object:
    if not callable(factory):
        raise AppLoadError(f"factory {spec!r} is not callable ({type(factory).__name__})")
    try:
        obj = factory(*call[0], **call[1])
    except Exception as exc:
        raise AppLoadError(f"factory {spec!r} raised {_where(exc)}") from None
    if inspect.iscoroutine(obj):
        obj.close()  # not awaited: no RuntimeWarning at exit
        raise AppLoadError(
            f"the factory {spec!r} is an async function: a WSGI application is made by a plain one"
        )
    return obj


def _checked(obj: object, what: str, hint: str) -> WSGIApplication:
    """*obj* if it can be called as ``(environ, start_response)``; *what* names it."""
    if not callable(obj):
        raise AppLoadError(f"{what}, not a WSGI application (a callable)")
    if inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(
        getattr(obj, "__call__", None)  # noqa: B004 - an instance's async __call__
    ):
        raise AppLoadError(
            f"{what}, which is async (an ASGI application?): this server runs WSGI"
            " applications, called as (environ, start_response)"
        )
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):  # no signature to read (a builtin): trust it
        return typing.cast(WSGIApplication, obj)
    try:
        signature.bind(None, None)
    except TypeError:
        raise AppLoadError(
            f"{what} taking {signature}, not (environ, start_response){hint}"
        ) from None
    return typing.cast(WSGIApplication, obj)
