"""The access log: the standard library's line, gunicorn's atoms, structured records,
lines written in batches without loss or reordering, and the error log."""

from __future__ import annotations

import base64
import datetime
import io
import json
import logging
import os
import re
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config as GunicornConfig
from gunicorn.glogging import Logger as GunicornLogger
from hypothesis import given
from hypothesis import strategies as st
from pythonjsonlogger.json import JsonFormatter
from wsgi_simple_server import ServerConfig, WSGIServer, _log
from wsgi_simple_server._log import (
    AccessAtoms,
    AccessEntry,
    AccessLog,
    PendingLines,
    access_atoms,
    check_access_log_format,
    log_access,
)

LOUD = ServerConfig(threads=2, shutdown_timeout_s=2.0)  # the access log on, as by default
_DATE = re.compile(r"\[\d\d/\w\w\w/\d{4} \d\d:\d\d:\d\d\]")
_DATE_CLF = re.compile(r"\[\d\d/\w\w\w/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]")
GET = "GET {} HTTP/1.1\r\nHost: test\r\n\r\n"

ENVIRON: dict[str, object] = {
    "REMOTE_ADDR": "10.0.0.7",
    "REQUEST_METHOD": "GET",
    "RAW_URI": "/caf%C3%A9?x=1",
    "PATH_INFO": "/caf\xc3\xa9",
    "QUERY_STRING": "x=1",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "HTTP_REFERER": "http://example.org/start",
    "HTTP_USER_AGENT": 'curl/8.5 "quoted"\x1b',
    "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(b"alice:secret").decode(),
    "HTTP_X_REQUEST_ID": "abc-123",
    "wsgi.url_scheme": "http",
}
ENTRY = AccessEntry(
    "10.0.0.7",
    "GET /caf%C3%A9?x=1 HTTP/1.1",
    "201",
    1234,
    1.5000042,
    ENVIRON,
    [("Host", "example.org"), ("X-Request-ID", "abc-123"), ("Accept", "a"), ("Accept", "b")],
    [("Content-Type", "text/plain"), ("X-Served-By", "test")],
)

Err = Callable[[], str]


@pytest.fixture
def err(capsys: pytest.CaptureFixture[str]) -> Err:
    """A function returning everything written to ``sys.stderr`` so far in the test."""
    seen: list[str] = []

    def read() -> str:
        seen.append(capsys.readouterr().err)
        return "".join(seen)

    return read


@contextmanager
def as_users_get_it() -> Iterator[None]:
    """The access logger as users get it.

    pytest attaches its capturing handlers to every non-propagating logger while a
    test runs: they are taken away for the block (and the list put back for pytest
    to remove them from).
    """
    saved = _log.access_logger.handlers
    _log.access_logger.handlers = [_log._DEFAULT_HANDLER]
    try:
        assert _log.direct()
        yield
    finally:
        _log.access_logger.handlers = saved


@pytest.fixture
def records() -> Iterator[list[logging.LogRecord]]:
    """The records of the access logger, collected by a handler added for the test."""
    collected: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(record)

    handler = Collect()
    _log.access_logger.addHandler(handler)
    try:
        yield collected
    finally:
        _log.access_logger.removeHandler(handler)


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Served-By", "hello")])
    return [b"Hello"]


def access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " - - [" in line]


# -- gunicorn's atoms ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("atom", "value"),
    [
        ("h", "10.0.0.7"),
        ("l", "-"),
        ("u", "alice"),
        ("r", "GET /caf%C3%A9?x=1 HTTP/1.1"),
        ("m", "GET"),
        ("U", "/caf\xc3\xa9"),
        ("q", "x=1"),
        ("H", "HTTP/1.1"),
        ("s", "201"),
        ("B", 1234),
        ("b", "1234"),
        ("f", "http://example.org/start"),
        ("a", 'curl/8.5 "quoted"\x1b'),
        ("T", 1),
        ("M", 1500),
        ("D", 1500004),
        ("L", "1.500004"),
        ("p", f"<{os.getpid()}>"),
        ("{x-request-id}i", "abc-123"),
        ("{X-Request-Id}i", "abc-123"),
        ("{accept}i", "a, b"),
        ("{content-type}o", "text/plain"),
        ("{x-served-by}o", "test"),
        ("{remote_addr}e", "10.0.0.7"),
        ("{WSGI.URL_SCHEME}e", "http"),
        ("{x-absent}i", "-"),
        ("{x-absent}o", "-"),
        ("{absent}e", "-"),
        ("Z", "-"),
    ],
)
def test_each_atom_has_gunicorns_meaning(atom: str, value: object) -> None:
    assert AccessAtoms(ENTRY)[atom] == value


def test_the_date_atom_is_the_common_log_formats_local_time() -> None:
    stamp = AccessAtoms(ENTRY)["t"]
    second = _log._dates_now()[0]
    assert stamp == time.strftime("[%d/%b/%Y:%H:%M:%S %z]", time.localtime(second))


def test_unknown_size_and_duration_are_dashes() -> None:
    entry = AccessEntry("h", "GET / HTTP/1.0", "400", None, None, {})
    atoms = AccessAtoms(entry)
    assert [atoms[name] for name in "bBTDML"] == ["-"] * 6
    assert [atoms[name] for name in "muUqHfa"] == ["-"] * 7


def test_the_atoms_dict_holds_the_fixed_atoms_only_not_headers_or_the_environ() -> None:
    atoms = AccessAtoms(ENTRY)
    assert atoms["{authorization}i"] == "-"  # looked up...
    assert atoms["{http_authorization}e"] == ENVIRON["HTTP_AUTHORIZATION"]
    assert sorted(atoms) == sorted("hlutrsmUqHbBfaTDMLp")  # ...and not stored
    json.dumps(atoms)  # serialisable as it is


def test_access_atoms_equals_gunicorns_atoms_for_the_same_request() -> None:
    entry = AccessEntry(
        "10.0.0.7",
        "GET /caf%C3%A9?x=1 HTTP/1.1",
        "201",
        1234,
        1.5000042,
        ENVIRON,
        [("HOST", "example.org"), ("X-REQUEST-ID", "abc-123")],
        [("Content-Type", "text/plain")],
    )
    response = SimpleNamespace(status="201 Created", sent=1234, headers=entry.response_headers)
    request = SimpleNamespace(headers=entry.request_headers)
    theirs = GunicornLogger(GunicornConfig()).atoms(
        response, request, ENVIRON, datetime.timedelta(seconds=1.5000042)
    )
    ours = access_atoms(entry)
    theirs_t, ours_t = theirs.pop("t"), ours.pop("t")
    assert ours == theirs
    assert _DATE_CLF.fullmatch(str(ours_t))
    assert str(ours_t)[:12] == str(theirs_t)[:12]  # the same day


def test_a_format_quotes_strings_as_apache_does() -> None:
    log = AccessLog('%(h)s "%(r)s" %(s)s %(b)s "%(a)s" %({x-request-id}i)s %(D)s %%')
    assert log.line(ENTRY) == (
        r'10.0.0.7 "GET /caf%C3%A9?x=1 HTTP/1.1" 201 1234 "curl/8.5 \"quoted\"\x1b" abc-123 '
        "1500004 %"
    )


def test_gunicorns_default_format_gives_gunicorns_line() -> None:
    line = AccessLog(GunicornConfig().access_log_format).line(ENTRY)
    assert _DATE_CLF.sub("[X]", line) == (
        r'10.0.0.7 - alice [X] "GET /caf%C3%A9?x=1 HTTP/1.1" 201 1234 '
        r'"http://example.org/start" "curl/8.5 \"quoted\"\x1b"'
    )


def test_the_default_line_is_the_standard_librarys_byte_for_byte() -> None:
    entry = AccessEntry("127.0.0.1", "GET /a\x1b\\b HTTP/1.0", "200", 13, 0.1, {})
    stdlib = BaseHTTPRequestHandler.__new__(BaseHTTPRequestHandler)
    stdlib.client_address = ("127.0.0.1", 5000)
    stdlib.requestline = entry.request_line
    stdlib.request_version = "HTTP/1.0"
    written = io.StringIO()
    old, sys.stderr = sys.stderr, written
    try:
        stdlib.log_request(200, 13)
    finally:
        sys.stderr = old
    assert _DATE.sub("[X]", AccessLog().line(entry) + "\n") == _DATE.sub("[X]", written.getvalue())
    assert (
        AccessLog()
        .line(AccessEntry("h", "GET /", "400", None, None, {}))
        .endswith('] "GET /" 400 -')
    )


@pytest.mark.parametrize(
    "fmt",
    [
        "%s",  # no atom named
        "%(h)s %d",
        "%(a)d",  # the user agent is a string
        "%(s)d",  # so is the status, as in gunicorn
        "%(h)y",  # no such conversion
        "%(h",
        "trailing %",
    ],
)
def test_a_format_that_cannot_work_is_refused_by_the_config(fmt: str) -> None:
    with pytest.raises(ValueError, match="access_log_format"):
        check_access_log_format(fmt)
    with pytest.raises(ValueError, match="access_log_format"):
        ServerConfig(access_log_format=fmt)


def test_gunicorns_formats_are_accepted() -> None:
    ServerConfig(access_log_format=GunicornConfig().access_log_format)
    ServerConfig(access_log_format="%(h)s %(D)d %(T)d %(B)d %({x-forwarded-for}i)s 100%%")
    with pytest.raises(ValueError, match="a str or None"):
        ServerConfig(access_log_format=5)  # type: ignore[arg-type]


_FORMAT_PIECES = st.sampled_from(
    ["%", "(", ")", "s", "d", "r", "x", "%%", " ", "h", "{", "}i", "D", "a", "5", ".", "-", "*"]
)


@given(st.lists(_FORMAT_PIECES | st.text(max_size=3), max_size=12).map("".join))
def test_a_format_is_refused_or_formats_every_request(fmt: str) -> None:
    try:
        check_access_log_format(fmt)
    except ValueError:
        return
    log = AccessLog(fmt)
    for entry in (ENTRY, AccessEntry("h", "GET / HTTP/1.0", "200", 0, 0.0, {})):
        assert isinstance(log.line(entry), str)
    assert not log._failed  # formatted, not replaced by the default line


def test_a_format_failing_on_a_request_logs_the_default_line_and_says_why_once(
    err: Err,
) -> None:
    with as_users_get_it():
        log = AccessLog("%(h)s %(D)d")  # D is "-" when the duration is not measured
        entry = AccessEntry("h", "GET / HTTP/1.0", "400", None, None, {})
        log.entry(entry)
        log.entry(entry)
        assert len(access_lines(err())) == 2
        assert err().count('"GET / HTTP/1.0" 400 -\n') == 2
        assert err().count("access_log_format '%(h)s %(D)d' failed") == 1
        assert "TypeError" in err()


# -- the buffer --------------------------------------------------------------------------


def test_without_a_running_server_a_line_is_written_at_once(err: Err) -> None:
    with as_users_get_it():
        log_access("127.0.0.1", '"GET / HTTP/1.1" 200 5')
        assert err().endswith('] "GET / HTTP/1.1" 200 5\n')


def test_a_held_buffer_writes_on_flush_in_order_and_on_release(err: Err) -> None:
    with as_users_get_it():
        lines = PendingLines()
        lines.hold()
        for i in range(5):
            lines.add(f"line {i}\n")
        assert err() == ""
        lines.flush()
        assert err() == "".join(f"line {i}\n" for i in range(5))
        lines.add("last\n")
        assert err().endswith("line 4\n")
        lines.release()
        assert err().endswith("line 4\nlast\n")
        lines.add("unheld\n")
        assert err().endswith("last\nunheld\n")


def test_a_held_buffer_is_written_when_it_is_full(err: Err) -> None:
    with as_users_get_it():
        lines = PendingLines()
        lines.hold()
        for i in range(_log._MAX_PENDING):
            lines.add(f"{i}\n")
        assert err().splitlines() == [str(i) for i in range(_log._MAX_PENDING)]
        lines.release()


def test_lines_added_by_many_threads_are_all_written_each_threads_in_order(err: Err) -> None:
    with as_users_get_it():
        lines = PendingLines()
        lines.hold()

        def add(name: int) -> None:
            for i in range(500):
                lines.add(f"{name} {i}\n")
                if i % 97 == 0:
                    lines.flush()

        threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        lines.release()
        written = [line.split() for line in err().splitlines()]
        assert len(written) == 2000
        for name in range(4):
            assert [int(i) for n, i in written if n == str(name)] == list(range(500))


def test_control_characters_and_backslashes_are_escaped_as_http_server_does(err: Err) -> None:
    with as_users_get_it():
        log_access("h", '"GET /a\x1b[31m\\b HTTP/1.1" 400 0')
        assert err().endswith('] "GET /a\\x1b[31m\\\\b HTTP/1.1" 400 0\n')


# -- the logger's set-up ---------------------------------------------------------------


def test_a_handler_added_by_the_user_gets_records_and_the_default_one_the_line(
    err: Err, records: list[logging.LogRecord]
) -> None:
    assert not _log.direct()
    log_access("10.0.0.1", '"GET /x HTTP/1.1" 404 9')
    assert len(records) == 1
    assert records[0].getMessage().startswith("10.0.0.1 - - [")
    assert records[0].getMessage().endswith('] "GET /x HTTP/1.1" 404 9')
    assert records[0].remote_addr == "10.0.0.1"  # type: ignore[attr-defined]
    assert err().endswith('] "GET /x HTTP/1.1" 404 9\n')  # the default handler's


def test_a_formatter_or_a_filter_on_the_default_handler_is_honoured(err: Err) -> None:
    with as_users_get_it():
        handler = _log.access_logger.handlers[0]
        handler.setFormatter(logging.Formatter("ACCESS %(message)s"))
        try:
            assert not _log.direct()
            log_access("h", "m")
        finally:
            handler.setFormatter(None)
        assert err().startswith("ACCESS h - - [")
        _log.access_logger.disabled = True
        try:
            log_access("h", "silent")
        finally:
            _log.access_logger.disabled = False
        assert "silent" not in err()


def test_a_level_above_info_silences_it(err: Err) -> None:
    with as_users_get_it():
        _log.access_logger.setLevel(logging.WARNING)
        try:
            log_access("h", "quiet")
            AccessLog().entry(ENTRY)
            AccessLog("%(h)s").entry(ENTRY)
        finally:
            _log.access_logger.setLevel(logging.INFO)
        assert err() == ""


def test_a_record_carries_the_requests_fields(records: list[logging.LogRecord]) -> None:
    AccessLog('%(h)s "%(r)s" %(s)s').entry(ENTRY)
    (record,) = records
    assert record.getMessage() == '10.0.0.7 "GET /caf%C3%A9?x=1 HTTP/1.1" 201'
    assert record.levelno == logging.INFO
    fields = {name: getattr(record, name) for name in ENTRY.fields()}
    atoms = fields.pop("atoms")
    assert fields == {
        "remote_addr": "10.0.0.7",
        "remote_user": "alice",
        "request_line": "GET /caf%C3%A9?x=1 HTTP/1.1",
        "method": "GET",
        "path": "/caf\xc3\xa9",
        "query": "x=1",
        "protocol": "HTTP/1.1",
        "status": 201,
        "response_length": 1234,
        "duration_s": 1.5000042,
        "user_agent": 'curl/8.5 "quoted"\x1b',
        "referer": "http://example.org/start",
        "request_id": "abc-123",
    }
    assert isinstance(atoms, AccessAtoms)
    assert atoms["D"] == 1500004


# -- through the server ------------------------------------------------------------------


def test_a_format_from_the_config_is_the_servers_line(kit: Any, err: Err) -> None:
    with as_users_get_it():
        fmt = (
            '%(h)s "%(r)s" %(s)s %(b)s %(m)s %(U)s %(q)s %(H)s %({x-request-id}i)s '
            "%({x-served-by}o)s %({query_string}e)s %(D)s"
        )
        config = LOUD.replace(access_log_format=fmt)
        with kit.running(hello, config) as server, kit.connect(server) as sock:
            sock.sendall(b"GET /p%61th?a=1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: r-1\r\n\r\n")
            kit.Reader(sock).response()
        (line,) = err().splitlines()
        head, duration = line.rsplit(" ", 1)
        assert head == (
            '127.0.0.1 "GET /p%61th?a=1 HTTP/1.1" 200 5 GET /path a=1 HTTP/1.1 r-1 hello a=1'
        )
        assert duration.isdigit()


def test_the_default_line_through_the_server(kit: Any, err: Err) -> None:
    with as_users_get_it():
        with kit.running(hello, LOUD) as server:
            kit.roundtrip(server, b"GET /x?y HTTP/1.0\r\n\r\n")
        assert _DATE.sub("[X]", err()) == '127.0.0.1 - - [X] "GET /x?y HTTP/1.0" 200 5\n'


def test_a_json_formatter_gets_every_field_structured(kit: Any) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    _log.access_logger.addHandler(handler)
    try:
        with kit.running(hello, LOUD) as server, kit.connect(server) as sock:
            sock.sendall(
                b"GET /items?id=3 HTTP/1.1\r\nHost: t\r\nUser-Agent: probe/1\r\n"
                b"Referer: http://r.example/\r\nX-Request-ID: req-42\r\n\r\n"
                b"GET /bad path HTTP/1.1\r\nHost: t\r\n\r\n"
            )
            reader = kit.Reader(sock)
            assert reader.response().status == 200
            assert reader.response().status == 400
    finally:
        _log.access_logger.removeHandler(handler)
    ok, error, bad = (json.loads(line) for line in stream.getvalue().splitlines())
    # The line of http.server's log_error, as the standard library writes it.
    assert error["message"].endswith(
        "] code 400, message Bad request syntax ('GET /bad path HTTP/1.1')"
    )
    assert error["remote_addr"] == "127.0.0.1"
    assert ok["message"].endswith('] "GET /items?id=3 HTTP/1.1" 200 5')
    assert ok["remote_addr"] == "127.0.0.1"
    assert ok["request_line"] == "GET /items?id=3 HTTP/1.1"
    assert (ok["method"], ok["path"], ok["query"], ok["protocol"]) == (
        "GET",
        "/items",
        "id=3",
        "HTTP/1.1",
    )
    assert (ok["status"], ok["response_length"]) == (200, 5)
    assert isinstance(ok["duration_s"], float)
    assert ok["duration_s"] >= 0
    assert (ok["user_agent"], ok["referer"], ok["request_id"]) == (
        "probe/1",
        "http://r.example/",
        "req-42",
    )
    assert ok["remote_user"] is None
    assert ok["atoms"]["s"] == "200"
    assert ok["atoms"]["a"] == "probe/1"
    assert "{x-request-id}i" not in ok["atoms"]
    # A request refused before the application: what is known of it.
    assert bad["message"].endswith('] "GET /bad path HTTP/1.1" 400 -')
    assert (bad["status"], bad["method"], bad["response_length"]) == (400, "GET", None)
    assert bad["remote_addr"] == "127.0.0.1"


def test_pipelined_requests_are_logged_in_request_order_none_lost(kit: Any, err: Err) -> None:
    with as_users_get_it():
        count = 300
        with kit.running(hello, LOUD) as server, kit.connect(server) as sock:
            sock.sendall("".join(GET.format(f"/{i}") for i in range(count)).encode())
            reader = kit.Reader(sock)
            for _ in range(count):
                reader.response()
        paths = [line.split('"')[1].split()[1] for line in access_lines(err())]
        assert paths == [f"/{i}" for i in range(count)]


def test_concurrent_pipelining_connections_each_keep_their_order(kit: Any, err: Err) -> None:
    with as_users_get_it():
        count, connections = 100, 6

        def client(server: Any, name: int) -> None:
            with kit.connect(server) as sock:
                sock.sendall("".join(GET.format(f"/{name}/{i}") for i in range(count)).encode())
                reader = kit.Reader(sock)
                for _ in range(count):
                    reader.response()

        with kit.running(hello, LOUD.replace(threads=4)) as server:
            threads = [
                threading.Thread(target=client, args=(server, n)) for n in range(connections)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
        paths = [line.split('"')[1].split()[1] for line in access_lines(err())]
        assert len(paths) == count * connections
        for name in range(connections):
            mine = [int(p.rsplit("/", 1)[1]) for p in paths if p.startswith(f"/{name}/")]
            assert mine == list(range(count))


def test_a_line_is_written_while_serving_not_only_at_shutdown(kit: Any, err: Err) -> None:
    with as_users_get_it(), kit.running(hello, LOUD) as server:
        kit.roundtrip(server, b"GET /soon HTTP/1.0\r\n\r\n")
        kit.wait_for(lambda: "GET /soon" in err())


def test_a_worker_busy_on_a_slow_request_has_its_earlier_lines_written_by_the_timer(
    kit: Any, err: Err
) -> None:
    with as_users_get_it():
        release = threading.Event()

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if environ["PATH_INFO"] == "/slow":
                release.wait(10)
            return hello(environ, start_response)

        with kit.running(app, LOUD) as server, kit.connect(server) as sock:
            # One read gives the worker both: it serves /fast, then /slow, without polling.
            sock.sendall((GET.format("/fast") + GET.format("/slow")).encode())
            try:
                kit.wait_for(lambda: "GET /fast" in err())
                assert "GET /slow" not in err()
            finally:
                release.set()
            reader = kit.Reader(sock)
            reader.response()
            reader.response()


def test_every_line_is_written_at_shutdown(kit: Any) -> None:
    with as_users_get_it():
        written = io.StringIO()
        old, sys.stderr = sys.stderr, written
        try:
            with kit.running(hello, LOUD) as server, kit.connect(server) as sock:
                sock.sendall("".join(GET.format(f"/{i}") for i in range(50)).encode())
                reader = kit.Reader(sock)
                for _ in range(50):
                    reader.response()
            # serve_forever has returned: the lines are all there, none is pending.
            assert len(access_lines(written.getvalue())) == 50
            assert not _log.access_lines.lines
            assert _log.access_lines.holders == 0
        finally:
            sys.stderr = old


def test_application_errors_go_to_the_error_logger_after_the_earlier_lines(
    kit: Any, err: Err
) -> None:
    with as_users_get_it():
        collected: list[logging.LogRecord] = []

        class Collect(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                collected.append(record)

        def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            if environ["PATH_INFO"] == "/boom":
                raise ValueError("boom")
            return hello(environ, start_response)

        handler = Collect()
        _log.error_logger.addHandler(handler)
        try:
            with kit.running(app, LOUD) as server, kit.connect(server) as sock:
                sock.sendall((GET.format("/ok") + GET.format("/boom")).encode())
                reader = kit.Reader(sock)
                assert reader.response().status == 200
                assert reader.response().status == 500
        finally:
            _log.error_logger.removeHandler(handler)
        (record,) = collected
        assert record.levelno == logging.ERROR
        assert (
            record.getMessage()
            == "Error in the application serving 'GET /boom HTTP/1.1' for 127.0.0.1"
        )
        assert record.exc_info is not None
        assert record.exc_info[0] is ValueError
        text = err()
        assert text.index('"GET /ok HTTP/1.1" 200') < text.index("ValueError: boom")
        assert text.index("ValueError: boom") < text.index('"GET /boom HTTP/1.1" 500')


def test_application_errors_on_the_standard_library_path_go_to_the_error_logger_too(
    kit: Any,
) -> None:
    collected: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            collected.append(record)

    class Serial(WSGIServer):
        def get_request(self) -> tuple[Any, Any]:  # a socket-level hook: the stdlib path
            return WSGIServer.get_request(self)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise ValueError("boom")

    handler = Collect()
    _log.error_logger.addHandler(handler)
    try:
        with kit.running(app, kit.QUIET, server_class=Serial) as server:
            assert server.stdlib_path_reason() is not None
            assert b" 500 " in kit.roundtrip(server, b"GET /x HTTP/1.0\r\n\r\n")
    finally:
        _log.error_logger.removeHandler(handler)
    (record,) = collected
    assert record.getMessage() == "Error in the application serving 'GET /x HTTP/1.0' for 127.0.0.1"
    assert record.exc_info is not None
    assert record.exc_info[0] is ValueError


def test_a_request_whose_client_left_mid_response_is_logged(
    kit: Any, records: list[logging.LogRecord]
) -> None:
    # As gunicorn does (and nginx, with its 499): the request was served, in part; an
    # access log without it hides the clients that give up on a slow response.
    left = threading.Event()

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"x" * 65536
        if environ["PATH_INFO"] != "/gone":
            return
        left.wait(5)
        for _ in range(1000):  # the sends fail: the client is gone
            yield b"x" * 65536

    with kit.running(app, LOUD) as server:
        with kit.connect(server) as sock:
            sock.sendall(GET.format("/gone").encode())
            sock.recv(1024)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        left.set()
        kit.roundtrip(server, b"GET /after HTTP/1.0\r\n\r\n")
        kit.wait_for(lambda: len(records) == 2)
    assert [record.getMessage().split('"')[1] for record in records] == [
        "GET /gone HTTP/1.1",
        "GET /after HTTP/1.0",
    ]
