"""Every markdown file of the workspace is a test module: pytest-markdown-docs runs its
```` ```python ```` blocks (``tools/markdown_blocks.py`` says which files and blocks)."""

from pathlib import Path

import pytest
from markdown_blocks import markdown_files
from pytest_markdown_docs.plugin import MarkdownTextFile

_DOCUMENTED = frozenset(markdown_files())


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """Collect the markdown files of ``markdown_files()`` with the plugin's collector
    (without ``--markdown-docs``, which would also import every ``.py`` file for its
    docstrings)."""
    if file_path.suffix == ".md" and file_path.resolve() in _DOCUMENTED:
        return MarkdownTextFile.from_parent(parent, path=file_path)
    return None
