"""Import a workflow file fresh and find its graph; attach the Lab's checkpointer and store.

Every load re-executes the workflow file and the local modules it imports (helpers
beside it such as ``prompts.py``), so a reload never sees stale names. Errors point at
the user's file and line rather than at importlib's frames.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from lgp_lab.errors import Location, WorkflowLoadError, is_user_file, user_location

__all__ = [
    "CONVENTIONAL_NAMES",
    "GraphFactory",
    "LoadedSource",
    "builder_from_object",
    "compile_builder",
    "find_graph",
    "is_graph_like",
    "load_source",
    "prepare_graph",
    "stamp_files",
]

# The names LangGraph projects give their graph, in the order they are looked up.
CONVENTIONAL_NAMES = ("workflow", "graph", "app")

# Imports mutate sys.modules and sys.path; two loads at once must not interleave.
_IMPORT_LOCK = threading.RLock()


@dataclass
class LoadedSource:
    """The result of importing a workflow file."""

    path: Path
    module: ModuleType
    graph: Any
    attr: str
    local_modules: dict[str, Path] = field(default_factory=dict)
    stamps: dict[Path, tuple[int, int]] = field(default_factory=dict)

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
    attr: str | None = None,
) -> LoadedSource:
    """Import ``path`` fresh and find its graph.

    Args:
        path: The workflow file.
        name: The workflow's name (used for the module name).
        project_root: Local modules under this directory are tracked for reloads.
        previous_modules: Local modules of the previous load, purged so they re-import.
        attr: The module attribute holding the graph (``path.py:attr``); by default the
            graph is found by name (``workflow``, ``graph``, ``app``) or as the only
            graph-like object in the module.

    Raises:
        WorkflowLoadError: Syntax or import error, an exception at import time, or no
            usable graph — with the user's file and line.
    """
    path = path.resolve()
    scopes = {path.parent}
    if project_root is not None:
        scopes.add(project_root.resolve())
    module_name = f"lgp_workflow__{name}"
    # Taken before the file is read: a save during the load is seen as a change.
    stamps = stamp_files([path, *(previous_modules or {}).values()])

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
            raise _import_error(path, exc, project_root) from exc
        local = {
            mod_name: Path(mod_file).resolve()
            for mod_name in set(sys.modules) - before
            if (mod_file := getattr(sys.modules.get(mod_name), "__file__", None))
            and is_user_file(mod_file)
            and any(_under(Path(mod_file), scope) for scope in scopes)
            and not mod_name.startswith("lgp_lab")
        }
    local[module_name] = path
    for file in set(local.values()) - set(stamps):
        stamps.update(stamp_files([file]))
    obj, found_as = find_graph(module, path=path, attr=attr)
    return LoadedSource(path, module, obj, found_as, local, stamps)


def find_graph(module: ModuleType, *, path: Path, attr: str | None = None) -> tuple[Any, str]:
    """The graph object of a workflow module and the name it was found under.

    ``attr`` names it exactly; otherwise ``workflow``, ``graph`` or ``app`` (the names
    LangGraph projects use), then the only graph-like object at module level.

    Raises:
        WorkflowLoadError: Nothing graph-like, several candidates, or ``attr`` missing.
    """
    where = path.name
    candidates = [n for n, v in vars(module).items() if not n.startswith("_") and is_graph_like(v)]
    if attr is not None:
        if not hasattr(module, attr):
            raise WorkflowLoadError(
                f"{where} has no attribute {attr!r}",
                hint=_choose_hint(path, candidates),
                location=Location(str(path), 0),
            )
        obj = getattr(module, attr)
        if not (is_graph_like(obj) or _is_factory(obj)):
            raise WorkflowLoadError(
                f"{where}:{attr} is a {type(obj).__name__}, not a LangGraph graph",
                hint="point at a StateGraph, a compiled graph, an @entrypoint, or a function "
                "that returns one",
                location=Location(str(path), 0),
            )
        return obj, attr
    for conventional in CONVENTIONAL_NAMES:
        obj = vars(module).get(conventional)
        if obj is not None and (is_graph_like(obj) or _is_factory(obj)):
            return obj, conventional
    # Prefer compiled graphs: `builder = StateGraph(...); graph = builder.compile()`
    # declares one workflow under two names.
    compiled = [n for n in candidates if not _is_builder(vars(module)[n])]
    builders = [n for n in candidates if _is_builder(vars(module)[n])]
    unique = compiled or builders
    if len(compiled) == 1 or (not compiled and len(builders) == 1):
        return vars(module)[unique[0]], unique[0]
    if not candidates:
        raise WorkflowLoadError(
            f"{where} defines no LangGraph graph (looked for `workflow`, `graph`, `app`, or a "
            "StateGraph / compiled graph / @entrypoint at module level)",
            hint="define one at module level, e.g. `graph = builder.compile()`, or name it: "
            f"{where}:my_graph",
            location=Location(str(path), 0),
        )
    names = ", ".join(unique)
    raise WorkflowLoadError(
        f"{where} defines several graphs ({names}); which one is the workflow?",
        hint=f"name it: {path.name}:{unique[0]} (or call it `graph`)",
        location=Location(str(path), 0),
    )


def is_graph_like(value: Any) -> bool:
    """A ``StateGraph`` builder or any compiled graph (incl. a functional ``@entrypoint``)."""
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    return isinstance(value, StateGraph | Pregel)


def prepare_graph(
    obj: Any,
    checkpointer: Any,
    store: Any = None,
    *,
    path: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """The runnable graph behind ``obj``, on the Lab's checkpointer and store.

    A ``StateGraph`` is compiled; a compiled graph or ``@entrypoint`` is copied with the
    Lab's checkpointer and store (keeping everything else: interrupts, name, retry and
    cache policies); a graph factory becomes a :class:`GraphFactory` built per run.
    """
    from langgraph.graph import StateGraph

    if isinstance(obj, StateGraph):
        return compile_builder(obj, checkpointer, {"store": store} if store else None, path=path)
    if _is_factory(obj):
        return GraphFactory(obj, checkpointer, store, path=path)
    replaced = [
        f"its own {kind} ({type(mine).__name__})"
        for kind, mine in (("checkpointer", obj.checkpointer), ("store", obj.store))
        if mine not in (None, True, False) and mine is not checkpointer and mine is not store
    ]
    if replaced and warn is not None:
        where = f"{path.name}: " if path else ""
        warn(
            f"{where}the graph was compiled with {' and '.join(replaced)}; lgp_lab runs it "
            "on the project's persistent checkpointer and store instead"
        )
    update: dict[str, Any] = {"checkpointer": checkpointer}
    if store is not None:
        update["store"] = store
    return obj.copy(update)


class GraphFactory:
    """A function returning a graph (``langgraph.json`` allows these): called per run.

    It may take no argument or the run's config, be sync or async, and return a graph
    or a (async) context manager yielding one, as ``langgraph dev`` accepts.
    """

    def __init__(
        self, function: Any, checkpointer: Any, store: Any = None, *, path: Path | None = None
    ) -> None:
        self.function = function
        self.checkpointer = checkpointer
        self.store = store
        self.path = path
        self.sample: Any = None  # one instance, for schemas and state reads

    def __repr__(self) -> str:
        return f"GraphFactory({getattr(self.function, '__name__', self.function)!r})"

    @contextlib.asynccontextmanager
    async def instance(self, config: dict[str, Any]) -> AsyncIterator[Any]:
        """A graph for one run, on the Lab's checkpointer and store."""
        import inspect

        try:
            params = inspect.signature(self.function).parameters
            made = self.function(config) if params else self.function()
            if inspect.isawaitable(made):
                made = await made
        except Exception as exc:
            raise WorkflowLoadError(
                f"graph factory {getattr(self.function, '__name__', '?')!r} failed: "
                f"{type(exc).__name__}: {exc}",
                hint="fix the factory; it is called with the run's config",
                location=user_location(exc.__traceback__),
            ) from exc
        if hasattr(made, "__aenter__"):
            async with made as graph:
                yield prepare_graph(graph, self.checkpointer, self.store, path=self.path)
        elif hasattr(made, "__enter__") and not is_graph_like(made):
            with made as graph:
                yield prepare_graph(graph, self.checkpointer, self.store, path=self.path)
        else:
            if not is_graph_like(made):
                raise WorkflowLoadError(
                    f"graph factory {getattr(self.function, '__name__', '?')!r} returned a "
                    f"{type(made).__name__}, not a graph",
                    hint="return a compiled graph (or a StateGraph)",
                )
            yield prepare_graph(made, self.checkpointer, self.store, path=self.path)

    async def asample(self) -> Any:
        """Build (once) an instance with an empty config, for schemas and state reads."""
        if self.sample is None:
            async with self.instance({"configurable": {}}) as graph:
                self.sample = graph
        return self.sample


def builder_from_object(
    obj: Any, *, path: Path | None = None, module: ModuleType | None = None
) -> tuple[Any, dict[str, Any]]:
    """The ``StateGraph`` builder and compile options behind ``obj`` (kept for callers
    that recompile; :func:`prepare_graph` is the general path)."""
    from langgraph.graph import StateGraph

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
    where = path.name if path else "the given object"
    raise WorkflowLoadError(
        f"the graph in {where} is a {type(obj).__name__}, not a LangGraph StateGraph",
        hint="pass a StateGraph (or a graph compiled from one)",
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


def stamp_files(files: list[Path]) -> dict[Path, tuple[int, int]]:
    """``(mtime_ns, size)`` per file (``(-1, -1)`` when missing): what a change looks like."""
    stamps: dict[Path, tuple[int, int]] = {}
    for file in files:
        try:
            st = os.stat(file)
        except OSError:
            stamps[file] = (-1, -1)
        else:
            stamps[file] = (st.st_mtime_ns, st.st_size)
    return stamps


# --------------------------------------------------------------------------- private


def _is_builder(value: Any) -> bool:
    from langgraph.graph import StateGraph

    return isinstance(value, StateGraph)


def _is_factory(value: Any) -> bool:
    """A plain (async) function — a graph factory as langgraph.json allows."""
    import inspect

    return inspect.isfunction(value) or inspect.iscoroutinefunction(value)


def _choose_hint(path: Path, candidates: list[str]) -> str:
    if candidates:
        return "graphs in this file: " + ", ".join(f"{path.name}:{c}" for c in candidates)
    return "define the graph at module level, e.g. `graph = builder.compile()`"


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


def _import_error(path: Path, exc: BaseException, root: Path | None = None) -> WorkflowLoadError:
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
        local = _local_package(missing.split(".")[0], path, root)
        if local is not None:
            return WorkflowLoadError(
                f"import error while loading {path.name}: no module named {missing!r}, "
                f"though the project has it at {local}",
                hint=f'list its folder in langgraph.json: "dependencies": ["."] '
                f"(lgp_lab then imports {local.parent.name}/ as `langgraph dev` does), or run "
                "from the project root",
                location=location,
            )
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


def _local_package(name: str, path: Path, root: Path | None) -> Path | None:
    """The user's own package ``name`` in the project (``src/name`` or ``name``), if any."""
    bases = {path.parent, *path.parents}
    if root is not None:
        bases.add(root)
    for base in sorted(bases, key=lambda p: len(p.parts), reverse=True):
        for candidate in (base / "src" / name, base / name):
            if (candidate / "__init__.py").is_file() or candidate.with_suffix(".py").is_file():
                return candidate
        if root is not None and base == root.parent:
            break
    return None
