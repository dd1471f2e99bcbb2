"""The public surface: drop-in names and signatures, the rules table, types, ``-O``."""

import inspect
import os
import re
import subprocess
import sys
import wsgiref.validate
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import wsgi_validate
from wsgi_util.types import StartResponse, WSGIApplication, WSGIEnvironment
from wsgi_validate import RULES, Rule, validator

if TYPE_CHECKING:
    from conftest import Kit

_SRC = Path(wsgi_validate.__file__).parent
_STDLIB_PUBLIC = sorted(
    name
    for name, value in vars(wsgiref.validate).items()
    if not name.startswith("_") and not inspect.ismodule(value)
)


def test_every_public_name_of_wsgiref_validate_exists() -> None:
    assert _STDLIB_PUBLIC  # the comparison below is not vacuous
    missing = [name for name in _STDLIB_PUBLIC if not hasattr(wsgi_validate, name)]
    assert missing == []
    assert set(_STDLIB_PUBLIC) <= set(wsgi_validate.__all__)


def _parameters(obj: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values()]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", [n for n in _STDLIB_PUBLIC if inspect.isfunction(vars(wsgiref.validate)[n])]
)
def test_function_signature_matches_the_stdlib(name: str) -> None:
    ours = _parameters(getattr(wsgi_validate, name))
    stdlib = _parameters(vars(wsgiref.validate)[name])
    if name == "validator":  # additive: keyword-only options with defaults
        extra = ours[len(stdlib) :]
        ours = ours[: len(stdlib)]
        assert all(kind is inspect.Parameter.KEYWORD_ONLY for _, kind, _ in extra)
        assert all(default is not inspect.Parameter.empty for _, _, default in extra)
    assert ours == stdlib


@pytest.mark.parametrize(
    "name", [n for n in _STDLIB_PUBLIC if inspect.isclass(vars(wsgiref.validate)[n])]
)
def test_class_methods_and_signatures_match_the_stdlib(name: str) -> None:
    stdlib_cls = vars(wsgiref.validate)[name]
    ours_cls = getattr(wsgi_validate, name)
    assert issubclass(ours_cls, stdlib_cls.__bases__[0])
    for attr, value in vars(stdlib_cls).items():
        if inspect.isfunction(value):
            assert _parameters(getattr(ours_cls, attr)) == _parameters(value), attr


def test_module_patterns_exist_with_the_fixes() -> None:
    assert wsgi_validate.header_re.search("X.Trace")
    assert not vars(wsgiref.validate)["header_re"].search("X.Trace")
    assert wsgi_validate.bad_header_value_re.search("a\x7f")
    assert not wsgi_validate.bad_header_value_re.search("a\tb")


def test_validator_is_typed_with_the_wsgi_application_type() -> None:
    hints = inspect.get_annotations(validator, eval_str=True)
    assert hints["application"] == WSGIApplication
    assert hints["return"] == WSGIApplication


def test_validated_app_is_a_wsgi_application(kit: "type[Kit]") -> None:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"typed"]

    wrapped: WSGIApplication = validator(app)  # mypy checks this line
    assert kit.FakeServer().run(wrapped, kit.make_environ()).body == b"typed"


# -- the rules table --------------------------------------------------------------------


def _rule_ids_used_in_the_source() -> set[str]:
    text = "\n".join(p.read_text() for p in _SRC.glob("_*.py"))
    return set(re.findall(r"""(?:fail|raises)\(\s*"([a-z0-9-]+)\"""", text))


def test_every_rule_the_code_breaks_is_in_the_table_and_every_rule_is_used() -> None:
    assert _rule_ids_used_in_the_source() == set(RULES)


def test_every_rule_has_side_reference_summary_and_a_message_or_bare_stdlib_origin() -> None:
    for rule_id, rule in RULES.items():
        assert rule.id == rule_id
        assert rule.side in ("application", "server")
        assert rule.reference.startswith(("PEP 3333 §", "RFC "))
        assert rule.summary
        if rule.message is None:
            assert rule.origin == "stdlib"  # only the stdlib raises bare AssertionErrors


def test_rules_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        RULES["x"] = RULES["write-type"]  # type: ignore[index]


def test_rule_format_fills_the_template_or_gives_the_summary() -> None:
    assert RULES["header-name-syntax"].format(("X Y",)) == "Bad header name: 'X Y'"
    assert RULES["write-type"].format(()) == RULES["write-type"].summary
    assert isinstance(RULES["write-type"], Rule)


# -- python -O ---------------------------------------------------------------------------


def test_no_assert_statement_in_the_sources() -> None:
    for path in _SRC.glob("*.py"):
        assert not re.search(r"^\s*assert\b", path.read_text(), re.MULTILINE), path.name


def test_whole_test_set_holds_under_python_O() -> None:
    tests = Path(__file__).parent
    result = subprocess.run(
        [
            sys.executable,
            "-O",
            "-m",
            "pytest",
            str(tests),
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "ignore::pytest.PytestConfigWarning",
            "-k",
            "not test_whole_test_set_holds_under_python_O",
        ],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tests.parents[2],
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert re.search(r"\b\d{3} passed\b", result.stdout), result.stdout[-500:]
    assert " failed" not in result.stdout
    assert " skipped" not in result.stdout


def test_readme_lists_every_rule() -> None:
    readme = (_SRC.parents[1] / "README.md").read_text()
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", readme, re.MULTILINE)
    assert sorted(listed) == sorted(RULES)
