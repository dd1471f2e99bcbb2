"""Beyond the stdlib: no malformed header can enter ``Headers`` or leave it."""

import subprocess
import sys
import textwrap

import pytest
from wsgi_headers import Headers, check_field_name, check_field_value

BAD_VALUES = ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\x00b", "\x01", "a\x1fb", "a\x7fb", "\x0b"]
BAD_NAMES = ["", "X Y", "X:Y", "X\r\nY", "X\x00", "Caf\xe9", "(x)", "X/Y", "X@", " X", "X\t"]
GOOD_NAMES = ["X-Y", "x.y", "Weird!#$%&'*+-.^_`|~", "ETag", "0"]
GOOD_VALUES = ["", "plain", "tab\there", " spaced ", "caf\xe9", "\xff", '"quoted", list']


@pytest.mark.parametrize("value", BAD_VALUES)
def test_control_characters_in_values_are_refused_everywhere(value: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        Headers([("X", value)])
    with pytest.raises(ValueError, match="control characters"):
        Headers()["X"] = value
    with pytest.raises(ValueError, match="control characters"):
        Headers().setdefault("X", value)
    with pytest.raises(ValueError, match="control characters"):
        Headers().add_header("X", value)
    with pytest.raises(ValueError, match="control characters"):
        Headers().add_header("X", "v", param=value)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_that_are_not_tokens_are_refused_everywhere(name: str) -> None:
    with pytest.raises(ValueError, match="not an RFC 9110 token"):
        Headers([(name, "v")])
    with pytest.raises(ValueError, match="not an RFC 9110 token"):
        Headers()[name] = "v"
    with pytest.raises(ValueError, match="not an RFC 9110 token"):
        Headers().setdefault(name, "v")
    with pytest.raises(ValueError, match="not an RFC 9110 token"):
        Headers().add_header(name, "v")


def test_parameter_names_must_be_tokens() -> None:
    with pytest.raises(ValueError, match="not an RFC 9110 token"):
        Headers().add_header("X", "v", **{"bad name": "1"})


@pytest.mark.parametrize("name", GOOD_NAMES)
@pytest.mark.parametrize("value", GOOD_VALUES)
def test_tokens_and_values_without_controls_are_accepted(name: str, value: str) -> None:
    h = Headers([(name, value)])
    assert str(h) == f"{name}: {value}\r\n\r\n"
    assert check_field_name(name) == name
    assert check_field_value(value) == value


def test_a_refused_header_leaves_the_list_unchanged() -> None:
    pairs = [("A", "1")]
    h = Headers(pairs)
    with pytest.raises(ValueError, match="token"):
        h["A B"] = "2"
    with pytest.raises(ValueError, match="control"):
        h["A"] = "bad\n"
    assert pairs == [("A", "1")]


def test_a_malformed_pair_slipped_into_the_shared_list_never_reaches_the_wire() -> None:
    pairs = [("A", "1")]
    h = Headers(pairs)
    pairs.append(("B", "x\r\nInjected: yes"))
    with pytest.raises(ValueError, match="control characters"):
        str(h)
    with pytest.raises(ValueError, match="control characters"):
        bytes(h)
    pairs[1] = ("B C", "x")
    with pytest.raises(ValueError, match="token"):
        bytes(h)
    pairs[1] = ("B", b"x")  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="must be of type str"):
        bytes(h)
    pairs[1] = ("B", "tab\tand caf\xe9")
    assert bytes(h) == b"A: 1\r\nB: tab\tand caf\xe9\r\n\r\n"


def test_the_checks_hold_under_python_dash_o() -> None:
    script = textwrap.dedent(
        """
        from wsgi_headers import Headers
        assert False, "asserts must be off"
        """
    )
    probe = subprocess.run([sys.executable, "-O", "-c", script], capture_output=True, check=False)
    assert probe.returncode == 0, probe.stderr
    script = textwrap.dedent(
        """
        from wsgi_headers import Headers
        refused = 0
        attempts = [
            lambda: Headers([("X", "a\\r\\nb")]),
            lambda: Headers([("X Y", "a")]),
            lambda: Headers().__setitem__("X", "\\x00"),
            lambda: Headers().setdefault("X", "\\n"),
            lambda: Headers().add_header("X", "v", p="\\r"),
            lambda: Headers([(b"x", "y")]),
        ]
        for attempt in attempts:
            try:
                attempt()
            except (ValueError, AssertionError):
                refused += 1
        print(refused)
        """
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "6"
