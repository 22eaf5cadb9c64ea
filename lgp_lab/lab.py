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
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lgp_lab._lab_engine import EngineCallsMixin
from lgp_lab._lab_resources import SHUTDOWN_BUDGET_S, ResourcesMixin
from lgp_lab._lab_runs import RunListener, WorkflowRunsMixin
from lgp_lab._lab_tracing import TracingMixin
from lgp_lab._lab_watch import WatchMixin
from lgp_lab.config import LabConfig, load_config
from lgp_lab.runtime.engine import EngineLoop
from lgp_lab.runtime.reloader import WatchHandle
from lgp_lab.runtime.retention import Retention
from lgp_lab.runtime.runs import Runs
from lgp_lab.runtime.sessions import Sessions
from lgp_lab.runtime.threads import ThreadRecords
from lgp_lab.runtime.traces import Traces
from lgp_lab.runtime.workflow import Workflow
from lgp_lab.runtime.workflows import WorkflowSet

__all__ = ["Lab", "RunListener"]

T = TypeVar("T")


# Each concept that grew inside the Lab is a mixin of its own module: runs, tracing,
# resources (opening and closing), hot reload, reaching the engine loop. The Lab keeps
# its state (set up here) and the workflows, and ties the rest together.
class Lab(WorkflowRunsMixin, TracingMixin, ResourcesMixin, WatchMixin, EngineCallsMixin):
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

    # ------------------------------------------------------------------ lifecycle

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the Lab closes (watchers and servers register here)."""
        self._closers.append(callback)

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
                self.engine.call(self._ashutdown(), timeout=SHUTDOWN_BUDGET_S)
            self.engine.stop()

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
