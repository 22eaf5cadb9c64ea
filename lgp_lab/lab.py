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
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from lgp_lab._lab_engine import EngineCallsMixin
from lgp_lab._lab_watch import WatchMixin
from lgp_lab.config import LabConfig, load_config
from lgp_lab.errors import WorkflowInputError
from lgp_lab.run_context import set_current_lab
from lgp_lab.runtime.engine import EngineLoop
from lgp_lab.runtime.reloader import WatchHandle
from lgp_lab.runtime.result import RunResult
from lgp_lab.runtime.retention import Retention
from lgp_lab.runtime.runs import Runs
from lgp_lab.runtime.sessions import Sessions
from lgp_lab.runtime.threads import ThreadRecords
from lgp_lab.runtime.traces import Traces
from lgp_lab.runtime.workflow import Workflow
from lgp_lab.runtime.workflows import WorkflowSet

__all__ = ["Lab", "RunListener"]

T = TypeVar("T")
_UNSET: Any = object()
RunListener = Callable[[RunResult], None]


class Lab(WatchMixin, EngineCallsMixin):
    """Runs LangGraph workflows on persistent threads.

    Args:
        config: A loaded configuration; by default the project's around ``root``.
        env: Environment name (``config/<env>.yaml``); default ``$LGP_ENV`` or experiment.
        root: Where to look for the project; default the working directory.
        console: Print a line per node (overrides ``observability.console``); notebooks
            pass False because the result display shows the run.
        loop_factory: Makes the engine loop (default: asyncio's). ``lgp-lab serve``
            passes uvloop's when it is installed, as uvicorn does.

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
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    ) -> None:
        start = Path(root) if root is not None else None
        self.config = config or load_config(env, start)
        self.project = _find_project(self.config, start)
        self._console = console
        self.engine = EngineLoop(loop_factory=loop_factory)
        self._saver: Any = None
        self._store: Any = None
        self._lazy_store: Any = None
        self._session_store: Any = None
        self._ready: asyncio.Lock | None = None
        self._listeners: list[RunListener] = []
        self._watches: dict[str, WatchHandle] = {}
        self._closers: list[Callable[[], None]] = []
        self._runs: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._tracing: Any = None
        self._mcp: Any = None
        self._tracing_ready = False
        self.warn: Callable[[str], None] = _warn_stderr
        self._workflows = WorkflowSet(
            self.config,
            self.project,
            checkpointer=self.acheckpointer,
            store=self._agraph_store,
            warn=lambda message: self.warn(message),
            settle=self._settle,
        )
        self.sessions = Sessions(
            self._asession_store, self.acheckpointer, self._call, workflow=self._workflows.get
        )
        # Threads as the Agent Server API sees them (metadata, status), beside checkpoints.
        self.thread_records = ThreadRecords(self.acheckpointer, self.sessions, self._call)
        # Agent Server runs: background, one active run per thread (lgp_lab.runtime.runs).
        self.runs = Runs(self)
        # Deleting a thread anywhere (sessions, widgets, /sessions, the SDK) also cancels
        # its runs and drops its record.
        self.sessions.on_delete(self.runs.adelete_thread)
        self.sessions.on_delete(self.thread_records.aforget)
        self.traces = Traces(self._atrace_store, self._call)
        # Pruning, and the TTL sweeper started with the database (lgp_lab.runtime.retention).
        self.retention = Retention(self)
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
        return self._workflows.snapshot()

    def project_graphs(self) -> dict[str, str]:
        """Every workflow the project declares, name -> description: the graphs of its
        ``langgraph.json`` and the entries of ``workflows/config.yaml``.

        Raises:
            ConfigError: One name is declared twice for different files.
        """
        return {name: e.description for name, e in self._workflows.declared().items()}

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
                    from lgp_lab.storage import create_checkpointer

                    self.retention.start()  # a malformed TTL fails before anything opens
                    self._saver = await create_checkpointer(self.config)
        return self._saver

    async def astore(self) -> Any:
        """The persistent LangGraph store (``BaseStore``) every workflow is given.

        Nodes reach it as a ``store`` parameter, ``runtime.store`` or ``get_store()``;
        items persist in the project's database (the SQLite file, or PostgreSQL with
        ``checkpoint.backend: postgres``) across runs and processes.
        """
        if self._store is None:
            saver = await self.acheckpointer()
            async with self._ready_lock():
                if self._store is None and self.config.checkpoint.backend == "postgres":
                    self._check_open()
                    from lgp_lab.storage.postgres.checkpoints import open_postgres_store

                    self._store = await open_postgres_store(
                        saver,
                        settings=self.project.store if self.project else None,
                        project_root=self.project.root if self.project else self.root,
                        warn=self.warn,
                    )
                if self._store is None:
                    self._check_open()
                    from lgp_lab.storage.store import open_sqlite_store

                    self._store = await open_sqlite_store(
                        self.config.checkpoint_path,
                        settings=self.project.store if self.project else None,
                        busy_timeout_ms=self.config.checkpoint.busy_timeout_ms,
                        project_root=self.project.root if self.project else self.root,
                        warn=self.warn,
                    )
        return self._store

    @property
    def store(self) -> Any:
        """Sync access to :meth:`astore` (opened on first use)."""
        return self._call(self.astore())

    async def _agraph_store(self) -> Any:
        """The store workflows are compiled with: the real one when it is open or
        ``langgraph.json`` configures it (index, TTL: their errors show at load), else a
        :class:`~lgp_lab.storage.lazy_store.LazyStore` that opens it on first use
        (opening imports numpy and sets up tables: not before a node needs it)."""
        if self._store is not None or (self.project is not None and self.project.store):
            return await self.astore()
        if self._lazy_store is None:
            from lgp_lab.storage.lazy_store import LazyStore

            self._lazy_store = LazyStore(self.astore, self._call, self._on_engine)
        return self._lazy_store

    async def _asession_store(self) -> Any:
        if self._session_store is None:
            from lgp_lab.storage import session_store_for

            self._session_store = session_store_for(await self.acheckpointer())
        return self._session_store

    async def atracing(self) -> Any:
        """The run tracer per the observability config (built on first use), or ``None``."""
        if not self._tracing_ready:
            await self.acheckpointer()
            async with self._ready_lock():
                if not self._tracing_ready:
                    self._tracing = await self._build_tracing()
                    self._tracing_ready = True
        return self._tracing

    async def awatched_tracing(self) -> Any:
        """The run tracer for something that watches runs (``/metrics``, the anomaly
        watch, the studio's live view): as :meth:`atracing`, but when every trace
        exporter is off it is made with none, so runs still tell their watchers. Runs
        pay for the tracer only once something watches them."""
        tracing = await self.atracing()
        if tracing is not None:
            return tracing
        async with self._ready_lock():
            if self._tracing is None:
                from lgp_lab import __version__
                from lgp_lab.observability.cost import CostTracker
                from lgp_lab.observability.tracing import Tracing

                cost = CostTracker(self.config.cost.cost_model, self.config.cost.monthly_cost, None)
                metadata = {"runtime_version": __version__, "repository": self.config.repository}
                self._tracing = Tracing([], base_metadata=metadata, cost=cost, warn=self.warn)
        return self._tracing

    async def _build_tracing(self) -> Any:
        from lgp_lab.observability.factory import build_tracing

        saver = await self.acheckpointer() if self.config.observability.local else None
        if saver is not None and self.config.checkpoint.backend == "postgres":
            return await self._build_postgres_tracing(saver)
        return await build_tracing(
            self.config,
            conn=getattr(saver, "conn", None),
            lock=getattr(saver, "lock", None),
            console=self._console,
            warn=lambda message: self.warn(message),
        )

    async def _build_postgres_tracing(self, saver: Any) -> Any:
        """Tracing with the local trace store in PostgreSQL, on the saver's pool."""
        from lgp_lab import __version__
        from lgp_lab.observability.cost import CostTracker
        from lgp_lab.observability.factory import build_tracing
        from lgp_lab.observability.tracing import Tracing
        from lgp_lab.storage.postgres.traces import PostgresTraceStore

        local = PostgresTraceStore(
            saver.conn,
            max_length=self.config.observability.max_length,
            warn=lambda message: self.warn(message),
        )
        await local.setup()
        # build_tracing makes the SQLite store only; until it takes a ready trace store
        # (requested), the Postgres one joins the other exporters here.
        tracing = await build_tracing(
            self.config, console=self._console, warn=lambda message: self.warn(message)
        )
        if tracing is None:
            cost = CostTracker(
                self.config.cost.cost_model, self.config.cost.monthly_cost, local.count_since
            )
            metadata = {"runtime_version": __version__, "repository": self.config.repository}
            return Tracing([local], base_metadata=metadata, cost=cost, warn=self.warn)
        tracing.add_exporter(local)
        return tracing

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
        """Load a workflow: a ``.py`` path (``path.py:attr`` names the graph), a
        ``langgraph.json`` graph id or path, a ``workflows/config.yaml`` name, a graph
        object (StateGraph, compiled graph, ``@entrypoint``, graph factory) or a Workflow.

        A file already loaded is reused, and reloaded if it changed on disk since.

        Raises:
            WorkflowNotFoundError: The target names nothing.
            WorkflowLoadError: The file does not import or holds no usable graph.
        """
        self._check_open()
        if not self._on_engine():
            return await self._hop(self.aload(target, name=name))
        return await self._workflows.aload(target, name=name)

    def load(self, target: Any, *, name: str | None = None) -> Workflow:
        """Sync twin of :meth:`aload`."""
        return self._call(self.aload(target, name=name))

    async def areload(self, workflow: Workflow | str) -> int:
        """Re-import a file workflow fresh and swap its graph in; return the new version.

        The new graph is built and compiled completely before the swap; on any error
        the previous version stays live and the error (with file and line) is raised.
        """
        if not self._on_engine():
            return await self._hop(self.areload(workflow))
        wf = self._workflows.get(workflow) if isinstance(workflow, str) else workflow
        if wf is None:
            from lgp_lab.errors import WorkflowNotFoundError

            raise WorkflowNotFoundError(f"workflow {workflow!r} is not loaded")
        return await self._workflows.areload(wf)

    def reload(self, workflow: Workflow | str) -> int:
        """Sync twin of :meth:`areload`."""
        return self._call(self.areload(workflow))

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
        context: Any = None,
        config: dict[str, Any] | None = None,
    ) -> RunResult:
        """Run a workflow once on a thread.

        Args:
            target: A workflow file (``path.py[:attr]``), a ``langgraph.json`` graph id,
                a registered name, a graph object or a Workflow.
            input: What ``graph.ainvoke`` takes: a (partial) state dict, chat messages as
                dicts, tuples, strings or objects. Plain text becomes a user message on a
                chat graph (else the state's text key). ``None`` continues the thread
                from its last checkpoint; on a new (or empty) thread a default that fits
                the graph is used (:func:`lgp_lab.runtime.inputs.default_input`).
            thread_id: The thread to continue; a new one is generated when omitted.
            resume: A value for a thread waiting on ``interrupt()``.
            name: The name for a graph object (default: its own name, or ``graph``).
            metadata: Extra checkpoint metadata for this run.
            context: The run's context (``context_schema`` / ``Runtime[Ctx]``): a dict or
                an instance. ``None`` builds the schema from its defaults when it can.
            config: A RunnableConfig: ``configurable`` values, ``tags``, ``metadata``,
                ``recursion_limit``, ``run_name``, ``max_concurrency``. The thread id is
                the Lab's (pass ``thread_id``).

        Raises:
            WorkflowInputError: The input, context or config does not fit (nothing ran).
            WorkflowRunError: A node failed; the thread's earlier checkpoints stay.
        """
        if not self._on_engine():
            return await self._hop(
                self.arun(
                    target, input, thread_id=thread_id, resume=resume, name=name,
                    metadata=metadata, context=context, config=config,
                )
            )  # fmt: skip
        from lgp_lab.runtime.runner import execute

        workflow, payload, run_kwargs = await self._prepare_run(
            target, input, thread_id, resume, name, context, config
        )
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
        try:
            # One run at a time per thread, queued with the Agent API's runs: concurrent
            # runs on a thread never fork it.
            async with self.runs.exclusive(thread_id):
                result = await execute(workflow, payload, **run_kwargs, metadata=metadata)
        finally:
            if task is not None:
                self._runs.discard(task)
        self._notify(result)
        return result

    async def _prepare_run(
        self,
        target: Any,
        input: Any,
        thread_id: str | None,
        resume: Any,
        name: str | None,
        context: Any,
        config: dict[str, Any] | None,
    ) -> tuple[Workflow, Any, dict[str, Any]]:
        from lgp_lab.runtime.inputs import check_run_config

        workflow = await self.aload(target, name=name)
        user_config = check_run_config(config)
        await self.acheckpointer()
        set_current_lab(self)  # this task's context only: nodes find their Lab
        if resume is not _UNSET:
            from langgraph.types import Command

            if resume is None:
                raise WorkflowInputError(
                    "resume needs a value: None means 'no answer' to LangGraph",
                    hint='answer the interrupt with a value, e.g. "yes" or {"approved": true}',
                )
            payload: Any = Command(resume=resume)
        elif input is None and (thread_id is None or not await self._thread_exists(thread_id)):
            payload = await self.adefault_input(workflow)  # nothing to continue
        else:
            payload = input
        return (
            workflow,
            payload,
            {
                "thread_id": thread_id,
                "environment": self.environment,
                "tracing": await self.atracing(),
                "context": context,
                "config": user_config,
            },
        )

    async def _thread_exists(self, thread_id: str) -> bool:
        saver = await self.acheckpointer()
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        return await saver.aget_tuple(config) is not None

    async def adefault_input(self, target: Any) -> Any:
        """The input a run of ``target`` uses when none is given (fits its state)."""
        from lgp_lab.runtime.inputs import default_input
        from lgp_lab.runtime.loader import GraphFactory

        workflow = await self.aload(target)
        graph = workflow.graph
        if isinstance(graph, GraphFactory):
            graph = await graph.asample()
        return default_input(graph)

    def default_input(self, target: Any) -> Any:
        """Sync twin of :meth:`adefault_input`."""
        return self._call(self.adefault_input(target))

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
        context: Any = None,
        config: dict[str, Any] | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """Run like :meth:`arun`, yielding ``("metadata" | "updates" | "end", data)`` events.

        The ``end`` event carries the :class:`RunResult`. Runs on the engine loop (from
        another loop, events are relayed across).
        """
        kwargs = {
            "thread_id": thread_id, "resume": resume, "name": name, "metadata": metadata,
            "context": context, "config": config,
        }  # fmt: skip
        if not self._on_engine():
            async for item in self._hop_stream(self.astream(target, input, **kwargs)):
                yield item
            return
        from lgp_lab.runtime.runner import stream

        workflow, payload, run_kwargs = await self._prepare_run(
            target, input, thread_id, resume, name, context, config
        )
        result = None
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
        try:
            async with self.runs.exclusive(thread_id):
                async for event, data in stream(workflow, payload, **run_kwargs, metadata=metadata):
                    if event == "end":
                        result = data
                    yield event, data
        finally:
            if task is not None:
                self._runs.discard(task)
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
        context: Any = None,
        config: dict[str, Any] | None = None,
    ) -> RunResult:
        """Sync twin of :meth:`arun`; Ctrl-C / a kernel interrupt cancels the run."""
        return self._call(
            self.arun(
                target, input, thread_id=thread_id, resume=resume, name=name,
                metadata=metadata, context=context, config=config,
            )
        )  # fmt: skip

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
        """Shut down like uvicorn, each step with its own time bound: stop accepting
        (watchers, servers), cancel in-flight runs, flush traces, close adapters (MCP),
        close the store and the database last, then stop the engine loop."""
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
            if self._on_engine():
                # Called from a node or callback on the engine loop: cannot block it.
                self.engine.loop.create_task(self._ashutdown())
                return
            with contextlib.suppress(BaseException):
                self.engine.call(self._ashutdown(), timeout=_SHUTDOWN_BUDGET_S)
            self.engine.stop()

    async def _ashutdown(self) -> None:
        """The shutdown steps, in order, on the engine loop; each bounded on its own."""
        await _bounded(self.runs.aclose(_RUNS_BOUND_S), _RUNS_BOUND_S + 1.0, "runs", self.warn)
        await _bounded(self.retention.aclose(), _ADAPTER_BOUND_S, "TTL sweeper", self.warn)
        runs = [t for t in self._runs if not t.done() and t is not asyncio.current_task()]
        for task in runs:
            task.cancel()
        if runs:
            await asyncio.wait(runs, timeout=_RUNS_BOUND_S)
        if self._tracing is not None:
            tracing, self._tracing = self._tracing, None
            timeout = self.config.observability.langfuse.flush_timeout_s
            await _bounded(tracing.aclose(timeout), timeout + 1.0, "trace flush", self.warn)
        if self._mcp is not None:
            mcp, self._mcp = self._mcp, None
            await _bounded(mcp.aclose(), _ADAPTER_BOUND_S, "MCP sessions", self.warn)
        if self._store is not None:
            from lgp_lab.storage.store import close_store

            store, self._store = self._store, None
            await _bounded(close_store(store), _DB_BOUND_S, "store", self.warn)
        if self._saver is not None:
            from lgp_lab.storage import close_checkpointer

            saver, self._saver, self._session_store = self._saver, None, None
            await _bounded(close_checkpointer(saver), _DB_BOUND_S, "checkpointer", self.warn)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(self, *exc: object) -> None:
        """The same as :meth:`close`, without blocking the caller's event loop."""
        if self._on_engine():
            self.close()
        else:
            await asyncio.to_thread(self.close)


_SHUTDOWN_BUDGET_S = 15.0
_RUNS_BOUND_S = 2.0
_ADAPTER_BOUND_S = 3.0
_DB_BOUND_S = 2.0


async def _bounded(coro: Any, timeout: float, what: str, warn: Callable[[str], None]) -> None:
    """Run one shutdown step; a step that fails or overruns is reported, not fatal."""
    try:
        await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        warn(f"closing the {what} took over {timeout:.0f}s; skipped")
    except Exception as exc:
        warn(f"closing the {what} failed: {type(exc).__name__}: {exc}")


def _find_project(config: LabConfig, start: Path | None) -> Any:
    """The project's ``langgraph.json`` (found from the config root or ``start``), and
    anchor a config that found no project of its own at the langgraph.json folder."""
    from lgp_lab.config import find_project_root
    from lgp_lab.runtime.project import find_project_file, read_project

    file = find_project_file(config.root) or find_project_file(start)
    if file is None:
        return None
    project = read_project(file)
    if config.source is None and find_project_root(start) is None:
        config.with_root(project.root)
    return project


def _warn_stderr(message: str) -> None:
    import sys

    print(f"[lgp] ⚠ {message}", file=sys.stderr, flush=True)


def _close_at_exit(ref: weakref.ReferenceType[Lab]) -> None:
    lab = ref()
    if lab is not None:
        lab.close()
