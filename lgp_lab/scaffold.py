"""Workflow templates and ``create``: from nothing to a running workflow in a minute.

Templates ship inside the package (``lgp_lab/templates/<name>/``), so they work from an
installed wheel. :func:`create_workflow` checks everything first and writes nothing when
it refuses: a bad name, an unknown template, or a file that exists (without ``force``).
"""

from __future__ import annotations

import json
import keyword
import re
import shutil
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from lgp_lab.errors import LgpError

__all__ = [
    "CreateResult",
    "TemplateArgumentError",
    "TemplateError",
    "TemplateInfo",
    "check_workflow_name",
    "create_workflow",
    "get_template",
    "list_templates",
]

TEMPLATE_ORDER = ("basic", "with_claude_code", "multi_agent", "data_pipeline", "custom")
PLACEHOLDER = "__WORKFLOW_NAME__"
_SAMPLE_REPO = "_sample_repo"


class TemplateError(LgpError):
    """A template or ``create`` request that cannot be honoured; nothing was written."""


class TemplateArgumentError(TemplateError):
    """The workflow name or the template name itself is invalid (a usage error)."""


@dataclass(frozen=True)
class TemplateInfo:
    """A template: its files and metadata."""

    name: str
    description: str
    complexity: str
    path: Path
    sample_input: dict[str, Any] = field(default_factory=dict)
    repository: str | None = None

    @property
    def workflow_file(self) -> Path:
        """The template's workflow source."""
        return self.path / "workflow.py"

    @property
    def data_file(self) -> Path | None:
        """Sample data shipped with the template (copied beside the workflow)."""
        data = self.path / "workflow.csv"
        return data if data.is_file() else None


@dataclass
class CreateResult:
    """What :func:`create_workflow` wrote."""

    name: str
    template: str
    root: Path
    workflow_file: Path
    registry_file: Path
    registry_created: bool
    created: list[Path] = field(default_factory=list)
    notebook: Path | None = None


def templates_dir() -> Path:
    """Where the templates are (inside the installed package)."""
    return Path(str(resources.files("lgp_lab.templates")))


def list_templates() -> list[TemplateInfo]:
    """Every template, in the documented order."""
    import yaml

    found: dict[str, TemplateInfo] = {}
    for folder in sorted(templates_dir().iterdir()):
        meta_file = folder / "template.yaml"
        if not folder.is_dir() or folder.name.startswith("_") or not meta_file.is_file():
            continue
        meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
        found[folder.name] = TemplateInfo(
            name=folder.name,
            description=str(meta.get("description", "")),
            complexity=str(meta.get("complexity", "")),
            path=folder,
            sample_input=dict(meta.get("sample_input") or {}),
            repository=meta.get("repository"),
        )
    ordered = [found.pop(n) for n in TEMPLATE_ORDER if n in found]
    return ordered + sorted(found.values(), key=lambda t: t.name)


def get_template(name: str) -> TemplateInfo:
    """The template ``name``.

    Raises:
        TemplateError: Unknown name; the message lists the known templates.
    """
    templates = {t.name: t for t in list_templates()}
    if name not in templates:
        raise TemplateArgumentError(
            f"unknown template {name!r}; known templates: {', '.join(templates)}",
            hint="see them with: lgp-lab templates",
        )
    return templates[name]


def check_workflow_name(name: str) -> None:
    """Refuse a name that cannot be a module: not an identifier, or a Python keyword.

    Raises:
        TemplateArgumentError: The message says why and suggests a valid name.
    """
    if keyword.iskeyword(name):
        raise TemplateArgumentError(
            f"workflow name {name!r} is a Python keyword, so it cannot name a module",
            hint=f"pick another name, e.g. {name}_ or my_{name}",
        )
    if not name.isidentifier():
        suggestion = re.sub(r"\W+", "_", name).strip("_") or "my_workflow"
        if suggestion[0].isdigit():
            suggestion = f"wf_{suggestion}"
        if keyword.iskeyword(suggestion):
            suggestion += "_"
        raise TemplateArgumentError(
            f"workflow name {name!r} is not a Python identifier",
            hint=f"use letters, digits and underscores (no digit first), e.g. {suggestion}",
        )


def create_workflow(
    name: str,
    template: str,
    *,
    root: Path | None = None,
    notebook: bool = False,
    force: bool = False,
) -> CreateResult:
    """Create ``workflows/<name>.py`` from ``template`` and register it.

    Args:
        name: The workflow's name, a Python identifier.
        template: A template name (see :func:`list_templates`).
        root: The project directory (default: the project around the working directory,
            or the working directory itself).
        notebook: Also write ``notebooks/<name>.ipynb``.
        force: Overwrite existing files of the same name.

    Raises:
        TemplateError: Nothing was written; the message says why and what to do.
    """
    from lgp_lab.config import find_project_root
    from lgp_lab.runtime.registry import REGISTRY_FILE, read_registry

    check_workflow_name(name)
    info = get_template(template)
    root = (root or find_project_root() or Path.cwd()).resolve()
    workflows = root / "workflows"
    registry_file = workflows / REGISTRY_FILE
    target = workflows / f"{name}.py"
    data_target = workflows / f"{name}.csv" if info.data_file else None
    notebook_target = root / "notebooks" / f"{name}.ipynb" if notebook else None

    registry = read_registry(workflows)  # a broken registry is refused before any write
    existing = [p for p in (target, data_target, notebook_target) if p is not None and p.exists()]
    if name in registry and registry[name].path != target.resolve():
        existing.append(registry[name].path)
    if existing and not force:
        shown = ", ".join(_rel(p, root) for p in existing)
        raise TemplateError(
            f"workflow {name!r} already exists ({shown})",
            hint="pick another name, or pass --force to overwrite it",
        )

    created: list[Path] = []
    workflows.mkdir(parents=True, exist_ok=True)
    source = info.workflow_file.read_text(encoding="utf-8").replace(PLACEHOLDER, name)
    target.write_text(source, encoding="utf-8")
    created.append(target)
    if info.data_file and data_target is not None:
        shutil.copyfile(info.data_file, data_target)
        created.append(data_target)
    if info.repository:
        repo = root / "repositories" / info.repository
        if not repo.exists():  # never touch a repository the user already has
            shutil.copytree(templates_dir() / _SAMPLE_REPO, repo)
            created.append(repo)
    registry_created = not registry_file.exists()
    _register(registry_file, name, info.description, replace=name in registry)
    result = CreateResult(name, template, root, target, registry_file, registry_created, created)
    if notebook_target is not None:
        notebook_target.parent.mkdir(parents=True, exist_ok=True)
        notebook_target.write_text(_notebook(name, info), encoding="utf-8")
        result.notebook = notebook_target
        created.append(notebook_target)
    return result


def _register(registry_file: Path, name: str, description: str, *, replace: bool) -> None:
    """Add ``name`` to workflows/config.yaml, keeping the user's comments when appending."""
    import yaml

    entry = {"path": f"{name}.py", "description": description}
    if not registry_file.exists():
        registry_file.write_text(
            "# Registered workflows: `lgp-lab run NAME` and `%lgp_run NAME` find them here.\n"
            "# Paths are relative to this directory.\n"
            + yaml.safe_dump({"workflows": {name: entry}}, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        return
    text = registry_file.read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    block_style = re.search(r"^workflows:\s*$", text, re.M) is not None
    if not replace and block_style and isinstance(data.get("workflows"), dict):
        snippet = yaml.safe_dump({name: entry}, sort_keys=False, allow_unicode=True)
        indented = "".join(f"  {line}\n" for line in snippet.splitlines())
        registry_file.write_text(text.rstrip("\n") + "\n" + indented, encoding="utf-8")
        return
    data.setdefault("workflows", {})
    if not isinstance(data["workflows"], dict):
        data["workflows"] = {}
    data["workflows"][name] = entry
    registry_file.write_text(
        yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


def _notebook(name: str, info: TemplateInfo) -> str:
    """A notebook that loads the extension, runs the workflow and shows its sessions."""
    sample = json.dumps(info.sample_input or {"input": "hello"})

    def cell(kind: str, source: str) -> dict[str, Any]:
        data: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": source}
        if kind == "code":
            data.update(execution_count=None, outputs=[])
        return data

    notebook = {
        "cells": [
            cell(
                "markdown",
                f"# {name}\n\nCreated from the `{info.name}` template ({info.description}). "
                f"Edit `workflows/{name}.py` (its docstring lists the customization points); "
                f"`%lgp_watch {name}` reloads it on every save.",
            ),
            cell("code", "%load_ext lgp_lab"),
            cell("code", f"r = %lgp_run {name} --input '{sample}' --thread {name}-demo"),
            cell("code", "r.state"),
            cell("code", f"%lgp_sessions {name}"),
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)
