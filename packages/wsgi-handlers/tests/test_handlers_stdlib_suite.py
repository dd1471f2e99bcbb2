"""CPython 3.11's own handler tests (test.test_wsgiref.HandlerTests), run against us.

The test module's source is loaded with its ``wsgiref`` imports swapped for this
workspace's packages, so every assertion CPython makes about ``BaseHandler``,
``SimpleHandler`` and ``BaseCGIHandler`` is made about ours.
"""

import importlib.util
import types
import unittest
from pathlib import Path

import pytest
import wsgi_handlers

SWAPS = {
    "from wsgiref.util import setup_testing_defaults": (
        "from wsgi_util import setup_testing_defaults"
    ),
    "from wsgiref.headers import Headers": "from wsgi_headers import Headers",
    "from wsgiref.handlers import BaseHandler, BaseCGIHandler, SimpleHandler": (
        "from wsgi_handlers import BaseHandler, BaseCGIHandler, SimpleHandler"
    ),
    "from wsgiref import util": "import wsgi_util as util",
}


def load_swapped_suite() -> types.ModuleType:
    spec = importlib.util.find_spec("test.test_wsgiref")
    if spec is None or spec.origin is None:
        pytest.fail("CPython's test package (test.test_wsgiref) is not installed")
    source = Path(spec.origin).read_text(encoding="utf-8")
    for old, new in SWAPS.items():
        assert old in source, old
        source = source.replace(old, new)
    module = types.ModuleType("stdlib_handler_tests_against_wsgi_handlers")
    module.__file__ = spec.origin
    exec(compile(source, spec.origin, "exec"), module.__dict__)
    return module


SUITE = load_swapped_suite()
NAMES = unittest.TestLoader().getTestCaseNames(SUITE.HandlerTests)


def test_the_suite_tests_our_classes() -> None:
    assert SUITE.SimpleHandler is wsgi_handlers.SimpleHandler
    assert issubclass(SUITE.ErrorHandler, wsgi_handlers.BaseCGIHandler)
    assert len(NAMES) >= 13  # every HandlerTests method of 3.11


@pytest.mark.parametrize("name", NAMES)
def test_cpython_handler_test_passes(name: str) -> None:
    result = unittest.TestResult()
    SUITE.HandlerTests(name).run(result)
    problems = [text for _, text in result.failures + result.errors]
    assert problems == []
    assert result.testsRun == 1
