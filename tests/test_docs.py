"""The docs are true: every code example of the README and of docs/ runs, and the docs
document every CLI command and option, every magic and option, and every config key.

Examples run page by page (one test per page, so a failure names the page, and the
block's line in its message) through tests/docs_support/runner.py: Python blocks with
pytest-examples (``#>`` output checked), shell blocks as real subprocesses in a
temporary project, config files through lgp_lab's own loaders. Blocks marked
``test="skip"`` are listed as skipped tests with their reason (see ``-ra`` in the
summary). ``pytest tests/test_docs.py --update-examples`` rewrites the ``#>`` lines from
what the examples print.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO
from docs_support.blocks import Block, page_blocks
from docs_support.runner import PageRun
from pydantic import BaseModel

DOCS = REPO / "docs"
README = REPO / "README.md"
PAGES = [README, *sorted(DOCS.rglob("*.md"))]


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def _guide_text() -> dict[Path, str]:
    """The hand-written pages (the reference pages are generated at build time)."""
    return {p: p.read_text(encoding="utf-8") for p in PAGES if p != README}


def _config_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _config_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def _page_with(heading: str) -> tuple[Path, str]:
    found = [(p, t) for p, t in _guide_text().items() if heading in t]
    assert len(found) == 1, f"{heading!r} should head one section of docs/, found {found!r}"
    return found[0]


# --------------------------------------------------------------------- completeness


def test_every_cli_command_and_option_is_documented() -> None:
    import click

    from lgp_lab.cli import cli

    for name, command in cli.commands.items():
        page, text = _page_with(f"### `lgp-lab {name}`")
        subcommands = command.commands if isinstance(command, click.Group) else {}
        for sub_name, sub in [("", command), *subcommands.items()]:
            if sub_name:
                assert f"lgp-lab {name} {sub_name}" in text, f"{_rel(page)} lacks {sub_name}"
            for param in sub.params:
                if getattr(param, "hidden", False):
                    continue  # internal (not in --help either)
                for opt in param.opts:
                    if opt.startswith("--") and opt != "--help":
                        assert opt in text, f"{_rel(page)} does not mention {name} {opt}"


def test_every_magic_and_option_is_documented() -> None:
    from lgp_lab.magics import LgpMagics

    for name in LgpMagics.magics["line"]:
        page, text = _page_with(f"### `%{name}`")
        parser = getattr(LgpMagics, name).parser
        for action in parser._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt != "--help":
                    assert opt in text, f"{_rel(page)} does not mention %{name} {opt}"


def test_every_config_key_is_documented() -> None:
    from lgp_lab.config import LabConfig

    text = "\n".join(_guide_text().values())
    for key in _config_keys(LabConfig):
        if key == "environment":
            continue  # taken from the file name
        leaf = key.rsplit(".", 1)[-1]
        assert re.search(rf"\b{re.escape(leaf)}:", text), f"docs/ lack config key {key}"


def test_readme_commands_match_ci() -> None:
    readme = README.read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "bash scripts/test.sh" in readme
    # The first command installs from the committed lock, as CI does, then runs a workflow.
    assert "uv run --locked --all-extras lgp-lab run workflows/basic_workflow.py" in readme
    assert (REPO / "uv.lock").is_file()


def test_readme_is_short_and_links_into_the_docs() -> None:
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    assert "uv run --locked --all-extras mkdocs serve" in readme
    links = re.findall(r"\]\(((?!https?://)[^)#]+)(?:#[^)]*)?\)", readme)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        assert (REPO / link).exists(), f"README links to {link}, which does not exist"
    assert (REPO / "docs" / "images" / "studio.png").is_file()


def test_every_block_is_runnable_or_exempt_with_a_reason() -> None:
    """A fence in a language the runner does not know fails here, not silently."""
    for page in PAGES:
        for block in page_blocks(page):
            where = f"{_rel(page)}:{block.example.start_line}"
            assert block.kind is not None, f"{where}: unknown language {block.language!r}"
            if block.skipped:
                assert block.reason.strip(), f'{where}: test="skip" without a reason'
            elif block.kind == "browser":
                pytest.fail(f"{where}: a {block.language} block must be exempt with a reason")


# --------------------------------------------------------------------- the examples


def _exempt() -> list[tuple[str, Block]]:
    return [
        (f"{_rel(p)}:{b.example.start_line}", b) for p in PAGES for b in page_blocks(p) if b.skipped
    ]


@pytest.mark.parametrize(("where", "block"), _exempt(), ids=[w for w, _ in _exempt()])
def test_exempt_example(where: str, block: Block) -> None:
    """Each exempt block, listed with its reason in the run's summary (``-ra``)."""
    pytest.skip(f"{where}: exempt {block.language} example: {block.reason}")


@pytest.fixture
def database(request: pytest.FixtureRequest) -> Callable[[], str]:
    """A fresh database on the session's real PostgreSQL server, started on first use."""

    def make() -> str:
        return request.getfixturevalue("postgres_server").create_database("docs")

    return make


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", PAGES, ids=[_rel(p) for p in PAGES])
def test_examples_run(
    page: Path, tmp_path: Path, eval_example, database: Callable[[], str]
) -> None:
    with PageRun(page, tmp_path, eval_example, database) as run:
        run.run()
    print(run.summary())
    for note in run.not_run:
        warnings.warn(f"{_rel(page)}: example not run: {note}", stacklevel=1)
