"""CPython's own tests of wsgiref.simple_server pass against wsgi_simple_server.

The IntegrationTests of the standard library's ``test_wsgiref`` (the version of the
running Python) are run with their ``wsgiref.simple_server`` imports pointed here:
the test doubles they define (a socket-less server and handler) subclass our classes.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import unittest
from pathlib import Path


def load_cpython_integration_tests() -> type[unittest.TestCase]:
    spec = importlib.util.find_spec("test.test_wsgiref")
    assert spec is not None, "the standard library's test package is needed"
    assert spec.origin is not None
    source = Path(spec.origin).read_text(encoding="utf-8")
    for name in ("WSGIServer, WSGIRequestHandler", "make_server"):
        old = f"from wsgiref.simple_server import {name}"
        assert old in source
        source = source.replace(old, f"from wsgi_simple_server import {name}")
    module = types.ModuleType("cpython_test_wsgiref_on_wsgi_simple_server")
    module.__file__ = spec.origin
    sys.modules[module.__name__] = module
    exec(compile(source, spec.origin, "exec"), module.__dict__)
    tests: type[unittest.TestCase] = module.IntegrationTests
    return tests


# pytest collects this unittest.TestCase class (CPython's IntegrationTests) as it is.
IntegrationTests = load_cpython_integration_tests()
