"""The fenced code blocks of a Markdown page, as pytest-examples ``CodeExample`` objects.

pytest-examples' ``find_examples`` yields Python blocks only; the pages also hold shell,
IPython, YAML, JSON, TOML and JS blocks, so every fence is read here with the same
pattern pytest-examples uses (and the Python ones are pytest-examples' own objects).

A fence's settings follow its language, as pytest-examples reads them
(``CodeExample.prefix_settings``)::

    ```bash test="skip" reason="needs a Kubernetes cluster"
    ```console returncode="1"
    ```python title="workflows/my_flow.py"

- ``test="skip"`` exempts a block; ``reason`` is required.
- ``title`` (a path) makes the block a file of the page's project: it is written there.
- ``returncode`` is the exit status the block's last command must end with (default 0).

A Python block with ``#>`` output lines sits between ``<!-- fmt:off -->`` and
``<!-- fmt:on -->``: ruff formats Markdown code blocks and would rewrite pytest-examples'
``#>`` comments as ``# >``.

A page's YAML front matter may set ``examples_project: empty`` (the examples start in an
empty directory) instead of the default ``repo`` (a copy of the repository's
``workflows/``, ``config/`` and ``examples/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pytest_examples import CodeExample, find_examples
from pytest_examples.find_examples import remove_indent

__all__ = ["LANGUAGES", "Block", "front_matter", "page_blocks"]

# pytest-examples' own fence pattern (pytest_examples.find_examples._extract_code_chunks).
_FENCE = re.compile(r"(^ *```)( *)(.*?)\n(.+?)\1", flags=re.M | re.S)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", flags=re.S)

# How each language is run (tests/docs_support/runner.py); "text" blocks are synopses
# and output listings, not code.
LANGUAGES = {
    "python": "python",
    "py": "python",
    "ipython": "ipython",
    "bash": "shell",
    "sh": "shell",
    "console": "shell",
    "yaml": "yaml",
    "yml": "yaml",
    "json": "json",
    "toml": "toml",
    "js": "js",
    "javascript": "js",
    "jsx": "browser",
    "tsx": "browser",
    "text": "text",
    "": "text",
}


@dataclass
class Block:
    """One fenced block of a page."""

    example: CodeExample
    language: str

    @property
    def kind(self) -> str | None:
        """How it runs (a value of ``LANGUAGES``), ``None`` for an unknown language."""
        return LANGUAGES.get(self.language)

    @property
    def settings(self) -> dict[str, str]:
        return self.example.prefix_settings()

    @property
    def skipped(self) -> bool:
        return self.settings.get("test") == "skip"

    @property
    def reason(self) -> str:
        return self.settings.get("reason", "")

    @property
    def title(self) -> str | None:
        return self.settings.get("title")

    @property
    def where(self) -> str:
        return f"{self.example.path.name}:{self.example.start_line}"


def front_matter(path: Path) -> dict[str, object]:
    """The page's YAML front matter (``{}`` without one)."""
    match = _FRONT_MATTER.match(path.read_text(encoding="utf-8"))
    return (yaml.safe_load(match.group(1)) or {}) if match else {}


def page_blocks(path: Path) -> list[Block]:
    """Every fenced block of ``path`` in page order."""
    text = path.read_text(encoding="utf-8")
    python = {ex.start_line: ex for ex in find_examples(path)}
    blocks = []
    for match in _FENCE.finditer(text):
        fence, gap, prefix, source = match.groups()
        start_line = text[: match.start()].count("\n") + 1
        language = prefix.strip().split(" ", 1)[0].lower() if prefix.strip() else ""
        example = python.get(start_line)
        if example is None:
            dedented, indent = remove_indent(source)
            start_index = match.start() + len(fence) + len(gap) + len(prefix) + 1
            example = CodeExample(
                source=dedented,
                path=path,
                start_line=start_line,
                end_line=start_line + source.count("\n") + 1,
                start_index=start_index,
                end_index=start_index + len(source),
                prefix=prefix,
                indent=indent,
            )
        blocks.append(Block(example, language))
    return blocks
