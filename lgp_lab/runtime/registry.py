"""Resolve a workflow target (a path or a registered name) to a file.

Registered workflows live in ``workflows/config.yaml``::

    workflows:
      basic_workflow:
        path: basic_workflow.py          # relative to workflows/
        description: Remembers facts across a thread
      etl: etl.py                        # short form: just the path
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lgp_lab.errors import ConfigError, WorkflowNotFoundError

if TYPE_CHECKING:
    from lgp_lab.runtime.project import Project

__all__ = ["REGISTRY_FILE", "WorkflowEntry", "declared_entries", "read_registry", "resolve_target"]

REGISTRY_FILE = "config.yaml"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class WorkflowEntry:
    """A registered workflow: its name, file and description."""

    name: str
    path: Path
    description: str = ""
    attr: str | None = None
    declared_in: Path | None = None


def read_registry(workflows_dir: Path) -> dict[str, WorkflowEntry]:
    """The workflows registered in ``workflows_dir/config.yaml`` (empty if none)."""
    import yaml

    file = workflows_dir / REGISTRY_FILE
    if not file.is_file():
        return {}
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML ({exc})", hint="fix the YAML syntax") from None
    items = raw.get("workflows", {}) if isinstance(raw, dict) else None
    if not isinstance(items, dict):
        raise ConfigError(
            f"{file}: 'workflows' must be a mapping of name -> path",
            hint="write e.g.\n    workflows:\n      basic_workflow:\n"
            "        path: basic_workflow.py",
        )
    entries: dict[str, WorkflowEntry] = {}
    for name, spec in items.items():
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
            raise ConfigError(
                f"{file}: workflow {name!r} needs a 'path' (got {spec!r})",
                hint=f"write:\n      {name}:\n        path: {name}.py",
            )
        unknown = set(spec) - {"path", "description"}
        if unknown:
            raise ConfigError(
                f"{file}: workflow {name!r} has unknown key(s) {sorted(unknown)}",
                hint="allowed keys are 'path' and 'description'",
            )
        path = Path(spec["path"]).expanduser()
        entries[str(name)] = WorkflowEntry(
            name=str(name),
            path=path if path.is_absolute() else (workflows_dir / path).resolve(),
            description=str(spec.get("description") or ""),
            declared_in=file,
        )
    return entries


def declared_entries(
    workflows_dir: Path, project: Project | None = None
) -> dict[str, WorkflowEntry]:
    """Every workflow the project declares: ``langgraph.json`` graphs and
    ``workflows/config.yaml`` entries, by name.

    Raises:
        ConfigError: One name declared twice for different graphs (names both places).
    """
    entries = dict(read_registry(workflows_dir))
    if project is not None:
        for name, spec in project.graphs.items():
            entry = WorkflowEntry(
                name, spec.path, spec.description, spec.attr, declared_in=project.file
            )
            other = entries.get(name)
            if other is not None and (other.path, other.attr) != (entry.path, entry.attr):
                raise ConfigError(
                    f"workflow name {name!r} is declared twice: {_where(other)} in "
                    f"{other.declared_in} and {_where(entry)} in {project.file}",
                    hint="rename one of them; names must be unique in a project",
                )
            entries[name] = entry
    return entries


def resolve_target(
    target: str,
    workflows_dir: Path,
    cwd: Path | None = None,
    project: Project | None = None,
) -> WorkflowEntry:
    """Turn a CLI/magic target into a workflow file (and attribute).

    Accepted: ``path.py``, ``path.py:attr``, a ``langgraph.json`` path (its only graph),
    a ``langgraph.json`` graph id, a ``workflows/config.yaml`` name, or
    ``workflows/<name>.py``. Relative paths are tried against ``cwd``, then the project.

    Raises:
        WorkflowNotFoundError: Nothing matches; the message lists close names.
    """
    from lgp_lab.runtime.project import PROJECT_FILE, read_project, split_target

    cwd = cwd or Path.cwd()
    declared = declared_entries(workflows_dir, project)
    path_text, attr = split_target(target)
    if Path(path_text).name == PROJECT_FILE:
        file = _existing(path_text, cwd, workflows_dir.parent)
        if file is None:
            raise WorkflowNotFoundError(f"project file not found: {target}")
        graphs = read_project(file).graphs
        if len(graphs) != 1:
            ids = ", ".join(graphs) or "(none)"
            raise WorkflowNotFoundError(
                f"{target} declares {len(graphs)} graphs: {ids}",
                hint="name the graph id instead, e.g. lgp-lab run "
                + (next(iter(graphs)) if graphs else "agent"),
            )
        spec = next(iter(graphs.values()))
        return WorkflowEntry(spec.name, spec.path, spec.description, spec.attr, file)
    looks_like_path = path_text.endswith(".py") or "/" in path_text or "\\" in path_text
    if looks_like_path:
        path = _existing(path_text, cwd, workflows_dir.parent)
        if path is not None:
            for entry in declared.values():
                if entry.path == path and (attr is None or attr == entry.attr):
                    return entry
            name = _module_name(path)
            return WorkflowEntry(name=name, path=path, attr=attr)
        raise WorkflowNotFoundError(
            f"workflow file not found: {path_text}",
            hint=_suggest(path_text, (cwd / path_text).parent, declared),
        )
    if target in declared:
        entry = declared[target]
        if not entry.path.is_file():
            raise WorkflowNotFoundError(
                f"workflow {target!r} is declared in {entry.declared_in} "
                f"but its file {entry.path} does not exist",
                hint=f"fix its path in {Path(str(entry.declared_in)).name} or create the file",
            )
        return entry
    conventional = workflows_dir / f"{target}.py"
    if _NAME.match(target) and conventional.is_file():
        return WorkflowEntry(name=target, path=conventional.resolve())
    known = ", ".join(sorted(declared)) or "(none declared)"
    places = _short(workflows_dir / REGISTRY_FILE)
    if project is not None:
        places = f"{_short(project.file)} or {places}"
    raise WorkflowNotFoundError(
        f"workflow {target!r} not found in {places}; known: {known}",
        hint=_suggest(target, workflows_dir, declared),
    )


def _existing(text: str, cwd: Path, root: Path) -> Path | None:
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [cwd / path, root / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    return None


def _where(entry: WorkflowEntry) -> str:
    return f"{entry.path}" + (f":{entry.attr}" if entry.attr else "")


def _module_name(path: Path) -> str:
    stem = re.sub(r"\W", "_", path.stem)
    return stem if _NAME.match(stem) else f"wf_{stem}"


def _suggest(target: str, directory: Path, registry: dict[str, WorkflowEntry]) -> str:
    names = list(registry)
    if directory.is_dir():
        names += [p.name for p in directory.glob("*.py") if not p.name.startswith("_")]
    close = difflib.get_close_matches(Path(target).name, names, n=3, cutoff=0.6)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    if registry:
        return f"pass a .py path or one of the registered names: {', '.join(sorted(registry))}"
    return (
        "pass the path to a .py file that defines a graph (`graph`, `workflow` or `app`), "
        "a langgraph.json graph id, or register it in workflows/config.yaml"
    )


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
