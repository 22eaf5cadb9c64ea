"""The Lab's run tracer: built on first use from the observability config, with the
local trace store in the project's database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["TracingMixin"]


class TracingMixin:
    """Tracing for :class:`~lgp_lab.lab.Lab` (opened with its database)."""

    config: Any
    warn: Callable[[str], None]
    _console: bool | None
    _tracing: Any
    _tracing_ready: bool
    acheckpointer: Any
    _ready_lock: Any

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
                from lgp_lab._version import __version__
                from lgp_lab.observability.cost import CostTracker
                from lgp_lab.observability.tracing import Tracing

                cost = CostTracker(self.config.cost.cost_model, self.config.cost.monthly_cost, None)
                metadata = {"runtime_version": __version__, "repository": self.config.repository}
                self._tracing = Tracing([], base_metadata=metadata, cost=cost, warn=self.warn)
        return self._tracing

    async def _build_tracing(self) -> Any:
        from lgp_lab.observability.factory import build_tracing

        local = await self._aopen_trace_store() if self.config.observability.local else None
        return await build_tracing(
            self.config, local=local, console=self._console, warn=lambda m: self.warn(m)
        )

    async def _aopen_trace_store(self) -> Any:
        """The local trace store beside the checkpoints, set up: SQLite on the saver's
        connection and lock, PostgreSQL on its pool."""
        saver = await self.acheckpointer()
        max_length = self.config.observability.max_length
        if self.config.checkpoint.backend == "postgres":
            from lgp_lab.storage.postgres.traces import PostgresTraceStore

            local: Any = PostgresTraceStore(
                saver.conn, max_length=max_length, warn=lambda m: self.warn(m)
            )
        else:
            from lgp_lab.storage.sqlite.traces import LocalTraceStore

            local = LocalTraceStore(
                saver.conn, saver.lock, max_length=max_length, warn=lambda m: self.warn(m)
            )
        await local.setup()
        return local

    async def _atrace_store(self) -> Any:
        tracing = await self.atracing()
        return tracing.exporter("local") if tracing is not None else None
