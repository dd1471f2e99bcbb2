"""Every documented hook: a subclass that overrides it sees the documented effect."""

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from wsgi_handlers import BaseCGIHandler, BaseHandler, SimpleHandler
from wsgi_headers import Headers

MakeEnviron = Callable[..., dict[str, Any]]
seen: dict[str, Any] = {}


def record_environ(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    seen.clear()
    seen.update(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def failing(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    def inner() -> None:
        def deeper() -> None:
            raise ValueError("deep failure")

        deeper()

    inner()
    return []


class Minimal(BaseHandler):
    """Only the five abstract methods, writing to lists."""

    def __init__(self, environ: dict[str, Any]) -> None:
        self.out: list[bytes] = []
        self.flushes = 0
        self.errors = io.StringIO()
        self.request_environ = environ

    def _write(self, data: bytes) -> None:
        self.out.append(data)

    def _flush(self) -> None:
        self.flushes += 1

    def get_stdin(self) -> Any:
        return io.BytesIO(b"request body")

    def get_stderr(self) -> Any:
        return self.errors

    def add_cgi_vars(self) -> None:
        self.environ.update(self.request_environ)


def simple(environ: dict[str, Any], **attrs: Any) -> tuple[SimpleHandler, io.BytesIO]:
    out = io.BytesIO()
    h = SimpleHandler(io.BytesIO(), out, io.StringIO(), environ)
    for k, v in attrs.items():
        setattr(h, k, v)
    return h, out


@pytest.mark.parametrize("method", ["_write", "_flush", "get_stdin", "get_stderr", "add_cgi_vars"])
def test_the_five_abstract_methods_raise_not_implemented(method: str) -> None:
    handler = BaseHandler()
    args: tuple[Any, ...] = (b"x",) if method == "_write" else ()
    with pytest.raises(NotImplementedError):
        getattr(handler, method)(*args)


def test_write_and_flush_overrides_receive_the_response(environ: dict[str, Any]) -> None:
    h = Minimal(environ)
    h.run(record_environ)
    assert b"".join(h.out).startswith(b"HTTP/1.0 200 OK\r\n")
    assert b"".join(h.out).endswith(b"\r\n\r\nok")
    assert h.flushes >= 1


def test_get_stdin_and_get_stderr_overrides_become_wsgi_input_and_errors(
    environ: dict[str, Any],
) -> None:
    h = Minimal(environ)
    h.run(record_environ)
    assert seen["wsgi.input"].read() == b"request body"
    assert seen["wsgi.errors"] is h.errors


def test_add_cgi_vars_override_fills_the_environ(make_environ: MakeEnviron) -> None:
    Minimal(make_environ(PATH_INFO="/here")).run(record_environ)
    assert seen["PATH_INFO"] == "/here"


@pytest.mark.parametrize(
    ("attr", "key"),
    [
        ("wsgi_multithread", "wsgi.multithread"),
        ("wsgi_multiprocess", "wsgi.multiprocess"),
        ("wsgi_run_once", "wsgi.run_once"),
    ],
)
@pytest.mark.parametrize("value", [True, False])
def test_wsgi_flags_set_the_environ(
    attr: str, key: str, value: bool, environ: dict[str, Any]
) -> None:
    subclass = type("Sub", (Minimal,), {attr: value})
    subclass(environ).run(record_environ)
    assert seen[key] is value


def test_wsgi_version_is_1_0_by_default(environ: dict[str, Any]) -> None:
    Minimal(environ).run(record_environ)
    assert seen["wsgi.version"] == (1, 0)


def test_simple_handler_constructor_sets_thread_and_process_flags(
    environ: dict[str, Any],
) -> None:
    h = SimpleHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), environ, False, True)
    h.run(record_environ)
    assert (seen["wsgi.multithread"], seen["wsgi.multiprocess"]) == (False, True)
    assert (h.stdin, h.base_env) == (h.get_stdin(), environ)


def test_os_environ_supplies_defaults_the_request_overrides(
    make_environ: MakeEnviron,
) -> None:
    class Sub(Minimal):
        os_environ = {"FROM_OS": "1", "PATH_INFO": "/os"}  # noqa: RUF012

    Sub(make_environ(PATH_INFO="/req")).run(record_environ)
    assert (seen["FROM_OS"], seen["PATH_INFO"]) == ("1", "/req")
    assert Sub.os_environ == {"FROM_OS": "1", "PATH_INFO": "/os"}  # copied, not changed


def test_server_software_sets_the_environ_default_and_the_server_header(
    environ: dict[str, Any],
) -> None:
    h, out = simple(environ, server_software="Sub/2.0")
    h.run(record_environ)
    assert seen["SERVER_SOFTWARE"] == "Sub/2.0"
    assert b"\r\nServer: Sub/2.0\r\n" in out.getvalue()


def test_server_software_does_not_override_the_requests_value(
    make_environ: MakeEnviron,
) -> None:
    h, _ = simple(make_environ(SERVER_SOFTWARE="Front/1"), server_software="Sub/2.0")
    h.run(record_environ)
    assert seen["SERVER_SOFTWARE"] == "Front/1"


def test_server_software_is_ignored_by_cgi_handlers(environ: dict[str, Any]) -> None:
    out = io.BytesIO()
    h = BaseCGIHandler(io.BytesIO(), out, io.StringIO(), environ)
    h.server_software = "Sub/2.0"
    h.run(record_environ)
    assert "SERVER_SOFTWARE" not in seen
    assert b"Server:" not in out.getvalue()


def test_get_scheme_override_sets_url_scheme(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def get_scheme(self) -> str:
            return "https"

    Sub(environ).run(record_environ)
    assert seen["wsgi.url_scheme"] == "https"


def test_default_get_scheme_follows_https(make_environ: MakeEnviron) -> None:
    Minimal(make_environ(HTTPS="on")).run(record_environ)
    assert seen["wsgi.url_scheme"] == "https"


def test_setup_environ_override_can_add_keys(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def setup_environ(self) -> None:
            super().setup_environ()
            self.environ["custom.key"] = 42

    Sub(environ).run(record_environ)
    assert seen["custom.key"] == 42


def test_log_exception_override_receives_exc_info(environ: dict[str, Any]) -> None:
    logged: list[Any] = []

    class Sub(Minimal):
        def log_exception(self, exc_info: Any) -> None:
            logged.append(exc_info)

    h = Sub(environ)
    h.run(failing)
    assert logged[0][0] is ValueError
    assert h.errors.getvalue() == ""


def test_default_log_exception_writes_the_traceback_to_wsgi_errors(
    environ: dict[str, Any],
) -> None:
    h = Minimal(environ)
    h.run(failing)
    assert h.errors.getvalue().startswith("Traceback (most recent call last):")
    assert h.errors.getvalue().endswith("ValueError: deep failure\n")


def test_traceback_limit_limits_the_frames(environ: dict[str, Any]) -> None:
    full = Minimal(environ)
    full.run(failing)
    limited = type("Sub", (Minimal,), {"traceback_limit": 1})(environ)
    limited.run(failing)
    assert limited.errors.getvalue().count('File "') == 1
    assert full.errors.getvalue().count('File "') > 1


def test_error_status_headers_and_body_shape_the_error_page(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        error_status = "503 Service Unavailable"
        error_headers = [("Content-Type", "text/html"), ("Retry-After", "5")]  # noqa: RUF012
        error_body = b"<p>later</p>"

    h = Sub(environ)
    h.run(failing)
    out = b"".join(h.out)
    assert out.startswith(b"HTTP/1.0 503 Service Unavailable\r\n")
    assert b"Content-Type: text/html\r\nRetry-After: 5\r\nContent-Length: 12\r\n\r\n" in out
    assert out.endswith(b"<p>later</p>")
    assert Sub.error_headers == [("Content-Type", "text/html"), ("Retry-After", "5")]


def test_error_output_override_is_a_wsgi_app_with_the_exception(
    environ: dict[str, Any],
) -> None:
    class Sub(Minimal):
        def error_output(
            self, environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> list[bytes]:
            info = sys.exc_info()
            start_response("500 Oops", [("Content-Type", "text/plain")], info)
            return [repr(info[1]).encode()]

    h = Sub(environ)
    h.run(failing)
    assert b"".join(h.out).endswith(b"ValueError('deep failure')")


def test_error_output_is_not_used_once_headers_are_sent(environ: dict[str, Any]) -> None:
    def late(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [])
        yield b"part"
        raise ValueError("late")

    h = Minimal(environ)
    h.run(late)
    out = b"".join(h.out)
    assert out.startswith(b"HTTP/1.0 200 OK")
    assert b"500" not in out
    assert "ValueError: late" in h.errors.getvalue()


def test_wsgi_file_wrapper_is_offered_and_can_be_disabled(environ: dict[str, Any]) -> None:
    Minimal(environ).run(record_environ)
    assert seen["wsgi.file_wrapper"] is BaseHandler.wsgi_file_wrapper
    type("Sub", (Minimal,), {"wsgi_file_wrapper": None})(environ).run(record_environ)
    assert "wsgi.file_wrapper" not in seen


def test_sendfile_override_is_called_for_file_wrapper_results(environ: dict[str, Any]) -> None:
    calls: list[Any] = []

    class Sub(Minimal):
        def sendfile(self) -> bool:
            calls.append(self.result)
            self.send_headers()
            self._write(b"<sent by sendfile>")
            return True

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [("Content-Length", "18")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file contents"))

    h = Sub(environ)
    h.run(app)
    assert len(calls) == 1
    assert b"".join(h.out).endswith(b"\r\n\r\n<sent by sendfile>")


def test_sendfile_returning_false_falls_back_to_iteration(environ: dict[str, Any]) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"file contents"), 4)

    h = Minimal(environ)
    h.run(app)
    assert b"".join(h.out).endswith(b"\r\n\r\nfile contents")


def test_result_is_file_override_controls_sendfile(environ: dict[str, Any]) -> None:
    calls: list[bool] = []

    class Sub(Minimal):
        def result_is_file(self) -> bool:
            return True

        def sendfile(self) -> bool:
            calls.append(True)
            return False

    Sub(environ).run(record_environ)
    assert calls == [True]


def test_origin_server_false_sends_a_status_header(environ: dict[str, Any]) -> None:
    h = type("Sub", (Minimal,), {"origin_server": False})(environ)
    h.run(record_environ)
    assert b"".join(h.out).startswith(b"Status: 200 OK\r\nContent-Type: text/plain\r\n")


def test_http_version_sets_the_status_line(environ: dict[str, Any]) -> None:
    h = type("Sub", (Minimal,), {"http_version": "1.1"})(environ)
    h.run(record_environ)
    assert b"".join(h.out).startswith(b"HTTP/1.1 200 OK\r\n")


def test_headers_class_override_is_used(environ: dict[str, Any]) -> None:
    class Loud(Headers):
        pass

    class Sub(Minimal):
        headers_class = Loud

    captured: list[Any] = []

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("X-A", "1")])
        captured.append(h.headers)
        return [b""]

    h = Sub(environ)
    h.run(app)
    assert type(captured[0]) is Loud


def test_a_custom_headers_class_still_gets_the_safety_checks(environ: dict[str, Any]) -> None:
    class Lax:
        def __init__(self, headers: list[tuple[str, str]]) -> None:
            self._h = headers

    class Sub(Minimal):
        headers_class = Lax  # type: ignore[assignment]

    h = Sub(environ)
    h.setup_environ()
    with pytest.raises(ValueError, match="invalid"):
        h.start_response("200 OK", [("X-A", "a\r\nb")])
    with pytest.raises(AssertionError, match="Header name must be of type str"):
        h.start_response("200 OK", [(1, "a")])  # type: ignore[list-item]


def test_cleanup_headers_override_adds_headers(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def cleanup_headers(self) -> None:
            super().cleanup_headers()
            assert self.headers is not None
            self.headers["X-Added"] = "yes"

    h = Sub(environ)
    h.run(record_environ)
    assert b"Content-Length: 2\r\nX-Added: yes\r\n\r\n" in b"".join(h.out)


def test_set_content_length_override_replaces_the_length_rule(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def set_content_length(self) -> None:
            assert self.headers is not None
            self.headers["X-No-Length"] = "1"

    h = Sub(environ)
    h.run(record_environ)
    out = b"".join(h.out)
    assert b"Content-Length" not in out
    assert b"X-No-Length: 1\r\n" in out


def test_send_preamble_override_replaces_the_status_lines(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def send_preamble(self) -> None:
            self._write(b"CUSTOM " + (self.status or "").encode() + b"\r\n")

    h = Sub(environ)
    h.run(record_environ)
    assert b"".join(h.out).startswith(b"CUSTOM 200 OK\r\nContent-Type: text/plain\r\n")


def test_send_headers_override_is_called_once(environ: dict[str, Any]) -> None:
    calls: list[str | None] = []

    class Sub(Minimal):
        def send_headers(self) -> None:
            calls.append(self.status)
            super().send_headers()

    h = Sub(environ)
    h.run(record_environ)
    assert calls == ["200 OK"]
    assert b"".join(h.out).endswith(b"\r\n\r\nok")


def test_finish_content_override_runs_after_the_body(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def finish_content(self) -> None:
            super().finish_content()
            self._write(b"[trailer]")

    h = Sub(environ)
    h.run(record_environ)
    assert b"".join(h.out).endswith(b"ok[trailer]")


def test_close_override_is_called_after_the_response(environ: dict[str, Any]) -> None:
    states: list[tuple[Any, ...]] = []

    class Sub(Minimal):
        def close(self) -> None:
            states.append((self.status, self.bytes_sent))
            super().close()
            states.append((self.status, self.bytes_sent, self.headers_sent, self.result))

    Sub(environ).run(record_environ)
    assert states == [("200 OK", 2), (None, 0, False, None)]


def test_client_is_modern_override_suppresses_status_and_headers(
    environ: dict[str, Any],
) -> None:
    class Sub(Minimal):
        def client_is_modern(self) -> bool:
            return False

    h = Sub(environ)
    h.run(record_environ)
    assert b"".join(h.out) == b"ok"


def test_handle_error_override_replaces_error_handling(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def handle_error(self) -> None:
            self._write(b"handled: " + str(sys.exc_info()[1]).encode())

    h = Sub(environ)
    h.run(failing)
    assert h.out == [b"handled: deep failure"]


def test_start_response_override_wraps_the_apps_calls(environ: dict[str, Any]) -> None:
    class Sub(Minimal):
        def start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
            return super().start_response(status, [*headers, ("X-Wrapped", "1")], exc_info)

    h = Sub(environ)
    h.run(record_environ)
    assert b"X-Wrapped: 1\r\n" in b"".join(h.out)


def test_write_override_sees_every_block(environ: dict[str, Any]) -> None:
    blocks: list[bytes] = []

    class Sub(Minimal):
        def write(self, data: bytes) -> None:
            blocks.append(data)
            super().write(data)

    Sub(environ).run(record_environ)
    assert blocks == [b"ok"]


def test_finish_response_override_is_used_by_run(environ: dict[str, Any]) -> None:
    class Async(Minimal):
        def finish_response(self) -> None:
            self.pending = self.result  # an async server iterates later

    h = Async(environ)
    h.run(record_environ)
    assert h.pending == [b"ok"]
    assert h.out == []
    assert h.status == "200 OK"  # not closed


def test_bytes_sent_and_headers_sent_track_the_response(environ: dict[str, Any]) -> None:
    h = Minimal(environ)
    h.setup_environ()
    h.start_response("200 OK", [])
    assert (h.headers_sent, h.bytes_sent) == (False, 0)
    h.write(b"abc")
    h.write(b"de")
    assert (h.headers_sent, h.bytes_sent) == (True, 5)


def test_one_element_result_gets_content_length_from_bytes_sent(
    environ: dict[str, Any],
) -> None:
    h = Minimal(environ)
    h.run(record_environ)
    assert b"Content-Length: 2\r\n" in b"".join(h.out)


def test_an_empty_response_gets_content_length_zero_unless_set(
    make_environ: MakeEnviron,
) -> None:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Length", "42")] if environ["HEAD"] else [])
        return []

    h = Minimal(make_environ(HEAD=""))
    h.run(app)
    assert b"Content-Length: 0\r\n" in b"".join(h.out)
    h = Minimal(make_environ(HEAD="1"))
    h.run(app)
    assert b"Content-Length: 42\r\n" in b"".join(h.out)


def test_a_send_headers_override_that_writes_its_own_head_gets_the_body_as_given(
    environ: dict[str, Any],
) -> None:
    class OwnHead(Minimal):
        def send_headers(self) -> None:
            self.headers_sent = True
            self._write(b"HEAD\r\n\r\n")

    h = OwnHead(environ)
    h.run(record_environ)
    out = b"".join(h.out)
    assert out.startswith(b"HEAD\r\n\r\n")
    assert len(out) > len(b"HEAD\r\n\r\n")
    assert h.close_connection is True  # the framing is unknown: the body ends at close
