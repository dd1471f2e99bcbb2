"""Report mode: violations recorded as values, the request completes, nothing raised."""

import threading
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgi_validate import RULES, ValidationReport, Violation, validator

if TYPE_CHECKING:
    from conftest import Kit, Runner

CT = ("Content-Type", "text/plain")


def sloppy_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Breaks four rules, and still produces a response."""
    environ["wsgi.input"].read()  # no size: stdlib rule, bare AssertionError
    start_response("200 OK", [("Connection", "close"), ("X-A", "a\x7f")])  # no Content-Type
    return [b"Hello"]


def test_conforming_app_leaves_the_report_empty(run: "Runner", kit: "type[Kit]") -> None:
    report = ValidationReport()
    run(kit.app_with(), report=report)
    assert report.violations == []
    report.raise_for_violations(include_warnings=True)


def test_every_violation_is_recorded_and_the_request_completes(
    run: "Runner", kit: "type[Kit]"
) -> None:
    report = ValidationReport()
    exchange = run(sloppy_app, kit.make_environ(b"body"), report=report)
    assert exchange.body == b"Hello"
    assert exchange.calls == [("200 OK", [("Connection", "close"), ("X-A", "a\x7f")])]
    assert [v.rule for v in report.violations] == [
        "input-read-size",
        "content-type-missing",
        "header-value-control-char",
        "header-hop-by-hop",
    ]


def test_violation_carries_rule_side_message_reference_and_request(
    run: "Runner", kit: "type[Kit]"
) -> None:
    report = ValidationReport()
    run(sloppy_app, kit.make_environ(b"body", PATH_INFO="/form"), report=report)
    assert report.violations[3] == Violation(
        rule="header-hop-by-hop",
        side="application",
        message="Hop-by-hop header not allowed in a WSGI response: 'Connection'",
        reference="PEP 3333 §Other HTTP Features",
        severity="error",
        request="GET /form",
    )
    # Where the stdlib raises a bare AssertionError, the report gives the rule's summary.
    assert report.violations[0].message == RULES["input-read-size"].summary
    assert str(report.violations[3]) == (
        "error header-hop-by-hop (application) [GET /form]: Hop-by-hop header not allowed "
        "in a WSGI response: 'Connection' (PEP 3333 §Other HTTP Features)"
    )


def test_server_side_violations_are_attributed_to_the_server(
    run: "Runner", kit: "type[Kit]"
) -> None:
    report = ValidationReport()
    run(kit.app_with(), kit.make_environ(SERVER_PORT=80, PATH_INFO="x"), report=report)
    assert [(v.rule, v.side) for v in report.violations] == [
        ("environ-value-type", "server"),
        ("environ-path-info", "server"),
    ]


def test_warnings_are_recorded_not_emitted(run: "Runner", kit: "type[Kit]") -> None:
    report = ValidationReport()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(kit.app_with(), kit.make_environ(QUERY_STRING=None), report=report)
    assert [(v.rule, v.severity) for v in report.violations] == [
        ("environ-query-string", "warning")
    ]
    assert report.errors == []
    assert report.warnings == report.violations
    report.raise_for_violations()
    with pytest.raises(AssertionError, match="1 WSGI violation"):
        report.raise_for_violations(include_warnings=True)


def test_raise_for_violations_lists_every_error(run: "Runner", kit: "type[Kit]") -> None:
    report = ValidationReport()
    run(sloppy_app, kit.make_environ(b"body"), report=report)
    with pytest.raises(AssertionError) as info:
        report.raise_for_violations()
    text = str(info.value)
    assert text.startswith("4 WSGI violation(s):\n  error input-read-size")
    assert text.count("\n") == 4
    assert report.format().count("\n") == 3
    assert report.rules() == {
        "input-read-size",
        "header-value-control-char",
        "content-type-missing",
        "header-hop-by-hop",
    }
    assert repr(report) == "<ValidationReport with 4 violation(s)>"
    report.clear()
    assert report.violations == []
    assert report.format() == ""


def test_one_report_collects_across_apps_requests_and_threads(kit: "type[Kit]") -> None:
    report = ValidationReport()
    apps = [validator(sloppy_app, report=report), validator(kit.app_with("600 X"), report=report)]

    def serve(app: WSGIApplication) -> None:
        for _ in range(10):
            kit.FakeServer().run(app, kit.make_environ(b"body"))

    threads = [threading.Thread(target=serve, args=(app,)) for app in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(report.violations) == 10 * 4 + 10 * 1
    assert "status-code-range" in report.rules()


def test_unclosed_iterator_is_recorded_not_printed(
    kit: "type[Kit]", capsys: pytest.CaptureFixture[str]
) -> None:
    report = ValidationReport()
    result = validator(kit.app_with(), report=report)(
        kit.make_environ(), kit.FakeServer().start_response
    )
    assert list(result) == [b"Hello"]
    del result
    assert [(v.rule, v.side) for v in report.violations] == [("iterator-not-closed", "server")]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("environ_change", "rules"),
    [
        ({"wsgi.input": None}, ["environ-required-key"]),
        ({"wsgi.errors": None, "wsgi.version": "1.0"}, ["environ-required-key",
                                                          "environ-wsgi-version"]),
        ({"SCRIPT_NAME": 1, "CONTENT_LENGTH": "x"}, ["environ-value-type",
                                                       "environ-content-length"]),
        ({"wsgi.url_scheme": None, "REQUEST_METHOD": None},
         ["environ-required-key", "environ-required-key"]),
    ],
)  # fmt: skip
def test_broken_environ_is_reported_and_the_app_still_runs(
    run: "Runner", kit: "type[Kit]", environ_change: dict[str, Any], rules: list[str]
) -> None:
    report = ValidationReport()
    assert run(kit.app_with(), kit.make_environ(b"", **environ_change), report=report).body
    assert [v.rule for v in report.violations] == rules


def test_environ_that_is_not_a_dict_is_reported_and_passed_through(kit: "type[Kit]") -> None:
    report = ValidationReport()
    seen: list[object] = []

    def app(environ: Any, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ)
        start_response("200 OK", [CT])
        return [b"x"]

    odd: Any = ["not", "a", "dict"]
    kit.FakeServer().run(validator(app, report=report), odd)
    assert seen == [odd]
    assert [v.rule for v in report.violations] == ["environ-type"]
    assert report.violations[0].request == ""


@pytest.mark.parametrize(
    ("body", "rule"),
    [(None, "app-return-none"), (b"text", "app-return-string"), ("text", "app-return-string")],
)
def test_bad_return_value_is_reported_and_returned_unchanged(
    kit: "type[Kit]", body: Any, rule: str
) -> None:
    report = ValidationReport()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        start_response("200 OK", [CT])
        return body

    result = validator(app, report=report)(kit.make_environ(), kit.FakeServer().start_response)
    assert result is body
    assert [v.rule for v in report.violations] == [rule]


def test_bad_calls_are_reported_and_passed_through(kit: "type[Kit]") -> None:
    report = ValidationReport()
    calls: list[tuple[Any, ...]] = []

    def app(*args: Any, **kw: Any) -> Iterable[bytes]:
        calls.append((args, kw))
        return []

    wrapped: Any = validator(app, report=report)
    wrapped(kit.make_environ(), print, extra=1)
    wrapped("one")
    assert calls == [((calls[0][0][0], print), {"extra": 1}), (("one",), {})]
    assert [v.rule for v in report.violations] == ["call-keywords", "call-arguments"]


def test_bad_start_response_calls_are_reported_and_passed_through(kit: "type[Kit]") -> None:
    report = ValidationReport()

    def app(environ: WSGIEnvironment, start_response: Any) -> Iterable[bytes]:
        start_response(200, ("X", "Y"), "not exc_info")
        start_response("200 OK", [["X-A", "1"], ("X-B",), (1, 2)], None)
        start_response("200 OK", [CT], exc_info=None)
        return []

    server = kit.FakeServer()
    server.run(validator(app, report=report), kit.make_environ())
    assert len(server.exchange.calls) == 3
    assert [v.rule for v in report.violations] == [
        "status-type",
        "headers-type",
        "header-item-type",
        "header-item-type",
        "exc-info-type",
        "header-item-type",
        "header-item-length",
        "header-type",
        "header-type",
        "content-type-missing",
        "start-response-twice",
        "start-response-keywords",
    ]


def test_stream_misuse_is_reported_and_passed_through(kit: "type[Kit]") -> None:
    report = ValidationReport()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        environ["wsgi.input"].read(100)
        environ["wsgi.input"].close()
        environ["wsgi.errors"].write(b"bytes")
        environ["wsgi.errors"].close()
        write = start_response("200 OK", [CT, ("Content-Length", "2")])
        write("text")  # type: ignore[arg-type]
        yield "str"  # type: ignore[misc]
        yield b"abc"

    kit.FakeServer().run(_lenient_streams(validator(app, report=report)), kit.make_environ(b"x"))
    assert [v.rule for v in report.violations] == [
        "input-past-content-length",
        "input-close",
        "errors-write-type",
        "errors-close",
        "write-from-iterable",  # write() called by the generator, i.e. the iterable
        "write-type",
        "iterator-item-type",
        "content-length-mismatch",
    ]


def _lenient_streams(app: WSGIApplication) -> WSGIApplication:
    """Let the fake server's streams take what the app passes through."""

    class AnyErrors:
        def write(self, s: object) -> None:
            pass

        flush = writelines = write

    def wrapper(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.errors"] = AnyErrors()

        def lenient_start_response(*args: Any) -> Any:
            start_response(*args)
            return lambda data: None

        result: Any = app(environ, lenient_start_response)
        try:
            return [d if isinstance(d, bytes) else b"" for d in result]
        finally:
            result.close()

    return wrapper


def test_ignore_skips_the_named_rules_in_raise_mode(run: "Runner", kit: "type[Kit]") -> None:
    app = kit.app_with(headers=[CT, ("Connection", "close")], body=[b"abc"])
    with pytest.raises(AssertionError, match="Hop-by-hop"):
        run(app)
    assert run(app, ignore=["header-hop-by-hop"]).body == b"abc"


def test_ignore_skips_the_named_rules_in_report_mode(run: "Runner", kit: "type[Kit]") -> None:
    report = ValidationReport()
    run(sloppy_app, kit.make_environ(b"body"), report=report, ignore={"input-read-size"})
    assert "input-read-size" not in report.rules()
    assert len(report.violations) == 3


def test_ignore_refuses_unknown_rule_ids(kit: "type[Kit]") -> None:
    with pytest.raises(ValueError, match=r"unknown rule id\(s\): \['no-such-rule'\]"):
        validator(kit.app_with(), ignore=["no-such-rule"])


# The pytest recipe of the README, as a test.


@pytest.fixture
def wsgi_report() -> Iterator[ValidationReport]:
    report = ValidationReport()
    yield report
    report.raise_for_violations()


def test_readme_recipe_a_fixture_that_fails_the_test_on_violations(
    wsgi_report: ValidationReport, kit: "type[Kit]"
) -> None:
    app = validator(kit.app_with(), report=wsgi_report)
    assert kit.FakeServer().run(app, kit.make_environ()).body == b"Hello"
    assert wsgi_report.violations == []
