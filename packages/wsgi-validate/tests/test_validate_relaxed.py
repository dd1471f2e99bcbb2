"""The stdlib's false positives: two fixed outright, the others kept by default and
relaxed to what PEP 3333 allows by ``strict_stdlib=False``."""

import string
import warnings
import wsgiref.validate
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsgi_util.types import StartResponse, WSGIEnvironment
from wsgi_validate import check_headers, validator

if TYPE_CHECKING:
    from conftest import Kit, Runner

CT = ("Content-Type", "text/plain")
TCHARS = "!#$%&'*+-.^_`|~" + string.digits + string.ascii_letters


# -- fixed outright ---------------------------------------------------------------------


def test_htab_inside_a_header_value_is_accepted(run: "Runner", kit: "type[Kit]") -> None:
    app = kit.app_with(headers=[CT, ("X-List", "a,\tb")])
    assert run(app).body == b"Hello"
    with pytest.raises(AssertionError, match="Bad header value"):  # the stdlib's false positive
        kit.FakeServer().run(wsgiref.validate.validator(app), kit.make_environ())


@pytest.mark.parametrize("name", ["X.Trace", "X-Ok!", "X-A|B", "X~Y", "X#1", "X'Q", "X^", "X`"])
def test_header_name_that_is_an_rfc9110_token_is_accepted(
    run: "Runner", kit: "type[Kit]", name: str
) -> None:
    app = kit.app_with(headers=[CT, (name, "1")])
    assert run(app).body == b"Hello"
    with pytest.raises(AssertionError, match="Bad header name"):  # the stdlib's false positive
        kit.FakeServer().run(wsgiref.validate.validator(app), kit.make_environ())


@pytest.mark.parametrize("name", ["X Y", "X(Y)", "X,Y", "X;Y", "X/Y", 'X"Y', "Xé", "X@Y", ""])
def test_header_name_that_is_not_a_token_is_refused(name: str) -> None:
    with pytest.raises(AssertionError, match=r"^Bad header name: "):
        check_headers([(name, "1")])


@given(st.text(TCHARS, min_size=1).map(lambda s: "X" + s).filter(lambda s: s[-1] not in "-_"))
def test_property_letter_then_tchars_not_ending_in_dash_or_underscore_is_accepted(
    name: str,
) -> None:
    check_headers([(name, "v")])


@given(st.text(min_size=1))
def test_property_header_name_accepted_by_the_stdlib_is_accepted(name: str) -> None:
    try:
        vars(wsgiref.validate)["check_headers"]([(name, "v")])
    except AssertionError:
        return
    check_headers([(name, "v")])


@given(st.text())
def test_property_header_value_without_controls_but_htab_is_accepted_and_others_refused(
    value: str,
) -> None:
    bad = any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in value)
    wide = any(ord(c) > 0xFF for c in value)  # PEP 3333 §Unicode Issues: a fatal error
    if bad:
        with pytest.raises(AssertionError, match=r"^Bad header value: "):
            check_headers([("X-A", value)])
    elif wide:
        with pytest.raises(AssertionError, match=r"^Header value contains .* not ISO-8859-1"):
            check_headers([("X-A", value)])
    else:
        check_headers([("X-A", value)])


def test_missing_script_name_is_accepted_where_the_stdlib_crashes(
    run: "Runner", kit: "type[Kit]"
) -> None:
    environ = kit.make_environ(SCRIPT_NAME=None)
    assert run(kit.app_with(), environ).body == b"Hello"
    with pytest.raises(KeyError):  # the stdlib formats its message before checking
        kit.FakeServer().run(wsgiref.validate.validator(kit.app_with()), environ)


# -- kept by default, relaxed with strict_stdlib=False --------------------------------------------


def read_all(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    data = environ["wsgi.input"].read()
    start_response("200 OK", [CT])
    return [data]


def test_read_without_size_is_refused_by_default(run: "Runner", kit: "type[Kit]") -> None:
    with pytest.raises(AssertionError, match=r"^$"):
        run(read_all, kit.make_environ(b"body"))


def test_read_without_size_is_accepted_when_relaxed(run: "Runner", kit: "type[Kit]") -> None:
    assert run(read_all, kit.make_environ(b"body"), strict_stdlib=False).body == b"body"


def test_read_with_two_arguments_is_refused_even_when_relaxed(
    run: "Runner", kit: "type[Kit]"
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ["wsgi.input"].read(1, 2)
        return []

    with pytest.raises(AssertionError):
        run(app, strict_stdlib=False)


@pytest.mark.parametrize("name", ["1X", "X-", "X_", "-X", "!", "~x~"])
def test_header_names_the_stdlib_refuses_but_rfc9110_allows(
    run: "Runner", kit: "type[Kit]", name: str
) -> None:
    app = kit.app_with(headers=[CT, (name, "1")])
    with pytest.raises(AssertionError, match=r"^(Bad header name|Names may not end)"):
        run(app)
    assert run(app, strict_stdlib=False).body == b"Hello"


def test_missing_content_type_is_accepted_when_relaxed(run: "Runner", kit: "type[Kit]") -> None:
    app = kit.app_with(headers=[("Content-Length", "5")])
    with pytest.raises(AssertionError, match=r"^No Content-Type header found"):
        run(app)
    assert run(app, strict_stdlib=False).body == b"Hello"


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_content_type_on_204_and_304_is_accepted_when_relaxed(
    run: "Runner", kit: "type[Kit]", status: str
) -> None:
    app = kit.app_with(status, headers=[CT], body=[])
    with pytest.raises(AssertionError, match=r"^Content-Type header found in a"):
        run(app)
    run(app, strict_stdlib=False)


def test_missing_query_string_does_not_warn_when_relaxed(run: "Runner", kit: "type[Kit]") -> None:
    environ = kit.make_environ(QUERY_STRING=None)
    with pytest.warns(Warning, match="QUERY_STRING is not in the WSGI environment"):
        run(kit.app_with(), environ)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(kit.app_with(), kit.make_environ(QUERY_STRING=None), strict_stdlib=False)


def test_unknown_method_does_not_warn_when_relaxed(run: "Runner", kit: "type[Kit]") -> None:
    with pytest.warns(Warning, match="Unknown REQUEST_METHOD: 'PROPFIND'"):
        run(kit.app_with(), kit.make_environ(REQUEST_METHOD="PROPFIND"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(kit.app_with(), kit.make_environ(REQUEST_METHOD="PROPFIND"), strict_stdlib=False)


def test_unclosed_iterable_without_close_is_accepted_when_relaxed(
    kit: "type[Kit]", monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unraisable: list[BaseException | None] = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: unraisable.append(u.exc_value))

    def plain(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [CT])
        return kit.iterate([b"x"])

    result = validator(plain, strict_stdlib=False)(
        kit.make_environ(), kit.FakeServer().start_response
    )
    assert list(result) == [b"x"]
    del result
    assert unraisable == []
    assert capsys.readouterr().err == ""


def test_unclosed_iterable_with_close_is_refused_even_when_relaxed(
    kit: "type[Kit]", monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    unraisable: list[BaseException | None] = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: unraisable.append(u.exc_value))

    def generator(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [CT])
        yield b"x"

    result = validator(generator, strict_stdlib=False)(
        kit.make_environ(), kit.FakeServer().start_response
    )
    assert list(result) == [b"x"]
    del result
    assert [str(e) for e in unraisable] == ["Iterator garbage collected without being closed"]
    assert capsys.readouterr().err == "Iterator garbage collected without being closed"


@pytest.mark.parametrize("status", ["200 O\x00K", "600 Big"])
def test_pep3333_rules_still_hold_when_relaxed(
    run: "Runner", kit: "type[Kit]", status: str
) -> None:
    with pytest.raises(AssertionError):
        run(kit.app_with(status), strict_stdlib=False)
