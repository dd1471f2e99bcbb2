"""Hypothesis: ``Headers`` behaves like a plain list of pairs with case-insensitive
lookup over random operation sequences, and matches ``wsgiref.headers`` on valid input."""

import wsgiref.headers

from hypothesis import given
from hypothesis import strategies as st
from wsgi_headers import Headers

_names = st.sampled_from(["A", "a", "Content-Type", "content-type", "X-Y", "x.y!"])
_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    | st.just("\t"),
    max_size=8,
)
_operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), _names, _values),
        st.tuples(st.just("del"), _names, st.none()),
        st.tuples(st.just("setdefault"), _names, _values),
        st.tuples(st.just("add_header"), _names, _values),
    ),
    max_size=20,
)


class _Model:
    """The plain model: a list of pairs, names compared lower-cased."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def get_all(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k.lower() == name.lower()]

    def apply(self, op: str, name: str, value: str | None) -> object:
        if op == "del" or op == "set":
            self.pairs = [(k, v) for k, v in self.pairs if k.lower() != name.lower()]
        if op in ("set", "add_header") and value is not None:
            self.pairs.append((name, value))
        if op == "setdefault" and value is not None:
            found = self.get_all(name)
            if found:
                return found[0]
            self.pairs.append((name, value))
            return value
        return None


def _apply(h: Headers | wsgiref.headers.Headers, op: str, name: str, value: str | None) -> object:
    if op == "set":
        h[name] = value or ""
    elif op == "del":
        del h[name]
    elif op == "setdefault":
        return h.setdefault(name, value or "")
    else:
        h.add_header(name, value)
    return None


@given(_operations)
def test_headers_match_a_list_of_pairs_model(operations: list[tuple[str, str, str | None]]) -> None:
    h, model = Headers(), _Model()
    for op, name, raw in operations:
        value = raw if op == "del" else (raw or "")
        assert _apply(h, op, name, value) == model.apply(op, name, value)
        assert h.items() == model.pairs
        for probe in ("a", "CONTENT-TYPE", "x-y", "X.Y!"):
            assert h.get_all(probe) == model.get_all(probe)
            assert h[probe] == next(iter(model.get_all(probe)), None)
            assert (probe in h) == bool(model.get_all(probe))
    assert len(h) == len(model.pairs)
    assert str(h) == "".join(f"{k}: {v}\r\n" for k, v in model.pairs) + "\r\n"


@given(_operations)
def test_headers_agree_with_wsgiref_on_valid_input(
    operations: list[tuple[str, str, str | None]],
) -> None:
    ours, theirs = Headers(), wsgiref.headers.Headers()
    for op, name, raw in operations:
        value = raw if op == "del" else (raw or "")
        assert _apply(ours, op, name, value) == _apply(theirs, op, name, value)
    assert bytes(ours) == bytes(theirs)
    assert repr(ours) == repr(theirs)


@given(st.dictionaries(st.sampled_from(["a", "b_c", "d"]), st.none() | _values, max_size=3))
def test_add_header_parameters_agree_with_wsgiref(params: dict[str, str | None]) -> None:
    ours, theirs = Headers(), wsgiref.headers.Headers()
    ours.add_header("X", "v", **params)
    theirs.add_header("X", "v", **params)
    assert ours.items() == theirs.items()
