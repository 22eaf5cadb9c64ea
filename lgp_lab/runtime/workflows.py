"""The Lab's workflows: found from any target, loaded once, cached by name.

One cache — ``name -> Workflow`` — plus a memo of which name a target string resolved
to. A workflow remembers its origin (file and attribute, or the notebook object), so
the same origin always gives the same handle and two origins never share a name.
Loads are serialised by one lock, and the existence check happens under it, so two
concurrent first loads of a workflow return one handle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from lgp_lab.errors import WorkflowLoadError
from lgp_lab.runtime.workflow import Workflow

__all__ = ["WorkflowSet"]


class WorkflowSet:
    """Loads workflows for a Lab and keeps the live handles by name.

    Args:
        config: The Lab's configuration (root, ``workflows/`` directory).
        project: The project's ``langgraph.json`` (or ``None``).
        checkpointer: Awaitable factory of the Lab's checkpointer.
        store: Awaitable factory of the Lab's store.
        warn: Where one-line notes go (e.g. "the graph's own checkpointer was replaced").
    """

    def __init__(
        self,
        config: Any,
        project: Any,
        *,
        checkpointer: Callable[[], Awaitable[Any]],
        store: Callable[[], Awaitable[Any]],
        warn: Callable[[str], None],
        settle: Callable[[Workflow], Awaitable[bool]] | None = None,
    ) -> None:
        self.config = config
        self.project = project
        self._checkpointer = checkpointer
        self._store = store
        self._warn = warn
        self._settle = settle
        self._by_name: dict[str, Workflow] = {}
        self._aliases: dict[str, str] = {}
        self._lock: asyncio.Lock | None = None

    # ------------------------------------------------------------------ reading

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def get(self, name: str) -> Workflow | None:
        """The loaded workflow called ``name``, if any."""
        return self._by_name.get(name)

    def snapshot(self) -> dict[str, Workflow]:
        """Loaded workflows by name (a copy)."""
        return dict(self._by_name)

    def declared(self) -> dict[str, Any]:
        """Every workflow the project declares (``langgraph.json`` + ``workflows/config.yaml``)."""
        from lgp_lab.runtime.registry import declared_entries

        return declared_entries(self.config.workflows_dir, self.project)

    # ------------------------------------------------------------------ loading

    async def aload(self, target: Any, *, name: str | None = None) -> Workflow:
        """The workflow for ``target`` (loaded on first use, reloaded if its files changed).

        Raises:
            WorkflowNotFoundError: The target names nothing.
            WorkflowLoadError: The file does not import, or holds no usable graph.
        """
        if isinstance(target, Workflow):
            return target
        if isinstance(target, str | Path):
            key = str(target)
            # A target seen before, or the name of a loaded workflow (how the server and
            # the magics name a workflow once loaded).
            known = self._by_name.get(self._aliases.get(key, key))
            if known is not None:
                if known.source is not None:
                    await self._refresh_if_stale(known)
                return known
            return await self._load_file(key)
        return await self._load_object(target, name)

    async def areload(self, workflow: Workflow) -> int:
        """Re-import a file workflow fresh and swap its graph in; return the new version.

        The new graph is built completely before the swap; on any error the previous
        version stays live and the error (with file and line) is raised.
        """
        from lgp_lab.runtime.loader import load_source

        if workflow.source is None:
            raise ValueError(f"workflow {workflow.name!r} was defined in a notebook, not a file")
        async with self._locked():
            source = await asyncio.to_thread(
                load_source,
                workflow.source,
                name=workflow.name,
                project_root=self.config.root,
                previous_modules=workflow.local_modules,
                attr=workflow.attr,
            )
            graph = await self._prepare(source.graph, source.path, quiet=True)
            return workflow.swap(graph, source.local_modules, source.stamps)

    # ------------------------------------------------------------------ private

    def _locked(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def _refresh_if_stale(self, workflow: Workflow) -> None:
        """A file changed on disk: reload it, or let its watcher finish first (bounded)."""
        if not workflow.is_stale():
            return
        if workflow.watched and self._settle is not None and await self._settle(workflow):
            return
        await self.areload(workflow)

    async def _load_file(self, target: str) -> Workflow:
        from lgp_lab.runtime.loader import load_source
        from lgp_lab.runtime.registry import resolve_target

        if self.project is not None:
            self.project.activate()  # dependencies importable, .env loaded, before import
        entry = resolve_target(target, self.config.workflows_dir, project=self.project)
        other = entry.declared_in
        if (
            other is not None
            and other.name == "langgraph.json"
            and (self.project is None or other != self.project.file)
        ):
            from lgp_lab.runtime.project import read_project

            # Another project's langgraph.json, named by path: its dependencies and env
            # apply to its graphs, wherever this Lab's root is.
            read_project(other).activate()
        async with self._locked():
            existing = self._find_origin(entry.path, entry.attr)
            if existing is None:
                name = self._unique_name(entry)
                source = await asyncio.to_thread(
                    load_source,
                    entry.path,
                    name=name,
                    project_root=self.config.root,
                    attr=entry.attr,
                )
                graph = await self._prepare(source.graph, entry.path)
                existing = Workflow(
                    name,
                    entry.path,
                    graph,
                    local_modules=source.local_modules,
                    stamps=source.stamps,
                    attr=entry.attr,
                    origin=(entry.path, entry.attr),
                )
                self._by_name[name] = existing
                self._aliases[target] = name
                return existing
            self._aliases[target] = existing.name
        await self._refresh_if_stale(existing)
        return existing

    def _find_origin(self, path: Path, attr: str | None) -> Workflow | None:
        for workflow in self._by_name.values():
            if workflow.source == path and workflow.attr == attr:
                return workflow
        return None

    def _unique_name(self, entry: Any) -> str:
        """``entry.name``, or — when another file already has it — a name qualified by the
        file's folders (``agent_graph``), so three ``graph.py`` files are three workflows."""
        taken = self._by_name.get(entry.name)
        if taken is None:
            return entry.name
        if entry.declared_in is not None and taken.source is None:
            return entry.name
        parts = [p for p in entry.path.parent.parts if p not in ("/", "")]
        base = entry.name if entry.attr is None else f"{entry.name}_{entry.attr}"
        for depth in range(1, len(parts) + 1):
            prefix = "_".join(_identifier(p) for p in parts[-depth:])
            candidate = f"{prefix}_{base}"
            if candidate not in self._by_name:
                self._warn(
                    f"{entry.path} is served as {candidate!r}: {entry.name!r} is already "
                    f"{taken.source or 'a notebook graph'}"
                )
                return candidate
        return f"{base}_{len(self._by_name)}"

    async def _load_object(self, obj: Any, name: str | None) -> Workflow:
        from lgp_lab.runtime.loader import is_graph_like

        if not is_graph_like(obj) and not callable(obj):
            raise WorkflowLoadError(
                f"a {type(obj).__name__} is not a LangGraph graph",
                hint="pass a StateGraph, a compiled graph, an @entrypoint, a graph factory, "
                "a .py path or a workflow name",
            )
        name = name or getattr(obj, "name", None) or "graph"
        if not _is_name(name) or name == "LangGraph":
            name = "graph"
        async with self._locked():
            existing = self._by_name.get(name)
            if existing is not None and existing.source is not None:
                raise WorkflowLoadError(
                    f"the name {name!r} is already taken by {existing.source}",
                    hint="pass another name (name=... / %lgp_run GRAPH --name NAME)",
                )
            # A compiled graph and its builder are one notebook workflow: re-running the
            # cell that compiles it does not make a new version.
            origin = _origin_of(obj)
            if existing is not None and existing.origin is origin:
                return existing
            graph = await self._prepare(obj, None)
            if existing is not None:
                existing.origin = origin
                existing.swap(graph)
                return existing
            workflow = Workflow(name, None, graph, origin=origin)
            self._by_name[name] = workflow
            return workflow

    async def _prepare(self, obj: Any, path: Path | None, *, quiet: bool = False) -> Any:
        from lgp_lab.runtime.loader import GraphFactory, prepare_graph

        saver = await self._checkpointer()
        store = await self._store()
        graph = prepare_graph(obj, saver, store, path=path, warn=None if quiet else self._warn)
        if isinstance(graph, GraphFactory):
            await graph.asample()  # a factory that cannot build fails at load, not later
        return graph


def _origin_of(obj: Any) -> Any:
    from langgraph.graph import StateGraph

    builder = getattr(obj, "builder", None)
    return builder if isinstance(builder, StateGraph) else obj


def _identifier(text: str) -> str:
    import re

    cleaned = re.sub(r"\W", "_", text)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"d{cleaned}"


def _is_name(text: str) -> bool:
    import re

    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,99}", text))
