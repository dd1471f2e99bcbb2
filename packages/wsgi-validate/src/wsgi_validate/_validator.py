"""``validator()``: the middleware that checks both sides of the WSGI interface."""

from collections.abc import Callable, Iterable, Sized
from typing import Any, cast

from wsgi_util.types import WSGIApplication

from wsgi_validate._checks import (
    _check_content_type,
    _check_environ,
    _check_exc_info,
    _check_exc_info_value,
    _check_header_notes,
    _check_headers,
    _check_iterator,
    _check_status,
    _check_status_syntax,
)
from wsgi_validate._context import _Exchange, _Policy
from wsgi_validate._report import ValidationReport
from wsgi_validate._rules import RULES
from wsgi_validate._wrappers import (
    ErrorWrapper,
    InputWrapper,
    IteratorWrapper,
    WriteWrapper,
    _FileWrapperCheck,
)


def validator(
    application: WSGIApplication,
    *,
    report: ValidationReport | None = None,
    strict_stdlib: bool = True,
    ignore: Iterable[str] = (),
) -> WSGIApplication:
    """Wrap *application* in a middleware that checks WSGI (PEP 3333) compliance.

    The middleware does not modify the request or the response. By default it raises
    ``AssertionError`` at the first problem, with the stdlib's message where the stdlib
    makes the same check, and emits ``WSGIWarning`` for the stdlib's warnings. A
    failure to close the response iterable is only printed to ``sys.stderr`` (it is
    found when the iterable is garbage collected, where raising is not possible).

    Keyword-only options:

    *report*
        A ``ValidationReport``: record every problem as a ``Violation`` in it
        instead of raising or warning, and let the request complete.
    *strict_stdlib*
        True (the default) keeps the stdlib's checks that are stricter than PEP 3333.
        False relaxes them to PEP 3333: ``wsgi.input.read()`` without a size, header
        names that are any RFC 9110 token, no Content-Type requirement, no warning
        for a missing QUERY_STRING or an unknown REQUEST_METHOD, and no close()
        demanded of an iterable that has no ``close`` method.
    *ignore*
        Ids of rules (keys of ``RULES``) not to check.

    Raise ``ValueError`` for an unknown rule id in *ignore*.
    """
    ignored = frozenset(ignore)
    unknown = ignored - RULES.keys()
    if unknown:
        raise ValueError(f"unknown rule id(s): {sorted(unknown)}")
    policy = _Policy(report, strict_stdlib, ignored)

    def lint_app(*args: Any, **kw: Any) -> Iterable[bytes]:
        ex = _Exchange(policy)
        if len(args) != 2 or kw:
            if len(args) != 2:
                ex.fail("call-arguments")
            if kw:
                ex.fail("call-keywords")
            return application(*args, **kw)
        environ, start_response = args
        ex.environ = environ
        _check_environ(environ, ex)

        if isinstance(environ, dict):
            _wrap_environ(environ, ex)
        iterator: Any = application(environ, _start_response_wrapper(start_response, ex))
        ex.returned = True
        if ex.reraised:
            ex.on_trapped()
        if iterator is None or iterator == False:  # noqa: E712 (the stdlib's test)
            ex.fail("app-return-none")
            return cast("Iterable[bytes]", iterator)
        if not _check_iterator(iterator, ex):
            return cast("Iterable[bytes]", iterator)
        if type(iterator) is not list:  # a list is iterable, its len() accurate
            if not _is_iterable(iterator):
                ex.fail("app-return-not-iterable", iterator)
                return cast("Iterable[bytes]", iterator)
            if iterator is not ex.file_wrapped:
                # A server's own file wrapper is exempt: its len() may mean what the
                # server wants (waitress's counts bytes left), PEP 3333 lets servers
                # use their own types' attributes.
                ex.items_expected = _length(iterator)
        wrapper = IteratorWrapper(iterator, ex.started)
        wrapper._exchange = ex
        return wrapper

    return lint_app


def _wrap_environ(environ: dict[str, Any], ex: _Exchange) -> None:
    """Put the checking wrappers around the server's streams and file wrapper."""
    if "wsgi.input" in environ:
        wsgi_input = InputWrapper(environ["wsgi.input"])
        wsgi_input._exchange = ex
        environ["wsgi.input"] = wsgi_input
    if "wsgi.errors" in environ:
        wsgi_errors = ErrorWrapper(environ["wsgi.errors"])
        wsgi_errors._exchange = ex
        environ["wsgi.errors"] = wsgi_errors
    file_wrapper = environ.get("wsgi.file_wrapper")
    if callable(file_wrapper):
        environ["wsgi.file_wrapper"] = _FileWrapperCheck(file_wrapper, ex)


def _start_response_wrapper(
    start_response: Callable[..., Callable[[bytes], object]], ex: _Exchange
) -> Callable[..., WriteWrapper]:
    """Return the checking ``start_response`` given to the application."""

    def start_response_wrapper(*args: Any, **kw: Any) -> WriteWrapper:
        if len(args) not in (2, 3) or kw:
            if len(args) not in (2, 3):
                ex.fail("start-response-arguments", args)
            if kw:
                ex.fail("start-response-keywords")
            ex.started.append(None)  # passed through (report mode): it was called
            return _write_wrapper(start_response(*args, **kw), ex)
        status, headers = args[0], args[1]
        exc_info = args[2] if len(args) == 3 else None

        # The stdlib's checks, in its order.
        code = _check_status(status, ex)
        notes = _check_headers(headers, ex)
        if code is not None and ex.policy.strict and isinstance(headers, list | tuple):
            _check_content_type(code, headers, ex)
        _check_exc_info(exc_info, ex)

        # The rules the stdlib misses.
        if type(status) is str:
            _check_status_syntax(status, code, ex)
        declared = _check_header_notes(notes, code, ex)
        if type(exc_info) is tuple:
            _check_exc_info_value(exc_info, ex)
        # PEP 3333: a second call without exc_info is a fatal error, "This includes
        # the case where the first call to start_response raised an error."
        if ex.started and exc_info is None:
            ex.fail("start-response-twice")

        headers_were_sent = ex.headers_sent
        ex.started.append(None)
        try:
            write: object = start_response(*args)
        except BaseException:
            if exc_info is not None and headers_were_sent:
                ex.reraised = True
            raise
        if exc_info is not None and headers_were_sent:
            ex.fail("exc-info-not-reraised")
        if not callable(write):
            ex.fail("write-not-callable", write)
        ex.set_response(code, declared)
        return _write_wrapper(cast("Callable[[bytes], object]", write), ex)

    return start_response_wrapper


def _is_iterable(value: object) -> bool:
    """Return true if ``iter(value)`` can work (the type has the protocol)."""
    kind = type(value)
    return hasattr(kind, "__iter__") or hasattr(kind, "__getitem__")


def _length(iterable: object) -> int | None:
    """Return ``len(iterable)`` if it works, as a server may rely on it; else None."""
    if not isinstance(iterable, Sized):
        return None
    try:
        length = len(iterable)
    except Exception:  # no working __len__: nothing a server could rely on
        return None
    return length


def _write_wrapper(write: Callable[[bytes], object], ex: _Exchange) -> WriteWrapper:
    wrapper = WriteWrapper(write)
    wrapper._exchange = ex
    return wrapper
