"""The public surface of wsgiref.handlers, name by name and signature by signature."""

import inspect
import wsgiref.handlers as ref

import pytest
import wsgi_handlers
from wsgi_headers import Headers
from wsgi_util import FileWrapper

SPLIT_OUT = {"CGIHandler", "IISCGIHandler"}  # they live in wsgi_cgi

CLASSES = ["BaseHandler", "SimpleHandler", "BaseCGIHandler"]


def test_every_stdlib_public_name_is_here_but_the_cgi_entry_points() -> None:
    expected = set(ref.__all__) - SPLIT_OUT | {"format_date_time"}
    assert expected <= set(wsgi_handlers.__all__)


def test_all_names_resolve() -> None:
    for name in wsgi_handlers.__all__:
        assert getattr(wsgi_handlers, name) is not None


@pytest.mark.parametrize("class_name", CLASSES)
def test_every_public_member_of_the_stdlib_class_exists(class_name: str) -> None:
    ref_class = getattr(ref, class_name)
    our_class = getattr(wsgi_handlers, class_name)
    missing = [name for name in dir(ref_class) if not hasattr(our_class, name)]
    assert missing == []


@pytest.mark.parametrize("class_name", CLASSES)
def test_every_method_has_the_stdlib_signature(class_name: str) -> None:
    ref_class = getattr(ref, class_name)
    our_class = getattr(wsgi_handlers, class_name)
    for name, member in vars(ref_class).items():
        if not callable(member) or (name.startswith("__") and name != "__init__"):
            continue
        ours = inspect.signature(getattr(our_class, name))
        theirs = inspect.signature(member)
        assert [(p.name, p.default, p.kind) for p in ours.parameters.values()] == [
            (p.name, p.default, p.kind) for p in theirs.parameters.values()
        ], name


@pytest.mark.parametrize("class_name", CLASSES)
def test_class_attribute_defaults_match_the_stdlib(class_name: str) -> None:
    ref_class = getattr(ref, class_name)
    our_class = getattr(wsgi_handlers, class_name)
    for name in (
        "wsgi_version",
        "wsgi_multithread",
        "wsgi_multiprocess",
        "wsgi_run_once",
        "origin_server",
        "http_version",
        "server_software",
        "traceback_limit",
        "error_status",
        "error_headers",
        "error_body",
        "status",
        "result",
        "headers_sent",
        "headers",
        "bytes_sent",
    ):
        assert getattr(our_class, name) == getattr(ref_class, name), name


def test_collaborators_are_the_sibling_packages_classes() -> None:
    assert wsgi_handlers.BaseHandler.headers_class is Headers
    assert wsgi_handlers.BaseHandler.wsgi_file_wrapper is FileWrapper


def test_os_environ_is_the_transcoded_process_environment() -> None:
    assert wsgi_handlers.BaseHandler.os_environ == ref.BaseHandler.os_environ


def _shape(func: object) -> list[tuple[str, object, object]]:
    params = inspect.signature(func).parameters.values()  # type: ignore[arg-type]
    return [(p.name, p.default, p.kind) for p in params]


def test_format_date_time_signature() -> None:
    assert _shape(wsgi_handlers.format_date_time) == _shape(ref.format_date_time)
