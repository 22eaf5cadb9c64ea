"""Import a workflow file fresh and turn its ``workflow`` into a compilable builder.

Every load re-executes the workflow file and the local modules it imports (helpers
beside it such as ``prompts.py``), so a reload never sees stale names. Errors point at
the user's file and line rather than at importlib's frames.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from lgp_lab.errors import Location, WorkflowLoadError, is_user_file, user_location

__all__ = ["LoadedSource", "builder_from_object", "compile_builder", "load_source"]

# Imports mutate sys.modules and sys.path; two loads at once must not interleave.
_IMPORT_LOCK = threading.RLock()


@dataclass
class LoadedSource:
    """The result of importing a workflow file."""

    path: Path
    module: ModuleType
    builder: Any
    compile_kwargs: dict[str, Any]
    local_modules: dict[str, Path] = field(default_factory=dict)

    @property
    def files(self) -> list[Path]:
        """The workflow file and the local module files it imported."""
        return [self.path, *sorted(set(self.local_modules.values()) - {self.path})]


def load_source(
    path: Path,
    *,
    name: str,
    project_root: Path | None = None,
    previous_modules: dict[str, Path] | None = None,
) -> LoadedSource:
    """Import ``path`` fresh and find its ``workflow``.

    Args:
        path: The workflow file.
        name: The workflow's name (used for the module name).
        project_root: Local modules under this directory are tracked for reloads.
        previous_modules: Local modules of the previous load, purged so they re-import.

    Raises:
        WorkflowLoadError: Syntax or import error, an exception at import time, or no
            usable ``workflow`` — with the user's file and line.
    """
    path = path.resolve()
    scopes = {path.parent}
    if project_root is not None:
        scopes.add(project_root.resolve())
    module_name = f"lgp_workflow__{name}"

    with _IMPORT_LOCK:
        _purge(path.parent, previous_modules or {})
        directory = str(path.parent)
        # Stays on sys.path: nodes may import helpers lazily, at run time.
        if directory not in sys.path:
            sys.path.insert(0, directory)
        before = set(sys.modules)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise WorkflowLoadError(
                f"cannot import {path}", hint="pass a Python source file ending in .py"
            )
        module = importlib.util.module_from_spec(spec)
        old = sys.modules.get(module_name)
        sys.modules[module_name] = module  # dataclasses and pickling look the module up
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            if old is not None:
                sys.modules[module_name] = old
            else:
                sys.modules.pop(module_name, None)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            raise _import_error(path, exc) from exc
        local = {
            mod_name: Path(mod_file).resolve()
            for mod_name in set(sys.modules) - before
            if (mod_file := getattr(sys.modules.get(mod_name), "__file__", None))
            and is_user_file(mod_file)
            and any(_under(Path(mod_file), scope) for scope in scopes)
            and not mod_name.startswith("lgp_lab")
        }
    local[module_name] = path
    builder, kwargs = builder_from_object(
        getattr(module, "workflow", None), path=path, module=module
    )
    return LoadedSource(path, module, builder, kwargs, local)


def builder_from_object(
    obj: Any, *, path: Path | None = None, module: ModuleType | None = None
) -> tuple[Any, dict[str, Any]]:
    """The ``StateGraph`` builder and compile options behind ``obj``.

    Accepts a ``StateGraph`` (compiled later with the Lab's checkpointer) or a compiled
    graph (recompiled from its builder, keeping its interrupts, store and name).
    """
    from langgraph.graph import StateGraph

    where = path.name if path else "the given object"
    if obj is None and module is not None:
        found = [n for n, v in vars(module).items() if _is_graph(v) and not n.startswith("_")]
        hint = (
            f"rename {found[0]!r} to `workflow` (or add `workflow = {found[0]}`)"
            if found
            else "define `workflow = StateGraph(State)` with nodes and edges at module level"
        )
        raise WorkflowLoadError(
            f"{where} does not define `workflow`",
            hint=hint,
            location=Location(str(path), 0) if path else None,
        )
    if isinstance(obj, StateGraph):
        return obj, {}
    builder = getattr(obj, "builder", None)
    if isinstance(builder, StateGraph):
        kwargs: dict[str, Any] = {}
        for attr, key in (
            ("interrupt_before_nodes", "interrupt_before"),
            ("interrupt_after_nodes", "interrupt_after"),
            ("store", "store"),
            ("cache", "cache"),
            ("name", "name"),
        ):
            value = getattr(obj, attr, None)
            if value:
                kwargs[key] = value
        return builder, kwargs
    raise WorkflowLoadError(
        f"`workflow` in {where} is a {type(obj).__name__}, not a LangGraph StateGraph",
        hint="set `workflow = StateGraph(State)` (or a graph compiled from one)",
        location=Location(str(path), 0) if path else None,
    )


def compile_builder(
    builder: Any,
    checkpointer: Any,
    compile_kwargs: dict[str, Any] | None = None,
    *,
    path: Path | None = None,
) -> Any:
    """Compile ``builder`` with the Lab's checkpointer, mapping errors to the user's file."""
    try:
        return builder.compile(checkpointer=checkpointer, **(compile_kwargs or {}))
    except Exception as exc:
        location = user_location(exc.__traceback__) or (Location(str(path), 0) if path else None)
        raise WorkflowLoadError(
            f"the graph does not compile: {exc}",
            hint="check the graph's nodes and edges (every node reachable from START, "
            "every edge to a defined node)",
            location=location,
        ) from exc


# --------------------------------------------------------------------------- private


def _is_graph(value: Any) -> bool:
    from langgraph.graph import StateGraph

    return isinstance(value, StateGraph) or isinstance(getattr(value, "builder", None), StateGraph)


def _under(file: Path, directory: Path) -> bool:
    try:
        file.resolve().relative_to(directory)
    except ValueError:
        return False
    return True


def _purge(directory: Path, previous: dict[str, Path]) -> None:
    """Forget local modules so the next import executes their current source."""
    for mod_name, module in list(sys.modules.items()):
        mod_file = getattr(module, "__file__", None)
        if mod_name in previous or (
            mod_file
            and not mod_name.startswith("lgp_lab")
            and is_user_file(mod_file)
            and os.path.dirname(os.path.realpath(mod_file)) == str(directory.resolve())
        ):
            sys.modules.pop(mod_name, None)
    importlib.invalidate_caches()


def _import_error(path: Path, exc: BaseException) -> WorkflowLoadError:
    if isinstance(exc, SyntaxError):
        location = Location(exc.filename or str(path), exc.lineno or 0, None, exc.text)
        return WorkflowLoadError(
            f"syntax error in {Path(location.file).name}: {exc.msg}",
            hint="fix the syntax at the line shown",
            location=location,
        )
    location = user_location(exc.__traceback__) or Location(str(path), 0)
    if isinstance(exc, ModuleNotFoundError):
        missing = exc.name or str(exc)
        return WorkflowLoadError(
            f"import error while loading {path.name}: no module named {missing!r}",
            hint=f"install it (pip install {missing.split('.')[0]}) or fix the import; "
            f"local modules must sit beside {path.name}",
            location=location,
        )
    if isinstance(exc, ImportError):
        return WorkflowLoadError(
            f"import error while loading {path.name}: {exc}",
            hint="check the imported name exists in that module",
            location=location,
        )
    return WorkflowLoadError(
        f"error while loading {path.name}: {type(exc).__name__}: {exc}",
        hint="fix the code at the line shown; the workflow module runs top to bottom on load",
        location=location,
    )
