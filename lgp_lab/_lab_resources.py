"""The Lab's resources: the database (checkpointer), the store, the session store and
the MCP sessions, each opened on first use, and the ordered shutdown that closes them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["SHUTDOWN_BUDGET_S", "ResourcesMixin"]

# The whole of Lab.close; each step below has its own, smaller bound.
SHUTDOWN_BUDGET_S = 15.0
_RUNS_BOUND_S = 2.0
_ADAPTER_BOUND_S = 3.0
_DB_BOUND_S = 2.0


class ResourcesMixin:
    """Opening and closing the resources of :class:`~lgp_lab.lab.Lab`.

    Each resource is opened on the engine loop on first use, under one lock so that
    concurrent first uses open it once; nothing is opened by merely creating a Lab.
    """

    config: Any
    project: Any
    root: Any
    retention: Any
    runs: Any
    warn: Callable[[str], None]
    _saver: Any
    _store: Any
    _lazy_store: Any
    _session_store: Any
    _ready: asyncio.Lock | None
    _runs: set[asyncio.Task[Any]]
    _tracing: Any
    _mcp: Any
    _call: Any
    _check_open: Any
    _on_engine: Any

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

    async def abackend(self) -> Any:
        """The database's stores (:class:`lgp_lab.storage.Backend`: ``threads``,
        ``runs``, ``assistants``, ``sessions``) beside the checkpointer, opened on first
        use."""
        from lgp_lab.storage import backend_for

        return backend_for(await self.acheckpointer())

    async def _asession_store(self) -> Any:
        if self._session_store is None:
            self._session_store = (await self.abackend()).sessions
        return self._session_store

    @property
    def mcp(self) -> Any:
        """The Lab's MCP client sessions (``mcp.servers`` in the config), started lazily."""
        if self._mcp is None:
            from lgp_lab.agents.mcp_client import McpSessions

            self._mcp = McpSessions(self.config)
        return self._mcp

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


async def _bounded(coro: Any, timeout: float, what: str, warn: Callable[[str], None]) -> None:
    """Run one shutdown step; a step that fails or overruns is reported, not fatal."""
    try:
        await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        warn(f"closing the {what} took over {timeout:.0f}s; skipped")
    except Exception as exc:
        warn(f"closing the {what} failed: {type(exc).__name__}: {exc}")
