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

from lgp_lab.errors import ConfigError, WorkflowNotFoundError

__all__ = ["REGISTRY_FILE", "WorkflowEntry", "read_registry", "resolve_target"]

REGISTRY_FILE = "config.yaml"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class WorkflowEntry:
    """A registered workflow: its name, file and description."""

    name: str
    path: Path
    description: str = ""


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
        )
    return entries


def resolve_target(target: str, workflows_dir: Path, cwd: Path | None = None) -> WorkflowEntry:
    """Turn a CLI/magic target into a workflow file.

    A target that ends in ``.py`` or contains a path separator is a file (relative to
    ``cwd``, then to the project). Anything else is a registered name, or
    ``workflows/<name>.py``.

    Raises:
        WorkflowNotFoundError: Nothing matches; the message lists close names.
    """
    cwd = cwd or Path.cwd()
    registry = read_registry(workflows_dir)
    looks_like_path = target.endswith(".py") or "/" in target or "\\" in target
    if looks_like_path:
        candidates = [Path(target).expanduser()]
        if not candidates[0].is_absolute():
            candidates = [cwd / target, workflows_dir.parent / target]
        for path in candidates:
            if path.is_file():
                path = path.resolve()
                for entry in registry.values():
                    if entry.path == path:
                        return entry
                return WorkflowEntry(name=_module_name(path), path=path)
        raise WorkflowNotFoundError(
            f"workflow file not found: {target}",
            hint=_suggest(target, candidates[0].parent, registry),
        )
    if target in registry:
        entry = registry[target]
        if not entry.path.is_file():
            raise WorkflowNotFoundError(
                f"workflow {target!r} is registered in {workflows_dir / REGISTRY_FILE} "
                f"but its file {entry.path} does not exist",
                hint="fix the 'path' in workflows/config.yaml or create the file",
            )
        return entry
    conventional = workflows_dir / f"{target}.py"
    if _NAME.match(target) and conventional.is_file():
        return WorkflowEntry(name=target, path=conventional.resolve())
    known = ", ".join(sorted(registry)) or "(none registered)"
    raise WorkflowNotFoundError(
        f"workflow {target!r} not found in {_short(workflows_dir / REGISTRY_FILE)}; known: {known}",
        hint=_suggest(target, workflows_dir, registry),
    )


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
        "pass the path to a .py file that defines `workflow`, "
        "or register it in workflows/config.yaml"
    )


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
