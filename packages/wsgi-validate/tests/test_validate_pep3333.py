"""PEP 3333, sentence by sentence: the table of the docs page, proved row by row.

The table in ``tools/docs/pages/packages/wsgi-validate.md`` maps each binding sentence
of PEP 3333 to the rules that check it and to the cases below. Every case breaks its
rule and is run in the four modes: raise (strict and relaxed) must raise the rule's
message (or warn it) and report mode (strict and relaxed) must record it, with no
other rule broken than the ones the case names as unavoidable.
"""

import gc
import io
import re
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wsgi_util import FileWrapper, setup_testing_defaults
from wsgi_util.types import StartResponse, WSGIEnvironment
from wsgi_validate import RULES, ValidationReport, WSGIWarning, validator

if TYPE_CHECKING:
    from conftest import FakeServer, Kit

_DOCS_PAGE = (
    Path(__file__).parents[3] / "tools" / "docs" / "pages" / "packages" / "wsgi-validate.md"
)

App = Callable[..., Any]
Drive = Callable[[App, WSGIEnvironment, "type[Kit]"], object]

CT = ("Content-Type", "text/plain")


# -- the server side of a case -----------------------------------------------------------


def _serve(app: App, environ: WSGIEnvironment, kit: "type[Kit]") -> object:
    return kit.FakeServer().run(app, environ)


def _serve_on(make_server: Callable[["type[Kit]"], "FakeServer"]) -> Drive:
    def drive(app: App, environ: WSGIEnvironment, kit: "type[Kit]") -> object:
        return make_server(kit).run(app, environ)

    return drive


def _call_with(call: Callable[[App, WSGIEnvironment, StartResponse], object]) -> Drive:
    def drive(app: App, environ: WSGIEnvironment, kit: "type[Kit]") -> object:
        return call(app, environ, kit.FakeServer().start_response)

    return drive


def _iterate_without_closing(app: App, environ: WSGIEnvironment, kit: "type[Kit]") -> object:
    result = app(environ, kit.FakeServer().start_response)
    body = list(result)
    del result
    gc.collect()
    return body


def _not_reraising(kit: "type[Kit]") -> "FakeServer":
    return kit.FakeServer(reraise=False)


def _returning_no_write(kit: "type[Kit]") -> "FakeServer":
    server = kit.FakeServer()
    start_response = server.start_response
    server.start_response = lambda *args: (start_response(*args), None)[1]  # type: ignore[assignment, method-assign]
    return server


def _refusing_the_first_start_response(kit: "type[Kit]") -> "FakeServer":
    server = kit.FakeServer()
    start_response = server.start_response

    def refusing_once(*args: Any) -> Callable[[bytes], object]:
        if not server.exchange.calls:
            server.exchange.calls.append(("refused",))
            raise ValueError("refused")
        return start_response(*args)

    server.start_response = refusing_once  # type: ignore[method-assign]
    return server


# -- the application side of a case ------------------------------------------------------


def responding(
    status: Any = "200 OK", headers: Any = None, *extra: Any, body: Any = (b"ok",)
) -> App:
    """An application making one start_response call and returning *body*.

    *headers* default to a Content-Type; a tuple *body* is returned as a list.
    """

    def app(environ: WSGIEnvironment, start_response: Any) -> Any:
        start_response(status, [CT] if headers is None else headers, *extra)
        return list(body) if type(body) is tuple else body

    return app


def calling(*args: Any, **kw: Any) -> App:
    """An application calling start_response with exactly *args* and *kw*."""

    def app(environ: WSGIEnvironment, start_response: Any) -> Iterable[bytes]:
        start_response(*args, **kw)
        return [b"ok"]

    return app


def doing(action: Callable[[WSGIEnvironment, Callable[[bytes], object]], object]) -> App:
    """An application running *action(environ, write)* after a conforming start_response."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [CT])
        action(environ, write)
        return [b"ok"]

    return app


def _exc_info() -> Any:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return sys.exc_info()


def _generator_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [CT])
    yield b"ok"


def _before_start_response(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
    def body() -> Iterator[bytes]:
        yield b"too early"
        start_response("200 OK", [CT])

    return body()


def _writing_then_returning_none(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
    start_response("200 OK", [CT])(b"written")


def _writing_from_the_iterable(
    environ: WSGIEnvironment, start_response: StartResponse
) -> Iterator[bytes]:
    write = start_response("200 OK", [CT])
    write(b"from inside the iterable")
    yield b"ok"


def _error_after_write(*, trap: bool) -> App:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [CT])
        write(b"partial")
        try:
            start_response("500 Internal Server Error", [CT], _exc_info())
        except RuntimeError:
            if not trap:
                raise
        return [b"error page"]

    return app


def _twice(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [CT])
    start_response("500 Internal Server Error", [CT])
    return [b"ok"]


def _again_after_an_error(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
    try:
        start_response("200 OK", [CT])
    except ValueError:
        start_response("500 Internal Server Error", [CT])
    return [b"ok"]


class _LyingLength(list[bytes]):
    def __len__(self) -> int:
        return 2


def _with_file_wrapper(filelike: Callable[[], object]) -> App:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])
        environ["wsgi.file_wrapper"](filelike(), 8192)
        return [b"ok"]

    return app


class _OnlyRead:
    def read(self, size: int = -1) -> bytes:
        return b""


class _OnlyWrite:
    def write(self, s: str) -> None:
        pass

    def writelines(self, seq: list[str]) -> None:
        pass


class _StrInput(io.BytesIO):
    def read(self, size: int | None = -1) -> Any:
        return "text"


class _EnvironSubclass(dict[str, Any]):
    pass


class _OverReading(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        return b"more than asked"

    def readline(self, size: int | None = -1) -> bytes:
        return b"two\nlines\n"


@dataclass(frozen=True)
class Case:
    """An application, environ and server that break one rule.

    ``environ`` replaces keys of a conforming environ (``None`` deletes one;
    ``"__type__"`` gives its class, ``"__key__"`` adds a key that is not a str);
    ``also`` names the rules the case cannot help breaking too; ``passes_through`` is
    what report mode lets through from the application or the server (it changes
    nothing).
    """

    rule: str
    app: App
    environ: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    drive: Drive = _serve
    also: frozenset[str] = frozenset()
    passes_through: type[BaseException] | None = None


ok_app = responding()

# fmt: off
CASES: dict[str, Case] = {
    "call-arguments": Case("call-arguments", ok_app, drive=_call_with(lambda a, e, s: a(e)),
                           passes_through=TypeError),
    "call-keywords": Case("call-keywords", ok_app,
                          drive=_call_with(lambda a, e, s: a(e, s, extra=1)),
                          passes_through=TypeError),
    "environ-type": Case("environ-type", ok_app, {"__type__": _EnvironSubclass}),
    "start-response-arguments": Case("start-response-arguments", calling("200 OK")),
    "start-response-keywords": Case("start-response-keywords",
                                    calling("200 OK", [CT], exc_info=None)),
    "write-not-callable": Case("write-not-callable", ok_app,
                               drive=_serve_on(_returning_no_write)),
    "app-return-none": Case("app-return-none", responding(body=None),
                            passes_through=TypeError),
    "app-return-not-iterable": Case("app-return-not-iterable", responding(body=42),
                                    passes_through=TypeError),
    "app-return-string": Case("app-return-string", responding(body="text"),
                              passes_through=TypeError),
    "app-return-string:bytes": Case("app-return-string", responding(body=b"bytes"),
                                    passes_through=TypeError),
    "iterator-item-type": Case("iterator-item-type", responding(body=("text",)),
                               passes_through=TypeError),
    "iterator-length": Case("iterator-length", responding(body=_LyingLength([b"ok"]))),
    "iterator-not-closed": Case("iterator-not-closed", _generator_app,
                                drive=_iterate_without_closing),
    "iterator-before-start-response": Case("iterator-before-start-response",
                                           _before_start_response),
    "environ-required-key": Case("environ-required-key", ok_app, {"SERVER_PORT": None}),
    "environ-required-key:wsgi.errors": Case("environ-required-key", ok_app,
                                             {"wsgi.errors": None}),
    "environ-required-key:wsgi.url_scheme": Case("environ-required-key", ok_app,
                                                 {"wsgi.url_scheme": None}),
    "environ-required-key:REQUEST_METHOD": Case("environ-required-key", ok_app,
                                                {"REQUEST_METHOD": None}),
    "environ-empty-value": Case("environ-empty-value", ok_app, {"REQUEST_METHOD": ""},
                                also=frozenset({"environ-request-method"})),
    "environ-empty-value:SERVER_NAME": Case("environ-empty-value", ok_app, {"SERVER_NAME": ""}),
    "environ-empty-value:SERVER_PORT": Case("environ-empty-value", ok_app, {"SERVER_PORT": ""}),
    "environ-value-type": Case("environ-value-type", ok_app, {"SERVER_PORT": 80}),
    "environ-wsgi-version": Case("environ-wsgi-version", ok_app, {"wsgi.version": [1, 0]}),
    "environ-wsgi-version-value": Case("environ-wsgi-version-value", ok_app,
                                       {"wsgi.version": (1, 1)}),
    "environ-url-scheme": Case("environ-url-scheme", ok_app, {"wsgi.url_scheme": "ftp"}),
    "input-attribute": Case("input-attribute", ok_app, {"wsgi.input": _OnlyRead()}),
    "errors-attribute": Case("errors-attribute", ok_app, {"wsgi.errors": _OnlyWrite()}),
    "input-past-content-length": Case("input-past-content-length",
                                      doing(lambda e, w: e["wsgi.input"].read(100)), body=b"x"),
    "input-past-content-length:readline": Case(
        "input-past-content-length",
        doing(lambda e, w: (e["wsgi.input"].readline(100), e["wsgi.input"].readline(100))),
        body=b"x"),
    "input-read-semantics": Case("input-read-semantics",
                                 doing(lambda e, w: e["wsgi.input"].read(4)),
                                 {"wsgi.input": _OverReading()}),
    "input-read-semantics:readline": Case("input-read-semantics",
                                          doing(lambda e, w: e["wsgi.input"].readline()),
                                          {"wsgi.input": _OverReading()}),
    "environ-key-type": Case("environ-key-type", ok_app, {"__key__": 1}),
    "input-other-attribute": Case("input-other-attribute",
                                  doing(lambda e, w: e["wsgi.input"].seek(0))),
    "errors-other-attribute": Case("errors-other-attribute",
                                   doing(lambda e, w: e["wsgi.errors"].getvalue())),
    "input-close": Case("input-close", doing(lambda e, w: e["wsgi.input"].close())),
    "errors-close": Case("errors-close", doing(lambda e, w: e["wsgi.errors"].close())),
    "status-code-length": Case("status-code-length", responding("2000 OK"),
                               also=frozenset({"status-format", "status-code-range"})),
    "status-code-integer": Case("status-code-integer", responding("2x0 OK")),
    "status-code-range": Case("status-code-range", responding("600 Too High")),
    "status-format": Case("status-format", responding("200\tOK")),
    "status-format:no-reason": Case("status-format", responding("200")),
    "status-control-char": Case("status-control-char", responding("200 O\x00K")),
    "status-control-char:crlf": Case("status-control-char", responding("200 OK\r\n")),
    "headers-type": Case("headers-type", responding(headers=(CT,))),
    "header-item-type": Case("header-item-type", responding(headers=[CT, ["X-A", "1"]])),
    "header-item-length": Case("header-item-length", responding(headers=[CT, ("X-A", "1", "2")])),
    "header-name-syntax": Case("header-name-syntax", responding(headers=[CT, ("X Y", "1")])),
    "header-name-newline-colon": Case("header-name-newline-colon",
                                      responding(headers=[CT, ("X:Y", "1")]),
                                      also=frozenset({"header-name-syntax"})),
    "header-value-control-char": Case("header-value-control-char",
                                      responding(headers=[CT, ("X-A", "a\r\nb")])),
    "header-value-control-char:del": Case("header-value-control-char",
                                          responding(headers=[CT, ("X-A", "a\x7fb")])),
    "header-hop-by-hop": Case("header-hop-by-hop",
                              responding(headers=[CT, ("Connection", "close")])),
    "header-hop-by-hop:keep-alive": Case("header-hop-by-hop",
                                         responding(headers=[CT, ("Keep-Alive", "timeout=5")])),
    "header-hop-by-hop:transfer-encoding": Case(
        "header-hop-by-hop", responding(headers=[CT, ("Transfer-Encoding", "chunked")])),
    "header-hop-by-hop:upgrade": Case("header-hop-by-hop",
                                      responding(headers=[CT, ("Upgrade", "websocket")])),
    "exc-info-type": Case("exc-info-type", responding("200 OK", None, [1, 2, 3])),
    "exc-info-value": Case("exc-info-value", responding("200 OK", None, (1, 2, 3))),
    "exc-info-not-reraised": Case("exc-info-not-reraised", _error_after_write(trap=False),
                                  drive=_serve_on(_not_reraising)),
    "exc-info-trapped": Case("exc-info-trapped", _error_after_write(trap=True)),
    "start-response-twice": Case("start-response-twice", _twice),
    "start-response-twice:after-an-error": Case(
        "start-response-twice", _again_after_an_error,
        drive=_serve_on(_refusing_the_first_start_response)),
    "content-length-mismatch": Case("content-length-mismatch",
                                    responding(headers=[CT, ("Content-Length", "10")])),
    "content-length-mismatch:too-long": Case("content-length-mismatch",
                                             responding(headers=[CT, ("Content-Length", "1")])),
    "app-return-none:after-write": Case("app-return-none", _writing_then_returning_none,
                                        passes_through=TypeError),
    "write-from-iterable": Case("write-from-iterable", _writing_from_the_iterable),
    "status-latin-1": Case("status-latin-1", responding("200 Ça va 😀")),
    "header-name-latin-1": Case("header-name-latin-1", responding(headers=[CT, ("X-Ça-😀", "1")]),
                                also=frozenset({"header-name-syntax"})),
    "header-value-latin-1": Case("header-value-latin-1", responding(
        headers=[CT, ("Content-Disposition", 'attachment; filename="報告.pdf"')])),
    "environ-latin-1": Case("environ-latin-1", ok_app, {"PATH_INFO": "/報告"}),
    "status-type": Case("status-type", responding(200)),
    "header-type": Case("header-type", responding(headers=[CT, ("X-Count", 1)])),
    "errors-write-type": Case("errors-write-type", doing(lambda e, w: e["wsgi.errors"].write(b"x")),
                              passes_through=TypeError),
    "errors-write-type:writelines": Case(
        "errors-write-type", doing(lambda e, w: e["wsgi.errors"].writelines([b"x"])),
        passes_through=TypeError),
    "input-return-type": Case("input-return-type", doing(lambda e, w: e["wsgi.input"].read(1)),
                              {"wsgi.input": _StrInput()}),
    "write-type": Case("write-type", doing(lambda e, w: w("text")),  # type: ignore[arg-type]
                       passes_through=TypeError),
    "file-wrapper-callable": Case("file-wrapper-callable", ok_app,
                                  {"wsgi.file_wrapper": "not callable"}),
    "file-wrapper-return": Case("file-wrapper-return", _with_file_wrapper(io.BytesIO),
                                {"wsgi.file_wrapper": lambda filelike, *size: 42}),
    "file-wrapper-return:close": Case(
        "file-wrapper-return", _with_file_wrapper(lambda: io.BytesIO(b"x")),
        {"wsgi.file_wrapper": lambda filelike, *size: iter([filelike.read()])}),
    "file-wrapper-filelike": Case("file-wrapper-filelike", _with_file_wrapper(object),
                                  {"wsgi.file_wrapper": FileWrapper}),
}
# fmt: on

MODES = {
    "raise": {"strict_stdlib": True},
    "raise-relaxed": {"strict_stdlib": False},
    "report": {"strict_stdlib": True},
    "report-relaxed": {"strict_stdlib": False},
}


# -- running a case ------------------------------------------------------------------------


def _environ(case: Case, kit: "type[Kit]") -> WSGIEnvironment:
    overrides = dict(case.environ)
    cls = overrides.pop("__type__", dict)
    odd_key = overrides.pop("__key__", None)
    environ: WSGIEnvironment = cls(kit.make_environ(case.body, **overrides))
    if odd_key is not None:
        environ[odd_key] = "value"
    return environ


def _report(case: Case, kit: "type[Kit]", *, strict: bool) -> ValidationReport:
    report = ValidationReport()
    app = validator(case.app, report=report, strict_stdlib=strict)
    try:
        case.drive(app, _environ(case, kit), kit)
    except BaseException as error:
        if case.passes_through is None or not isinstance(error, case.passes_through):
            raise
    return report


def _raised(case: Case, kit: "type[Kit]", *, strict: bool) -> tuple[str, str]:
    """Run *case* in raise mode; return ("error" or "warning" or "none", the message)."""
    app = validator(case.app, strict_stdlib=strict, ignore=case.also)
    unraisable: list[BaseException | None] = []
    hook = sys.unraisablehook
    sys.unraisablehook = lambda u: unraisable.append(u.exc_value)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                case.drive(app, _environ(case, kit), kit)
            except AssertionError as error:
                return "error", str(error)
            gc.collect()
    finally:
        sys.unraisablehook = hook
    errors = [e for e in unraisable if isinstance(e, AssertionError)]
    if errors:
        return "error", str(errors[0])
    found = [str(w.message) for w in caught if issubclass(w.category, WSGIWarning)]
    return ("warning", found[0]) if found else ("none", "")


def _no_address(message: str) -> str:
    return re.sub(r" at 0x[0-9a-f]+", "", message)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("case_id", list(CASES))
def test_case_breaks_its_rule_in_every_mode(
    case_id: str, mode: str, kit: "type[Kit]", capsys: pytest.CaptureFixture[str]
) -> None:
    case = CASES[case_id]
    rule = RULES[case.rule]
    strict = MODES[mode]["strict_stdlib"]
    report = _report(case, kit, strict=strict)
    assert case.rule in report.rules(), report.format()
    assert report.rules() <= {case.rule} | case.also, report.format()
    message = next(v.message for v in report.violations if v.rule == case.rule)
    if mode.startswith("raise"):
        expected = "" if rule.message is None else message
        kind = "warning" if rule.severity == "warning" else "error"
        outcome = _raised(case, kit, strict=strict)
        assert (outcome[0], _no_address(outcome[1])) == (kind, _no_address(expected))
    capsys.readouterr()  # the unclosed iterator's line on stderr, in raise mode


# -- the table of the docs page --------------------------------------------------------


@dataclass(frozen=True)
class Row:
    number: int
    sentence: str
    rules: list[str]
    cases: list[str]


def _table() -> list[Row]:
    rows = []
    for line in _DOCS_PAGE.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == 5 and cells[0].isdigit():
            number, sentence, _section, rules, cases = cells
            rows.append(
                Row(int(number), sentence, re.findall(r"`([^`]+)`", rules),
                    re.findall(r"`([^`]+)`", cases))
            )  # fmt: skip
    return rows


_ROWS = _table()


def test_the_table_has_every_row_numbered_in_order() -> None:
    assert len(_ROWS) >= 40
    assert [row.number for row in _ROWS] == list(range(1, len(_ROWS) + 1))


@pytest.mark.parametrize("row", _ROWS, ids=lambda row: str(row.number))
def test_table_row_names_rules_that_exist_and_cases_that_break_them(row: Row) -> None:
    assert row.sentence.startswith(('"', "`")), row.sentence
    assert row.rules
    assert row.cases
    for rule_id in row.rules:
        assert rule_id in RULES
        assert not RULES[rule_id].strict_only  # a PEP 3333 rule holds in every mode
        assert any(CASES[c].rule == rule_id for c in row.cases if c in CASES), rule_id
    for case_id in row.cases:
        assert case_id in CASES, case_id
        assert CASES[case_id].rule in row.rules, case_id


def test_every_case_is_in_the_table() -> None:
    listed = {case_id for row in _ROWS for case_id in row.cases}
    assert listed == set(CASES)


def test_every_case_is_named_for_its_rule() -> None:
    for case_id, case in CASES.items():
        assert case_id.split(":")[0] == case.rule


# -- ISO-8859-1 (PEP 3333 §Unicode Issues), for any text --------------------------------

_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x1FFFF, exclude_characters="\x7f"))


def _latin_1(text: str) -> bool:
    return all(ord(c) <= 0xFF for c in text)


def _start(app: App, **options: Any) -> None:
    """Call the validated *app* once with a conforming environ, and close its result."""
    environ: WSGIEnvironment = {"QUERY_STRING": ""}
    setup_testing_defaults(environ)
    result: Any = validator(app, **options)(environ, lambda *args: lambda data: None)
    result.close()


@settings(max_examples=150, deadline=None)
@given(reason=_TEXT, value=_TEXT, strict=st.booleans())
def test_property_any_char_beyond_u00ff_in_status_or_header_value_is_flagged_in_every_mode(
    reason: str, value: str, strict: bool
) -> None:
    app = responding("200 " + reason, [CT, ("X-Text", value)])
    report = ValidationReport()
    _start(app, report=report, strict_stdlib=strict)
    assert report.rules() <= {"status-latin-1", "header-value-latin-1"}
    assert ("status-latin-1" in report.rules()) is not _latin_1(reason)
    assert ("header-value-latin-1" in report.rules()) is not _latin_1(value)
    if _latin_1(reason) and _latin_1(value):
        _start(app, strict_stdlib=strict)
    else:
        with pytest.raises(
            AssertionError,
            match="which is not ISO-8859-1: PEP 3333 says "
            '"It is a fatal error for an application to supply strings',
        ):
            _start(app, strict_stdlib=strict)
