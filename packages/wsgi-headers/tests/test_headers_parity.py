"""Every public name of ``wsgiref.headers`` exists here with the same signature."""

import inspect
import wsgiref.headers
from types import ModuleType

import wsgi_headers


def test_public_names_and_signatures_match_wsgiref_headers() -> None:
    public = [
        n
        for n, v in vars(wsgiref.headers).items()
        if not n.startswith("_") and not isinstance(v, ModuleType)
    ]
    assert sorted(public) == ["Headers", "tspecials"]
    assert wsgi_headers.tspecials.pattern == wsgiref.headers.tspecials.pattern
    for name, member in vars(wsgiref.headers.Headers).items():
        if not callable(member) or (name.startswith("_") and not name.startswith("__")):
            continue
        ours = getattr(wsgi_headers.Headers, name)
        assert _bare(ours) == _bare(member), name


def _bare(func: object) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(func).parameters.values()]  # type: ignore[arg-type]
