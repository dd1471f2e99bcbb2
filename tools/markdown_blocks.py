"""The fenced code blocks of the workspace's markdown files, as the test suite sees them.

One selection for every check of the documentation:

- the root ``conftest.py`` hands each file of ``markdown_files()`` to
  pytest-markdown-docs, which runs its ```` ```python ```` blocks;
- ``tools/docs/tests/test_code_blocks.py`` type-checks the same blocks with
  ``mypy --strict`` (``python_blocks``, the plugin's own extraction), runs the shell
  blocks, and checks that every other block is text or marked as not run.

A block whose info string holds ``notest`` (```` ```python notest ````,
```` ```sh notest ````) is not run; the prose before it must say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt
from pytest_markdown_docs.plugin import extract_fence_tests

ROOT = Path(__file__).resolve().parent.parent

# Where markdown files live; pytest's ``testpaths`` names the same places, so that the
# plugin collects every file listed here (a test checks that no file lies elsewhere).
MARKDOWN_PLACES = ("*.md", "packages/**/*.md", "tests-integration/**/*.md", "tools/docs/**/*.md")
# Folders that hold generated or third-party files, never documentation: pytest's
# default norecursedirs (it does not collect there either), hidden folders (such as
# .pytest_cache, whose README.md pytest writes) and the built site.
_NOT_DOCUMENTATION = frozenset({"build", "dist", "node_modules", "venv", "site"})

NOT_RUN = "notest"
_SNIPPET = re.compile(r'--8<-- "([^"]+)"')
PYTHON = frozenset({"py", "python", "python3"})  # the languages the plugin runs
SHELL = frozenset({"sh", "bash", "shell", "console"})
TEXT = "text"


@dataclass(frozen=True)
class Fence:
    """One fenced code block: where it is, its info string and its content."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    options: frozenset[str]
    content: str
    prose: str  # the paragraph just before the fence

    @property
    def runs(self) -> bool:
        """Whether the suite runs this block (it is not marked ``notest``)."""
        return NOT_RUN not in self.options

    @property
    def included(self) -> str | None:
        """The file a block made of one pymdownx.snippets line (``--8<-- "path"``)
        includes, its path relative to the workspace; ``None`` for other blocks."""
        match = _SNIPPET.fullmatch(self.content.strip())
        return match[1] if match else None

    @property
    def where(self) -> str:
        """``path:line`` of the opening fence, the path relative to the workspace."""
        return f"{relative(self.path)}:{self.line}"


def relative(path: Path) -> str:
    """*path* relative to the workspace root, as a POSIX string."""
    return path.resolve().relative_to(ROOT).as_posix()


def _parser() -> MarkdownIt:
    # The parser pytest-markdown-docs uses by default.
    return MarkdownIt(config="commonmark")


def _is_documentation(path: Path) -> bool:
    folders = path.relative_to(ROOT).parts[:-1]
    return not any(
        name in _NOT_DOCUMENTATION or name.startswith(".") or name.endswith(".egg")
        for name in folders
    )


def markdown_files() -> list[Path]:
    """Every markdown file in ``MARKDOWN_PLACES``, sorted."""
    found = {path for place in MARKDOWN_PLACES for path in ROOT.glob(place)}
    return sorted(path for path in found if _is_documentation(path))


def stray_markdown_files() -> list[Path]:
    """Markdown files of the workspace outside ``MARKDOWN_PLACES`` (the suite would not
    run their blocks)."""
    listed = set(markdown_files())
    return sorted(
        path for path in ROOT.rglob("*.md") if _is_documentation(path) and path not in listed
    )


def fences(path: Path) -> list[Fence]:
    """The fenced code blocks of the markdown file *path*, in order."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for token in _parser().parse(text):
        if token.type != "fence" or token.map is None:
            continue
        words = token.info.split()
        start = token.map[0]
        before = start
        while before > 0 and not lines[before - 1].strip():
            before -= 1
        paragraph_start = before
        while paragraph_start > 0 and lines[paragraph_start - 1].strip():
            paragraph_start -= 1
        found.append(
            Fence(
                path=path,
                line=start + 1,
                language=words[0] if words else "",
                options=frozenset(words[1:]),
                content=token.content,
                prose="\n".join(lines[paragraph_start:before]),
            )
        )
    return found


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """The python blocks of *path* that pytest-markdown-docs runs, as it runs them:
    ``(first code line, source)``, the source padded with blank lines so that its line
    numbers are the markdown file's."""
    return [
        (test.start_line, test.source)
        for test in extract_fence_tests(
            _parser(), path.read_text(encoding="utf-8"), start_line_offset=0, source_path=path
        )
    ]
