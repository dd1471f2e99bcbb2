"""``wsgiref.validate``, typed, with the PEP 3333 rules the stdlib misses and a report mode.

``validator(app)`` wraps a WSGI application and checks both sides of the interface:
the server's environ, ``wsgi.input`` and ``wsgi.errors``, and the application's use of
``start_response``, ``write`` and the returned iterable. Every check of Python 3.11's
``wsgiref.validate`` is made with the same message (raised explicitly, so it holds
under ``python -O``); ``RULES`` lists them with the ones added here.
``validator(app, report=ValidationReport())`` records ``Violation`` values instead of
raising.
"""

from wsgi_validate._checks import (
    assert_,
    bad_header_value_re,
    check_content_type,
    check_environ,
    check_errors,
    check_exc_info,
    check_headers,
    check_input,
    check_iterator,
    check_status,
    check_string_type,
    header_re,
)
from wsgi_validate._context import WSGIWarning
from wsgi_validate._report import ValidationReport, Violation
from wsgi_validate._rules import RULES, Rule
from wsgi_validate._validator import validator
from wsgi_validate._wrappers import (
    ErrorWrapper,
    InputWrapper,
    IteratorWrapper,
    PartialIteratorWrapper,
    WriteWrapper,
)

__all__ = [
    "RULES",
    "ErrorWrapper",
    "InputWrapper",
    "IteratorWrapper",
    "PartialIteratorWrapper",
    "Rule",
    "ValidationReport",
    "Violation",
    "WSGIWarning",
    "WriteWrapper",
    "assert_",
    "bad_header_value_re",
    "check_content_type",
    "check_environ",
    "check_errors",
    "check_exc_info",
    "check_headers",
    "check_input",
    "check_iterator",
    "check_status",
    "check_string_type",
    "header_re",
    "validator",
]
