"""Build the run tracer a config asks for: console, local store, Langfuse."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lgp_lab.observability.tracing import Tracing

__all__ = ["build_tracing"]


async def build_tracing(
    config: Any,
    *,
    local: Any = None,
    console: bool | None = None,
    warn: Callable[[str], None],
) -> Tracing | None:
    """The tracer for ``config`` (``None`` when every exporter is off).

    Args:
        config: The Lab's configuration.
        local: The local trace store, set up (the storage backend's, which the Lab
            opens beside its checkpoints), or ``None`` for none.
        console: Overrides ``observability.console`` (notebooks pass False).
        warn: Where exporter problems are reported.
    """
    from lgp_lab._version import __version__
    from lgp_lab.observability.cost import CostTracker

    obs = config.observability
    exporters: list[Any] = []
    if config.console_traces if console is None else console:
        from lgp_lab.observability.console import ConsoleTracer

        exporters.append(ConsoleTracer())
    if local is not None:
        exporters.append(local)
    langfuse = config.langfuse_settings()
    if langfuse is not None:
        from lgp_lab.observability.langfuse_exporter import LangfuseTracer

        # In a thread: importing the SDK (OpenTelemetry, numpy, ...) and starting its
        # client takes half a second, which must not stall the engine loop's other runs.
        tracer = await asyncio.to_thread(
            LangfuseTracer,
            **langfuse,
            environment=config.environment,
            max_length=obs.max_length,
            flush_timeout=obs.langfuse.flush_timeout_s,
            warn=warn,
        )
        exporters.append(tracer)
    if not exporters:
        return None
    cost = CostTracker(
        config.cost.cost_model,
        config.cost.monthly_cost,
        local.count_since if local is not None else None,
    )
    return Tracing(
        exporters,
        base_metadata={"runtime_version": __version__, "repository": config.repository},
        cost=cost,
        warn=warn,
    )
