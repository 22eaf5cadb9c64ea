"""The Lab: the one object that owns a process's (or kernel's) resources.

A Lab has an engine loop (a daemon thread), the async checkpointer on it, and the
loaded workflows by name. Every front end — CLI, magics, server, widgets — is a thin
layer over its methods. Sync methods submit to the engine loop; ``a``-prefixed twins
run on it.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from lgp_lab.config import LabConfig, load_config
from lgp_lab.errors import LabClosedError, WorkflowLoadError
from lgp_lab.runtime.context import set_current_lab
from lgp_lab.runtime.engine import EngineLoop
from lgp_lab.runtime.reloader import ReloadCallback, WatchHandle
from lgp_lab.runtime.result import RunResult
from lgp_lab.runtime.sessions import Sessions
from lgp_lab.runtime.traces import Traces
from lgp_lab.runtime.workflow import Workflow

__all__ = ["Lab", "RunListener"]

T = TypeVar("T")
_UNSET: Any = object()
RunListener = Callable[[RunResult], None]


class Lab:
    """Runs LangGraph workflows on persistent threads.

    Args:
        config: A loaded configuration; by default the project's around ``root``.
        env: Environment name (``config/<env>.yaml``); default ``$LGP_ENV`` or experiment.
        root: Where to look for the project; default the working directory.
        console: Print a line per node (overrides ``observability.console``); notebooks
            pass False because the result display shows the run.

    Example:
        >>> with Lab() as lab:                                      # doctest: +SKIP
        ...     r = lab.run("workflows/basic_workflow.py", "hi", thread_id="t-1")
        ...     r.state["output"]
    """

    def __init__(
        self,
        config: LabConfig | None = None,
        *,
        env: str | None = None,
        root: str | Path | None = None,
        console: bool | None = None,
    ) -> None:
        self.config = config or load_config(env, Path(root) if root is not None else None)
        self._console = console
        self.engine = EngineLoop()
        self._saver: Any = None
        self._store: Any = None
        self._ready: asyncio.Lock | None = None
        self._load_lock: asyncio.Lock | None = None
        self._workflows: dict[str, Workflow] = {}
        self._targets: dict[str, Workflow] = {}
        self._origins: dict[str, Any] = {}
        self._listeners: list[RunListener] = []
        self._watches: dict[str, WatchHandle] = {}
        self._closers: list[Callable[[], None]] = []
        self._closed = False
        self._tracing: Any = None
        self._mcp: Any = None
        self._tracing_ready = False
        self.warn: Callable[[str], None] = _warn_stderr
        self.sessions = Sessions(self._astore, self.acheckpointer, self._call)
        self.traces = Traces(self._atrace_store, self._call)
        # aiosqlite's worker thread is not a daemon: close on interpreter exit.
        atexit.register(_close_at_exit, weakref.ref(self))

    # ------------------------------------------------------------------ properties

    @property
    def root(self) -> Path:
        """The project root."""
        return self.config.root

    @property
    def environment(self) -> str:
        """The config environment this Lab runs in."""
        return self.config.environment

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite checkpoint file."""
        return self.config.checkpoint_path

    @property
    def workflows(self) -> dict[str, Workflow]:
        """Loaded workflows by name."""
        return dict(self._workflows)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    # ------------------------------------------------------------------ resources

    def _ready_lock(self) -> asyncio.Lock:
        if self._ready is None:
            self._ready = asyncio.Lock()
        return self._ready

    async def acheckpointer(self) -> Any:
        """The checkpointer, opened on first use (on the engine loop)."""
        if self._saver is None:
            async with self._ready_lock():
                if self._saver is None:
                    self._check_open()
                    from lgp_lab.checkpointing import create_checkpointer

                    self._saver = await create_checkpointer(self.config)
        return self._saver

    async def _astore(self) -> Any:
        if self._store is None:
            from lgp_lab.checkpointing import session_store_for

            self._store = session_store_for(await self.acheckpointer())
        return self._store

    async def atracing(self) -> Any:
        """The run tracer per the observability config (built on first use), or ``None``."""
        if not self._tracing_ready:
            await self.acheckpointer()
            async with self._ready_lock():
                if not self._tracing_ready:
                    self._tracing = await self._build_tracing()
                    self._tracing_ready = True
        return self._tracing

    async def _build_tracing(self) -> Any:
        from lgp_lab.observability.factory import build_tracing

        saver = await self.acheckpointer() if self.config.observability.local else None
        return await build_tracing(
            self.config,
            conn=getattr(saver, "conn", None),
            lock=getattr(saver, "lock", None),
            console=self._console,
            warn=lambda message: self.warn(message),
        )

    @property
    def mcp(self) -> Any:
        """The Lab's MCP client sessions (``mcp.servers`` in the config), started lazily."""
        if self._mcp is None:
            from lgp_lab.agents.mcp_client import McpSessions

            self._mcp = McpSessions(self.config)
        return self._mcp

    async def _atrace_store(self) -> Any:
        tracing = await self.atracing()
        return tracing.exporter("local") if tracing is not None else None

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the Lab closes (watchers and servers register here)."""
        self._closers.append(callback)

    def add_run_listener(self, listener: RunListener) -> Callable[[], None]:
        """Call ``listener(result)`` after every successful run; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    # ------------------------------------------------------------------ workflows

    async def aload(self, target: Any, *, name: str | None = None) -> Workflow:
        """Load a workflow (a path, a registered name, a graph object or a Workflow).

        A file already loaded is reused, and reloaded if it changed on disk since.

        Raises:
            WorkflowNotFoundError: The target names nothing.
            WorkflowLoadError: The file does not import or compile.
        """
        self._check_open()
        if isinstance(target, Workflow):
            return target
        if isinstance(target, str | Path):
            key = str(target)
            cached = self._targets.get(key)
            if cached is not None and self._workflows.get(cached.name) is cached:
                await self._refresh_if_stale(cached)
                return cached
            return await self._load_file(key)
        return await self._load_object(target, name)

    def load(self, target: Any, *, name: str | None = None) -> Workflow:
        """Sync twin of :meth:`aload`."""
        return self._call(self.aload(target, name=name))

    async def areload(self, workflow: Workflow | str) -> int:
        """Re-import a file workflow fresh and swap its graph in; return the new version.

        The new graph is built and compiled completely before the swap; on any error
        the previous version stays live and the error (with file and line) is raised.
        """
        from lgp_lab.runtime.loader import compile_builder, load_source

        wf = self._workflows[workflow] if isinstance(workflow, str) else workflow
        if wf.source is None:
            raise ValueError(f"workflow {wf.name!r} was defined in a notebook, not a file")
        async with self._loading():
            source = await asyncio.to_thread(
                load_source,
                wf.source,
                name=wf.name,
                project_root=self.root,
                previous_modules=wf.local_modules,
            )
            saver = await self.acheckpointer()
            graph = compile_builder(source.builder, saver, source.compile_kwargs, path=wf.source)
            return wf.swap(graph, source.local_modules)

    def reload(self, workflow: Workflow | str) -> int:
        """Sync twin of :meth:`areload`."""
        return self._call(self.areload(workflow))

    # ------------------------------------------------------------------ hot reload

    async def awatch(
        self,
        target: Any,
        *,
        on_reload: ReloadCallback | None = None,
        step_ms: int | None = None,
        debounce_ms: int | None = None,
    ) -> WatchHandle:
        """Hot-reload a file workflow on every save; see :meth:`watch`."""
        from lgp_lab.runtime import reloader

        workflow = await self.aload(target)
        if workflow.source is None:
            raise WorkflowLoadError(
                f"workflow {workflow.name!r} was defined in a notebook; there is no file to watch",
                hint="move it into a .py file and watch that file",
            )
        handle = self._watches.get(workflow.name)
        if handle is None or handle.stopped or handle.workflow is not workflow:
            if handle is not None:
                handle.stop()
            handle = WatchHandle(workflow, asyncio.get_running_loop())
            handle._on_stop.append(lambda h=handle: self._forget_watch(h))
            handle._start(
                reloader.watch_loop(
                    handle,
                    self.areload,
                    step_ms=step_ms or reloader.DEFAULT_STEP_MS,
                    debounce_ms=debounce_ms or reloader.DEFAULT_DEBOUNCE_MS,
                )
            )
            self._watches[workflow.name] = handle
        if on_reload is not None:
            handle.subscribe(on_reload)
        return handle

    def watch(
        self,
        target: Any,
        *,
        on_reload: ReloadCallback | None = None,
        step_ms: int | None = None,
        debounce_ms: int | None = None,
    ) -> WatchHandle:
        """Hot-reload a file workflow (and its local modules) on every save.

        Each good save is imported and compiled completely, then swapped in one
        assignment (the version increments); a broken save leaves the previous version
        live and is reported to ``on_reload`` with file and line. Threads keep their
        checkpoints across versions. Watching a workflow already watched returns the
        same handle (with ``on_reload`` added).

        Returns:
            A handle whose ``stop()`` ends the watch; the watcher is armed on return.
        """
        handle = self._call(
            self.awatch(target, on_reload=on_reload, step_ms=step_ms, debounce_ms=debounce_ms)
        )
        handle.wait_ready()
        return handle

    @property
    def watches(self) -> dict[str, WatchHandle]:
        """Running watches by workflow name."""
        return {name: h for name, h in self._watches.items() if not h.stopped}

    def unwatch(self, target: Any) -> bool:
        """Stop watching a workflow (a name, path or Workflow); False if it was not watched."""
        name = target.name if isinstance(target, Workflow) else str(target)
        handle = self._watches.get(name)
        if handle is None:
            for candidate in self._watches.values():
                if candidate.workflow.source and Path(name).resolve() == candidate.workflow.source:
                    handle = candidate
        if handle is None:
            return False
        handle.stop()
        return True

    def _forget_watch(self, handle: WatchHandle) -> None:
        if self._watches.get(handle.workflow.name) is handle:
            del self._watches[handle.workflow.name]

    # ------------------------------------------------------------------ runs

    async def arun(
        self,
        target: Any,
        input: Any = None,
        *,
        thread_id: str | None = None,
        resume: Any = _UNSET,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RunResult:
        """Run a workflow once on a thread.

        Args:
            target: A workflow file, registered name, graph object or Workflow.
            input: The state input; a string becomes ``{"input": text}``. ``None``
                continues the thread from its last checkpoint.
            thread_id: The thread to continue; a new one is generated when omitted.
            resume: A value for a thread waiting on ``interrupt()``.
            name: The name for a graph object (default ``graph``).
            metadata: Extra checkpoint metadata for this run.

        Raises:
            WorkflowRunError: A node failed; the thread's earlier checkpoints stay.
        """
        from lgp_lab.runtime.runner import execute

        workflow = await self.aload(target, name=name)
        await self.acheckpointer()
        set_current_lab(self)  # this task's context only: nodes find their Lab
        result = await execute(
            workflow,
            self._payload(input, resume),
            thread_id=thread_id,
            environment=self.environment,
            metadata=metadata,
            tracing=await self.atracing(),
        )
        self._notify(result)
        return result

    @staticmethod
    def _payload(input: Any, resume: Any) -> Any:
        from lgp_lab.runtime.runner import normalize_input

        if resume is not _UNSET:
            from langgraph.types import Command

            return Command(resume=resume)
        return normalize_input(input)

    def _notify(self, result: RunResult) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a broken listener must not fail the run
                listener(result)

    async def astream(
        self,
        target: Any,
        input: Any = None,
        *,
        thread_id: str | None = None,
        resume: Any = _UNSET,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """Run like :meth:`arun`, yielding ``("metadata" | "updates" | "end", data)`` events.

        The ``end`` event carries the :class:`RunResult`. Runs on the engine loop.
        """
        from lgp_lab.runtime.runner import stream

        workflow = await self.aload(target, name=name)
        await self.acheckpointer()
        set_current_lab(self)
        payload = self._payload(input, resume)
        result = None
        async for event, data in stream(
            workflow,
            payload,
            thread_id=thread_id,
            environment=self.environment,
            metadata=metadata,
            tracing=await self.atracing(),
        ):
            if event == "end":
                result = data
            yield event, data
        if result is not None:
            self._notify(result)

    def run(
        self,
        target: Any,
        input: Any = None,
        *,
        thread_id: str | None = None,
        resume: Any = _UNSET,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RunResult:
        """Sync twin of :meth:`arun`; Ctrl-C / a kernel interrupt cancels the run."""
        return self._call(
            self.arun(
                target, input, thread_id=thread_id, resume=resume, name=name, metadata=metadata
            )
        )

    async def aresume(self, thread_id: str, value: Any) -> RunResult:
        """Answer a thread waiting on ``interrupt()`` with ``value``; the thread's workflow
        (from its checkpoints) is loaded if needed."""
        from lgp_lab.errors import WorkflowNotFoundError

        info = await self.sessions.athread(thread_id)
        if info is None:
            raise WorkflowNotFoundError(f"thread {thread_id!r} has no checkpoints")
        name = info.workflow
        target: Any = self._workflows.get(name) if name else None
        if target is None:
            if not name:
                raise WorkflowNotFoundError(
                    f"thread {thread_id!r} does not record which workflow wrote it",
                    hint="resume it with lab.run(workflow, thread_id=..., resume=value)",
                )
            target = name
        return await self.arun(target, thread_id=thread_id, resume=value)

    def resume(self, thread_id: str, value: Any) -> RunResult:
        """Sync twin of :meth:`aresume`."""
        return self._call(self.aresume(thread_id, value))

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Stop watchers and servers, close the database and stop the engine loop."""
        if self._closed:
            return
        self._closed = True
        for handle in list(self._watches.values()):
            handle.stop()
        for closer in reversed(self._closers):
            with contextlib.suppress(Exception):
                closer()
        self._closers.clear()
        if self.engine.running:
            with contextlib.suppress(BaseException):
                self.engine.call(self._aclose(), timeout=5.0)
            self.engine.stop()

    async def _aclose(self) -> None:
        if self._mcp is not None:
            await self._mcp.aclose()
        if self._tracing is not None:
            tracing, self._tracing = self._tracing, None
            await tracing.aclose(self.config.observability.langfuse.flush_timeout_s)
        if self._saver is not None:
            from lgp_lab.checkpointing import close_checkpointer

            saver, self._saver, self._store = self._saver, None, None
            await close_checkpointer(saver)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._aclose()
        self._closed = True

    # ------------------------------------------------------------------ private

    def _check_open(self) -> None:
        if self._closed:
            raise LabClosedError(
                "this Lab is closed", hint="create a new Lab() (or lgp_lab.get_lab())"
            )

    def _call(self, coro: Awaitable[T]) -> T:
        if self._closed:
            if hasattr(coro, "close"):
                coro.close()
            self._check_open()
        return self.engine.call(coro)  # type: ignore[arg-type]

    async def _refresh_if_stale(self, workflow: Workflow) -> None:
        """A file changed on disk: reload it, or let its watcher finish first (bounded)."""
        if not workflow.is_stale():
            return
        handle = self._watches.get(workflow.name)
        if workflow.watched and handle is not None:
            await handle.settle()
        else:
            await self.areload(workflow)

    def _loading(self) -> asyncio.Lock:
        if self._load_lock is None:
            self._load_lock = asyncio.Lock()
        return self._load_lock

    async def _load_file(self, target: str) -> Workflow:
        from lgp_lab.runtime.loader import compile_builder, load_source
        from lgp_lab.runtime.registry import resolve_target

        entry = resolve_target(target, self.config.workflows_dir)
        existing = self._workflows.get(entry.name)
        if existing is not None and existing.source == entry.path:
            self._targets[target] = existing
            await self._refresh_if_stale(existing)
            return existing
        saver = await self.acheckpointer()
        async with self._loading():
            source = await asyncio.to_thread(
                load_source, entry.path, name=entry.name, project_root=self.root
            )
            graph = compile_builder(source.builder, saver, source.compile_kwargs, path=entry.path)
        workflow = Workflow(entry.name, entry.path, graph, local_modules=source.local_modules)
        self._workflows[entry.name] = workflow
        self._targets[target] = workflow
        return workflow

    async def _load_object(self, obj: Any, name: str | None) -> Workflow:
        from lgp_lab.runtime.loader import builder_from_object, compile_builder

        builder, kwargs = builder_from_object(obj)
        name = name or "graph"
        existing = self._workflows.get(name)
        if existing is not None and existing.source is None and self._origins.get(name) is builder:
            return existing
        graph = compile_builder(builder, await self.acheckpointer(), kwargs)
        self._origins[name] = builder
        if existing is not None and existing.source is None:
            existing.swap(graph)
            return existing
        workflow = Workflow(name, None, graph)
        self._workflows[name] = workflow
        return workflow


def _warn_stderr(message: str) -> None:
    import sys

    print(f"[lgp] ⚠ {message}", file=sys.stderr, flush=True)


def _close_at_exit(ref: weakref.ReferenceType[Lab]) -> None:
    lab = ref()
    if lab is not None:
        lab.close()
