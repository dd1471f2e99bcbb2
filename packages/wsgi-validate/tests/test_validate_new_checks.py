"""The PEP 3333 / RFC 9110 rules ``wsgiref.validate`` misses: a violating app raises
``AssertionError`` with a clear message, a conforming one passes."""

import contextlib
import io
import re
import wsgiref.validate
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from wsgi_util import FileWrapper
from wsgi_util.types import StartResponse, WSGIEnvironment
from wsgi_validate import RULES, ValidationReport, WSGIWarning, validator

if TYPE_CHECKING:
    from conftest import Kit, Runner

CT = ("Content-Type", "text/plain")


# -- the status ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["600 Too High", "999 Way Too High"])
def test_status_code_above_599_is_refused(run: "Runner", kit: "type[Kit]", status: str) -> None:
    with pytest.raises(AssertionError, match=r"^Status code is invalid: \d+$"):
        run(kit.app_with(status))


@pytest.mark.parametrize("status", ["100 Continue", "200 OK", "599 Edge"])
def test_status_code_within_100_to_599_is_accepted(
    run: "Runner", kit: "type[Kit]", status: str
) -> None:
    headers: list[tuple[str, str]] | None = [] if status.startswith("1") else None
    body: tuple[bytes, ...] = () if status.startswith("1") else (b"x",)
    run(kit.app_with(status, headers, body), strict_stdlib=not status.startswith("1"))


@pytest.mark.parametrize("status", ["+20 OK", "1_0 OK", "٢٠٠ OK"])
def test_status_code_that_int_accepts_but_is_not_three_ascii_digits_is_refused(
    run: "Runner", kit: "type[Kit]", status: str
) -> None:
    with pytest.raises(AssertionError, match=r"^Status code is invalid: "):
        run(kit.app_with(status))


def test_status_code_that_is_not_an_integer_is_an_assertion_not_a_value_error(
    run: "Runner", kit: "type[Kit]"
) -> None:
    with pytest.raises(AssertionError, match=r"^Status code is invalid: '20X'$"):
        run(kit.app_with("20X OK"))
    with pytest.raises(ValueError, match="invalid literal"):  # the stdlib's crash
        kit.FakeServer().run(wsgiref.validate.validator(kit.app_with("20X OK")), kit.make_environ())


@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\x01", "\x1f", "\x7f"])
def test_control_character_in_status_is_refused(run: "Runner", kit: "type[Kit]", char: str) -> None:
    message = f"Status contains a control character: {'200 O' + char + 'K'!r} (bad char: {char!r})"
    with pytest.raises(AssertionError) as info:
        run(kit.app_with("200 O" + char + "K"))
    assert str(info.value) == message


def test_htab_and_obs_text_in_status_reason_are_accepted(run: "Runner", kit: "type[Kit]") -> None:
    run(kit.app_with("200 O\tK"))
    run(kit.app_with("200 Café"))


# -- header values ---------------------------------------------------------------------


def test_del_in_header_value_is_refused(run: "Runner", kit: "type[Kit]") -> None:
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(headers=[CT, ("X-A", "a\x7fb")]))
    assert str(info.value) == "Bad header value: 'a\\x7fb' (bad char: '\\x7f')"


@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x09), *range(0x0A, 0x20)]])
def test_every_control_character_but_htab_in_header_value_is_refused(
    run: "Runner", kit: "type[Kit]", char: str
) -> None:
    with pytest.raises(AssertionError, match=r"^Bad header value: "):
        run(kit.app_with(headers=[CT, ("X-A", f"a{char}b")]))


def test_visible_and_obs_text_header_values_are_accepted(run: "Runner", kit: "type[Kit]") -> None:
    run(kit.app_with(headers=[CT, ("X-A", "".join(map(chr, range(0x20, 0x7F))) + "é\xff")]))


# -- hop-by-hop headers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "TE",
        "Trailers",
        "Transfer-Encoding",
        "upgrade",
    ],
)
def test_hop_by_hop_header_from_the_application_is_refused(
    run: "Runner", kit: "type[Kit]", name: str
) -> None:
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(headers=[CT, (name, "x")]))
    assert str(info.value) == f"Hop-by-hop header not allowed in a WSGI response: {name!r}"


def test_end_to_end_headers_that_look_like_hop_by_hop_are_accepted(
    run: "Runner", kit: "type[Kit]"
) -> None:
    run(kit.app_with(headers=[CT, ("X-Connection", "close"), ("Trailer", "X-Sum")]))


def test_stdlib_does_not_catch_hop_by_hop_headers(kit: "type[Kit]") -> None:
    app = wsgiref.validate.validator(kit.app_with(headers=[CT, ("Connection", "close")]))
    assert kit.FakeServer().run(app, kit.make_environ()).body == b"Hello"


# -- Content-Length --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-1", "1.0", " 5", "5 ", "+5", "0x5", "\u0665", ""])
def test_content_length_that_is_not_digits_is_refused(
    run: "Runner", kit: "type[Kit]", value: str
) -> None:
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(headers=[CT, ("Content-Length", value)]))
    assert str(info.value) == f"Content-Length header is not a non-negative integer: {value!r}"


def test_conflicting_content_length_headers_are_refused(run: "Runner", kit: "type[Kit]") -> None:
    headers = [CT, ("Content-Length", "5"), ("content-length", "6")]
    with pytest.raises(AssertionError, match=r"^Content-Length header is not a non-negative"):
        run(kit.app_with(headers=headers, body=[b"Hello"]))


def test_content_length_matching_the_body_is_accepted(run: "Runner", kit: "type[Kit]") -> None:
    headers = [CT, ("Content-Length", "10"), ("Content-Length", "10")]
    assert run(kit.app_with(headers=headers, body=[b"Hello", b"", b"World"])).body == b"HelloWorld"


def test_body_longer_than_content_length_is_refused_before_it_is_sent(
    run: "Runner", kit: "type[Kit]"
) -> None:
    headers = [CT, ("Content-Length", "4")]
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(headers=headers, body=[b"abc", b"de"]))
    assert str(info.value) == (
        "Content-Length header says 4 bytes but the application produced more (5 bytes)"
    )


def test_body_shorter_than_content_length_is_refused_at_its_end(
    run: "Runner", kit: "type[Kit]"
) -> None:
    headers = [CT, ("Content-Length", "6")]
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(headers=headers, body=[b"abc", b"de"]))
    assert str(info.value) == (
        "Content-Length header says 6 bytes but the application produced 5 bytes"
    )


def test_bytes_given_to_write_count_towards_content_length(run: "Runner") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [CT, ("Content-Length", "3")])
        write(b"ab")
        return [b"cd"]

    with pytest.raises(AssertionError, match="says 3 bytes but the application produced more"):
        run(app)


def test_body_cut_short_by_the_server_is_not_a_content_length_mismatch(kit: "type[Kit]") -> None:
    app = validator(kit.app_with(headers=[CT, ("Content-Length", "10")], body=[b"Hello", b"World"]))
    result = app(kit.make_environ(), kit.FakeServer().start_response)
    assert next(iter(result)) == b"Hello"
    result.close()  # type: ignore[attr-defined]  # e.g. the client went away


def test_new_start_response_resets_the_declared_length(run: "Runner", kit: "type[Kit]") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT, ("Content-Length", "100")])
        start_response("500 Error", [CT, ("Content-Length", "5")], kit.exc_info())
        return [b"Error"]

    assert run(app).body == b"Error"


# -- bodies where none is allowed ---------------------------------------------------------------


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified", "103 Early Hints"])
def test_body_on_a_response_that_cannot_have_one_is_refused(
    run: "Runner", kit: "type[Kit]", status: str
) -> None:
    code = int(status[:3])
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(status, headers=[], body=[b"", b"x"]), strict_stdlib=False)
    assert str(info.value) == (
        f"A {code} response must not have a body, but the application produced 1 bytes"
    )


@pytest.mark.parametrize("status", ["204 No Content", "304 Not Modified"])
def test_empty_body_on_a_204_or_304_is_accepted(
    run: "Runner", kit: "type[Kit]", status: str
) -> None:
    run(kit.app_with(status, headers=[], body=[b""]))


def test_content_length_of_the_representation_on_a_304_is_accepted(
    run: "Runner", kit: "type[Kit]"
) -> None:
    run(kit.app_with("304 Not Modified", headers=[("Content-Length", "12")], body=[]))


@pytest.mark.parametrize("status", ["204 No Content", "103 Early Hints", "100 Continue"])
def test_content_length_on_a_1xx_or_204_response_is_refused(
    run: "Runner", kit: "type[Kit]", status: str
) -> None:
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(status, headers=[("Content-Length", "0")], body=[]), strict_stdlib=False)
    assert str(info.value) == f"A {status[:3]} response must not have a Content-Length header"


@pytest.mark.parametrize("etag", ['"abc"', 'W/"abc"', '""', '"\x80\xff!#~"'])
def test_quoted_entity_tag_is_accepted(run: "Runner", kit: "type[Kit]", etag: str) -> None:
    run(kit.app_with(headers=[("Content-Type", "text/plain"), ("ETag", etag)]))


@pytest.mark.parametrize("etag", ["abc", 'w/"abc"', '"abc', "W/abc", '"a"b"', '"a b"', 'W/ "a"'])
def test_etag_that_is_not_an_entity_tag_is_a_warning(
    run: "Runner", kit: "type[Kit]", etag: str
) -> None:
    # A warning, not an error: the application breaks no WSGI rule, the server passes
    # the field on, and wsgiref.validate lets it through (Bottle's static_file sends
    # its ETag unquoted: it must keep running under the validator, as a drop-in).
    message = (
        f"ETag header is not an entity-tag (a quoted string, optionally prefixed by W/): {etag!r}"
    )
    with pytest.warns(WSGIWarning) as caught:
        run(kit.app_with(headers=[("Content-Type", "text/plain"), ("etag", etag)]))
    assert message in [str(warning.message) for warning in caught]


@pytest.mark.parametrize("version", [(1, 1), (2, 0), (1,)])
def test_wsgi_version_other_than_1_0_is_refused(
    run: "Runner", kit: "type[Kit]", version: tuple[int, ...]
) -> None:
    with pytest.raises(AssertionError) as info:
        run(kit.app_with(), kit.make_environ(b"", **{"wsgi.version": version}))
    assert str(info.value) == f"wsgi.version should be (1, 0), not {version!r}"


def test_body_on_a_head_response_is_a_warning(run: "Runner", kit: "type[Kit]") -> None:
    # RFC 9110 §9.3.2 binds the server, which drops the body (wsgiref's users, Django
    # among them, rely on it): a warning, never an error that a drop-in would add.
    message = (
        "The response to a HEAD request must not have a body, but the application produced 5 bytes"
    )
    with pytest.warns(WSGIWarning) as caught:
        run(kit.app_with(), kit.make_environ(REQUEST_METHOD="HEAD"))
    assert message in [str(warning.message) for warning in caught]


def test_body_written_on_a_head_response_is_a_warning(run: "Runner", kit: "type[Kit]") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])(b"data")
        return []

    with pytest.warns(WSGIWarning, match="HEAD request must not have a body"):
        run(app, kit.make_environ(REQUEST_METHOD="HEAD"))


def test_head_response_with_headers_only_is_accepted(run: "Runner", kit: "type[Kit]") -> None:
    app = kit.app_with(headers=[CT, ("Content-Length", "5")], body=[b""])
    assert run(app, kit.make_environ(REQUEST_METHOD="HEAD")).body == b""


# -- reading wsgi.input ---------------------------------------------------------------------


def reader(*reads: tuple[str, int | None]) -> Any:
    """An app calling wsgi.input methods (name, size or None for no argument)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        stream = environ["wsgi.input"]
        got = b""
        for name, size in reads:
            data = getattr(stream, name)() if size is None else getattr(stream, name)(size)
            got += b"".join(data) if isinstance(data, list) else data
        start_response("200 OK", [CT])
        return [got]

    return app


@pytest.mark.parametrize(
    ("reads", "message"),
    [
        ((("read", 10),), "asked for 10 bytes with 5 left"),
        ((("read", 3), ("read", 3)), "asked for 3 bytes with 2 left"),
        ((("read", 5), ("read", 1)), "asked for 1 bytes with 0 left"),
        ((("read", 5), ("readline", 6)), "asked for 6 bytes with 0 left"),
        ((("readline", None), ("readline", 1)), "asked for 1 bytes with 0 left"),
    ],
)
def test_reading_wsgi_input_past_content_length_is_refused(
    run: "Runner", kit: "type[Kit]", reads: tuple[tuple[str, int | None], ...], message: str
) -> None:
    with pytest.raises(AssertionError) as info:
        run(reader(*reads), kit.make_environ(b"hello"))
    assert str(info.value) == f"Application read past CONTENT_LENGTH: {message}"


@pytest.mark.parametrize(
    "reads",
    [
        (("read", 5),),
        (("read", 3), ("read", 2), ("read", 0)),
        (("readline", 5),),
        (("readline", 6),),  # a limit on the line, not a demand for 6 bytes
        (("readline", 65536),),
        (("readline", None), ("readline", None)),
        (("readlines", None),),
        (("readlines", 100),),
    ],
)
def test_reading_wsgi_input_within_content_length_is_accepted(
    run: "Runner", kit: "type[Kit]", reads: tuple[tuple[str, int | None], ...]
) -> None:
    assert run(reader(*reads), kit.make_environ(b"hello")).body == b"hello"


def test_iterating_wsgi_input_to_its_end_is_accepted(run: "Runner", kit: "type[Kit]") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        lines = list(environ["wsgi.input"])
        start_response("200 OK", [CT])
        yield from lines

    assert run(app, kit.make_environ(b"a\nb\nc")).body == b"a\nb\nc"


def test_reading_without_content_length_is_not_limited(run: "Runner", kit: "type[Kit]") -> None:
    environ = kit.make_environ(CONTENT_LENGTH=None)
    assert run(reader(("read", 8192)), environ).body == b""


def test_reading_past_content_length_is_refused_before_the_read(kit: "type[Kit]") -> None:
    environ = kit.make_environ(b"hello")
    stream = environ["wsgi.input"]
    with pytest.raises(AssertionError):
        kit.FakeServer().run(validator(reader(("read", 6))), environ)
    assert stream.tell() == 0


# -- start_response called again ------------------------------------------------------------


def test_start_response_called_twice_without_exc_info_is_refused(run: "Runner") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])
        start_response("404 Not Found", [CT])
        return [b""]

    with pytest.raises(AssertionError) as info:
        run(app)
    assert str(info.value) == "start_response() called a second time without exc_info"


def test_start_response_called_again_with_exc_info_before_headers_are_sent_is_accepted(
    run: "Runner", kit: "type[Kit]"
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])
        start_response("500 Internal Server Error", [CT], kit.exc_info())
        return [b"error"]

    exchange = run(app)
    assert exchange.status == "500 Internal Server Error"


def _late_error_app(kit: "type[Kit]") -> Any:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [CT])
        yield b"partial"
        start_response("500 Internal Server Error", [CT], kit.exc_info())
        yield b"error"

    return app


def test_exc_info_after_headers_sent_is_reraised_by_a_conforming_server(
    run: "Runner", kit: "type[Kit]"
) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        run(_late_error_app(kit))


def test_server_that_returns_from_start_response_with_exc_info_after_headers_is_refused(
    kit: "type[Kit]",
) -> None:
    server = kit.FakeServer(reraise=False)
    with pytest.raises(AssertionError) as info:
        server.run(validator(_late_error_app(kit)), kit.make_environ())
    assert str(info.value) == (
        "start_response() got exc_info after the headers were sent and returned "
        "instead of re-raising it"
    )
    assert RULES["exc-info-not-reraised"].side == "server"


def test_exc_info_after_write_counts_as_headers_sent(kit: "type[Kit]") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])(b"")
        start_response("500 Internal Server Error", [CT], kit.exc_info())
        return []

    with pytest.raises(AssertionError, match="instead of re-raising"):
        kit.FakeServer(reraise=False).run(validator(app), kit.make_environ())


# -- the other environ key ------------------------------------------------------------------


def test_missing_url_scheme_is_an_assertion_not_a_key_error(
    run: "Runner", kit: "type[Kit]"
) -> None:
    with pytest.raises(AssertionError, match=re.escape("missing required key: 'wsgi.url_scheme'")):
        run(kit.app_with(), kit.make_environ(b"", **{"wsgi.url_scheme": None}))


TRAPPED = (
    "The application caught the exception start_response() re-raised for exc_info after "
    "the headers were sent; it must let it propagate"
)


def test_generator_that_traps_the_reraised_exc_info_and_goes_on_is_refused(
    run: "Runner", kit: "type[Kit]"
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [CT])
        yield b"partial"
        try:
            start_response("500 Internal Server Error", [CT], kit.exc_info())
        except RuntimeError:
            yield b"more"

    with pytest.raises(AssertionError) as info:
        run(app)
    assert str(info.value) == TRAPPED


def test_generator_that_traps_the_reraised_exc_info_and_ends_is_refused(
    run: "Runner", kit: "type[Kit]"
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [CT])
        yield b"partial"
        try:
            start_response("500 Internal Server Error", [CT], kit.exc_info())
        except RuntimeError:
            return

    with pytest.raises(AssertionError, match="must let it propagate"):
        run(app)


def test_app_that_traps_the_reraised_exc_info_after_write_is_refused(
    run: "Runner", kit: "type[Kit]"
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])(b"partial")
        with contextlib.suppress(RuntimeError):
            start_response("500 Internal Server Error", [CT], kit.exc_info())
        return []

    with pytest.raises(AssertionError, match="must let it propagate"):
        run(app)


# -- ISO-8859-1 only (PEP 3333 §Unicode Issues) ------------------------------------------

_FATAL = (
    'PEP 3333 says "It is a fatal error for an application to supply strings containing '
    'any other Unicode character or code point" than U+0000..U+00FF'
)


def test_status_beyond_iso_8859_1_is_refused_quoting_the_character_and_the_pep(
    run: "Runner", kit: "type[Kit]"
) -> None:
    with pytest.raises(AssertionError) as raised:
        run(kit.app_with("200 Ça va 😀"))
    message = str(raised.value)
    assert message.startswith("Status contains '😀' (U+1F600), which is not ISO-8859-1: ")
    assert _FATAL in message
    assert message.endswith(": '200 Ça va 😀'")


def test_header_value_beyond_iso_8859_1_is_refused_quoting_the_character_and_the_pep(
    run: "Runner", kit: "type[Kit]"
) -> None:
    disposition = ("Content-Disposition", 'attachment; filename="報告.pdf"')
    with pytest.raises(AssertionError) as raised:
        run(kit.app_with(headers=[CT, disposition]))
    message = str(raised.value)
    assert message.startswith("Header value contains '報' (U+5831), which is not ISO-8859-1: ")
    assert _FATAL in message
    assert message.endswith(": 'Content-Disposition': 'attachment; filename=\"報告.pdf\"'")


def test_iso_8859_1_text_and_rfc_8187_encoded_values_are_accepted(
    run: "Runner", kit: "type[Kit]"
) -> None:
    headers = [CT, ("Content-Disposition", "attachment; filename*=UTF-8''%E5%A0%B1.pdf")]
    assert run(kit.app_with("200 Ça va ÿ", headers)).status == "200 Ça va ÿ"


def test_stdlib_accepts_what_pep_3333_calls_a_fatal_error(kit: "type[Kit]") -> None:
    kit.FakeServer().run(
        wsgiref.validate.validator(kit.app_with("200 😀", [CT, ("X-A", "報告")])),
        kit.make_environ(),
    )


def test_cgi_variable_beyond_iso_8859_1_is_refused(run: "Runner", kit: "type[Kit]") -> None:
    with pytest.raises(AssertionError, match=r"Environment variable 'PATH_INFO' holds '報'"):
        run(kit.app_with(), kit.make_environ(PATH_INFO="/報告"))


# -- the rest of PEP 3333's musts ----------------------------------------------------------


def test_exc_info_as_sys_exc_info_gives_it_outside_an_exception_is_accepted(
    run: "Runner", kit: "type[Kit]"
) -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT], (None, None, None))
        return [b"ok"]

    assert run(app).body == b"ok"


def test_stream_protocol_names_are_not_stream_methods(kit: "type[Kit]") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert not hasattr(environ["wsgi.input"], "__fspath__")
        assert not hasattr(environ["wsgi.errors"], "__fspath__")
        start_response("200 OK", [CT])
        return [b"ok"]

    kit.FakeServer().run(validator(app), kit.make_environ())


def test_other_stream_method_in_report_mode_is_recorded_and_passed_through(
    kit: "type[Kit]",
) -> None:
    report = ValidationReport()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])
        return [environ["wsgi.input"].getvalue()]

    assert kit.FakeServer().run(validator(app, report=report), kit.make_environ(b"body")).body == (
        b"body"
    )
    assert [v.message for v in report.violations] == [
        RULES["input-other-attribute"].format(("getvalue",))
    ]


def test_accurate_len_of_the_iterable_is_accepted(run: "Runner", kit: "type[Kit]") -> None:
    assert run(kit.app_with(body=[b"a", b"b", b""])).body == b"ab"


def test_len_of_the_servers_own_file_wrapper_is_not_checked(kit: "type[Kit]") -> None:
    class BytesLeft:
        """Like waitress's file wrapper: len() counts bytes, not items."""

        def __init__(self, filelike: Any, block_size: int = 8192) -> None:
            self.filelike = filelike

        def __len__(self) -> int:
            return 0

        def __iter__(self) -> Iterator[bytes]:
            return iter([self.filelike.read()])

        def close(self) -> None:
            self.filelike.close()

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        start_response("200 OK", [CT])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file"))

    environ = kit.make_environ()
    environ["wsgi.file_wrapper"] = BytesLeft
    assert kit.FakeServer().run(validator(app), environ).body == b"file"


def test_write_before_returning_is_accepted(run: "Runner", kit: "type[Kit]") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [CT])(b"written ")
        return [b"then yielded"]

    assert run(app).body == b"written then yielded"


@pytest.mark.parametrize("stream", ["wsgi.input", "wsgi.errors"])
def test_probing_a_stream_answers_as_wsgiref_validate_does(kit: "type[Kit]", stream: str) -> None:
    # Frameworks probe streams (hasattr, getattr with a default): under
    # wsgiref.validate the wrapper has no other attribute, so the probe says no.
    # Here too, while using the attribute still fails the check.
    seen: list[object] = []

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        wrapped = environ[stream]
        seen.append(hasattr(wrapped, "seekable"))
        seen.append(getattr(wrapped, "fileno", None))
        with pytest.raises(AssertionError, match="seekable"):
            wrapped.seekable()
        start_response("200 OK", [CT])
        return [b"ok"]

    assert kit.FakeServer().run(validator(app), kit.make_environ(b"")).body == b"ok"
    assert seen == [False, None]


def test_a_server_may_test_its_response_against_the_file_wrapper_with_isinstance(
    kit: "type[Kit]",
) -> None:
    # gunicorn's workers do isinstance(result, environ["wsgi.file_wrapper"]) on the
    # response; the validator's stand-in must answer that, not raise TypeError.
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        stand_in = environ["wsgi.file_wrapper"]
        assert stand_in is not FileWrapper
        assert isinstance(FileWrapper(io.BytesIO()), stand_in)
        assert issubclass(FileWrapper, stand_in)
        assert not isinstance(b"", stand_in)
        start_response("200 OK", [CT])
        return stand_in(io.BytesIO(b"file"))

    environ = kit.make_environ()
    environ["wsgi.file_wrapper"] = FileWrapper
    assert kit.FakeServer().run(validator(app), environ).body == b"file"
    assert not isinstance([b""], environ["wsgi.file_wrapper"])

    def plain(filelike: Any, block_size: int = 8192) -> Iterable[bytes]:
        return FileWrapper(filelike, block_size)

    def app_with_function(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        assert not isinstance(b"", environ["wsgi.file_wrapper"])  # not a class: False
        start_response("200 OK", [CT])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file"))

    environ = kit.make_environ()
    environ["wsgi.file_wrapper"] = plain
    assert kit.FakeServer().run(validator(app_with_function), environ).body == b"file"


def test_cgi_field_storage_reads_a_multipart_body_as_under_wsgiref(
    run: "Runner", kit: "type[Kit]"
) -> None:
    # The stdlib's own form parser (Python 3.12 and older) reads with readline(65536).
    cgi = pytest.importorskip("cgi")
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="name"\r\n\r\nbob\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--XX--\r\n"
    )

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        form = cgi.FieldStorage(fp=environ["wsgi.input"], environ=environ)
        start_response("200 OK", [CT])
        return [form.getfirst("name").encode(), b" ", form["f"].value]

    environ = kit.make_environ(body, CONTENT_TYPE="multipart/form-data; boundary=XX")
    environ["REQUEST_METHOD"] = "POST"
    assert run(app, environ).body == b"bob hello"
