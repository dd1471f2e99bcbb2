"""``Headers`` keeps the whole documented interface of ``wsgiref.headers.Headers``."""

import pytest
from wsgi_headers import Headers


def test_constructor_requires_a_list() -> None:
    with pytest.raises(TypeError, match="Headers must be a list of name/value tuples"):
        Headers((("a", "b"),))  # type: ignore[arg-type]


def test_constructor_defaults_to_an_empty_list() -> None:
    h = Headers()
    assert len(h) == 0
    assert h.items() == []
    assert str(h) == "\r\n"


def test_the_given_list_is_shared_not_copied() -> None:
    pairs = [("Content-Type", "text/plain")]
    h = Headers(pairs)
    h["X-A"] = "1"
    assert pairs == [("Content-Type", "text/plain"), ("X-A", "1")]
    del h["content-type"]
    assert pairs == [("X-A", "1")]


def test_non_str_names_or_values_raise_assertion_error_like_the_stdlib() -> None:
    message = r"Header names/values must be of type str \(got b'x'\)"
    with pytest.raises(AssertionError, match=message):
        Headers([(b"x", "y")])  # type: ignore[list-item]
    with pytest.raises(AssertionError, match=r"got 1\)"):
        Headers()["a"] = 1  # type: ignore[assignment]
    with pytest.raises(AssertionError, match="must be of type str"):
        Headers().setdefault("a", b"x")  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="must be of type str"):
        Headers().add_header("a", b"x")  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="must be of type str"):
        Headers().add_header("a", "b", p=b"x")  # type: ignore[arg-type]


def test_lookup_is_case_insensitive_and_returns_the_first_value() -> None:
    h = Headers([("Set-Cookie", "a=1"), ("set-cookie", "b=2")])
    assert h["SET-COOKIE"] == "a=1"
    assert h.get("set-Cookie") == "a=1"
    assert h.get_all("Set-cookie") == ["a=1", "b=2"]
    assert "set-cookie" in h


def test_missing_headers_give_none_or_the_default_and_no_error() -> None:
    h = Headers()
    assert h["missing"] is None
    assert h.get("missing") is None
    assert h.get("missing", "dflt") == "dflt"
    assert h.get_all("missing") == []
    assert "missing" not in h
    del h["missing"]


def test_setitem_replaces_every_earlier_value_and_appends() -> None:
    h = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    h["A"] = "4"
    assert h.items() == [("B", "2"), ("A", "4")]


def test_delitem_removes_all_occurrences() -> None:
    h = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    del h["a"]
    assert h.items() == [("B", "2")]


def test_keys_values_items_keep_order_and_duplicates() -> None:
    h = Headers([("A", "1"), ("B", "2"), ("A", "3")])
    assert h.keys() == ["A", "B", "A"]
    assert h.values() == ["1", "2", "3"]
    assert h.items() == [("A", "1"), ("B", "2"), ("A", "3")]
    assert len(h) == 3


def test_items_is_a_copy() -> None:
    h = Headers([("A", "1")])
    h.items().append(("B", "2"))
    assert len(h) == 1


def test_setdefault_returns_the_existing_value_or_adds_the_new_one() -> None:
    h = Headers([("A", "1")])
    assert h.setdefault("a", "2") == "1"
    assert h.setdefault("B", "3") == "3"
    assert h.items() == [("A", "1"), ("B", "3")]


def test_str_and_bytes_give_the_wire_form() -> None:
    h = Headers([("Content-Type", "text/plain"), ("X-Latin", "caf\xe9")])
    assert str(h) == "Content-Type: text/plain\r\nX-Latin: caf\xe9\r\n\r\n"
    assert bytes(h) == b"Content-Type: text/plain\r\nX-Latin: caf\xe9\r\n\r\n"


def test_repr_shows_the_class_and_the_list() -> None:
    assert repr(Headers([("A", "1")])) == "Headers([('A', '1')])"

    class Sub(Headers):
        pass

    assert repr(Sub()) == "Sub([])"


def test_add_header_formats_mime_parameters() -> None:
    h = Headers()
    h.add_header("content-disposition", "attachment", filename="bud.gif")
    h.add_header("X-Flags", None, bare=None, with_underscore="v")
    h.add_header("X-Quote", "v", q='say "hi" \\o/')
    h.add_header("X-Empty", "v", e="")
    h.add_header("X-Nothing", None)
    assert h.items() == [
        ("content-disposition", 'attachment; filename="bud.gif"'),
        ("X-Flags", 'bare; with-underscore="v"'),
        ("X-Quote", r'v; q="say \"hi\" \\o/"'),
        ("X-Empty", "v; e"),
        ("X-Nothing", ""),
    ]
