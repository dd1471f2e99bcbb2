"""The access log: the standard library's line, through ``logging`` or written directly."""

from __future__ import annotations

import logging
from unittest import mock

import pytest
from wsgi_simple_server import _log


def log_access(host: str, message: str, *, direct: bool | None = None) -> None:
    """``_log.log_access`` with the logger as users get it.

    pytest adds capturing handlers to every logger while a test runs: they are taken
    away for the call, so that the direct write is what runs.
    """
    with mock.patch.object(
        _log.access_logger, "handlers", [*_log._DEFAULT_ACCESS_HANDLERS, *_extra]
    ):
        if direct is not None:
            assert (_log._default_setup(_log.access_logger) is not None) is direct
        _log.log_access(host, message)


_extra: list[logging.Handler] = []


def test_the_default_set_up_writes_the_stdlib_line_to_the_current_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_access("127.0.0.1", '"GET / HTTP/1.1" 200 5', direct=True)
    line = capsys.readouterr().err
    assert line.startswith("127.0.0.1 - - [")
    assert line.endswith('] "GET / HTTP/1.1" 200 5\n')


def test_control_characters_and_backslashes_are_escaped_as_http_server_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log_access("h", '"GET /a\x1b[31m\\b HTTP/1.1" 400 0')
    assert capsys.readouterr().err.endswith('] "GET /a\\x1b[31m\\\\b HTTP/1.1" 400 0\n')


def test_a_handler_added_by_the_user_gets_the_lines_through_logging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    _extra.append(Collect())
    try:
        log_access("10.0.0.1", '"GET /x HTTP/1.1" 404 9', direct=False)
    finally:
        _extra.clear()
    assert len(records) == 1
    assert records[0].getMessage().startswith("10.0.0.1 - - [")
    assert records[0].getMessage().endswith('] "GET /x HTTP/1.1" 404 9')
    assert capsys.readouterr().err.endswith('] "GET /x HTTP/1.1" 404 9\n')  # the default one too


def test_a_formatter_or_a_filter_on_the_default_handler_is_honoured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = _log.access_logger.handlers[0]
    handler.setFormatter(logging.Formatter("ACCESS %(message)s"))
    try:
        log_access("h", "m", direct=False)
    finally:
        handler.setFormatter(None)
    assert capsys.readouterr().err.startswith("ACCESS h - - [")
    _log.access_logger.disabled = True
    try:
        log_access("h", "silent")
    finally:
        _log.access_logger.disabled = False
    assert "silent" not in capsys.readouterr().err


def test_a_level_above_info_silences_it(capsys: pytest.CaptureFixture[str]) -> None:
    _log.access_logger.setLevel(logging.WARNING)
    try:
        log_access("h", "quiet")
    finally:
        _log.access_logger.setLevel(logging.INFO)
    assert capsys.readouterr().err == ""
