"""The run tracer the runtime talks to: one object fanning events out to the exporters.

It builds each run's trace (tags, metadata, cost fields), times the nodes, and calls the
console, local-store and Langfuse tracers. An exporter that raises is reported once and
never fails or slows the run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from lgp_lab.observability.cost import CostTracker
from lgp_lab.observability.model import RunTrace, SpanRecord, new_trace_id

__all__ = ["Exporter", "Tracing"]

PLATFORM_TAG = "langgraph-platform"


class Exporter(Protocol):
    """What every trace destination implements."""

    name: str

    def on_run_start(self, run: RunTrace) -> None: ...
    def on_node_start(self, run: RunTrace, span: SpanRecord) -> None: ...
    def on_node_end(self, run: RunTrace, span: SpanRecord) -> None: ...
    def on_child(self, run: RunTrace, span: SpanRecord) -> None: ...
    def on_run_end(self, run: RunTrace) -> None: ...
    async def aclose(self, timeout: float) -> None: ...


class Tracing:
    """Starts, feeds and ends run traces for a set of exporters.

    Args:
        exporters: The destinations (console, local store, Langfuse).
        base_metadata: Metadata every trace carries (runtime_version, repository, ...).
        cost: Produces the cost fields of each invocation.
        warn: Where to report an exporter failure (once per exporter).
    """

    def __init__(
        self,
        exporters: list[Exporter],
        *,
        base_metadata: dict[str, Any],
        cost: CostTracker,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.exporters = exporters
        self._base = base_metadata
        self._cost = cost
        self._warn = warn or (lambda msg: print(f"[lgp] ⚠ {msg}", file=sys.stderr))
        self._broken: set[str] = set()

    def add_exporter(self, exporter: Exporter) -> Callable[[], None]:
        """Also feed ``exporter`` from the next event on (a live view such as the studio);
        returns a function that removes it again. Safe from any thread: the list is
        replaced, never changed in place, so a run fanning out an event is unaffected."""
        self.exporters = [*self.exporters, exporter]

        def remove() -> None:
            self.exporters = [e for e in self.exporters if e is not exporter]

        return remove

    @property
    def wants_tokens(self) -> bool:
        """Whether an exporter shows chat-model tokens live (has ``on_token``); runs then
        relay them (:mod:`lgp_lab.observability.tokens`)."""
        return any(hasattr(e, "on_token") for e in self.exporters)

    def token(self, run: RunTrace, node: str, text: str) -> None:
        """A chat model in ``node`` streamed ``text`` (to the exporters with ``on_token``;
        called on whichever thread the node runs)."""
        self._call("on_token", run, node, text)

    def exporter(self, name: str) -> Any:
        """The exporter called ``name``, or ``None``."""
        return next((e for e in self.exporters if e.name == name), None)

    async def start(
        self, *, workflow: str, version: int, thread_id: str, environment: str, input: Any
    ) -> RunTrace:
        """Begin a run's trace."""
        metadata = {
            "workflow_name": workflow,
            "workflow_version": version,
            "environment": environment,
            "thread_id": thread_id,
            **self._base,
            **await self._cost.next_invocation(),
        }
        run = RunTrace(
            trace_id=new_trace_id(),
            workflow=workflow,
            workflow_version=version,
            thread_id=thread_id,
            environment=environment,
            input=input,
            tags=[PLATFORM_TAG, environment],
            metadata=metadata,
        )
        self._call("on_run_start", run)
        return run

    def node_start(self, run: RunTrace, span_id: str, name: str, input: Any) -> None:
        """A node began."""
        span = SpanRecord(
            span_id=span_id,
            name=name,
            started_at=time.time(),
            input=input,
            perf_start=time.perf_counter(),
        )
        run.spans.append(span)
        self._call("on_node_start", run, span)

    def node_end(self, run: RunTrace, span_id: str, output: Any, error: Any) -> None:
        """A node finished (``error`` set if it raised)."""
        span = run.span(span_id)
        if span is None or span.status != "running":
            return
        span.duration_ms = (time.perf_counter() - span.perf_start) * 1000
        span.output = output
        span.status = "error" if error else "ok"
        span.error = str(error) if error else None
        self._call("on_node_end", run, span)

    def child(self, run: RunTrace, record: Any) -> None:
        """A call inside a node (an LLM generation or a tool span), already finished."""
        span = SpanRecord(
            span_id=f"child-{len(run.spans)}",
            name=record.name,
            started_at=record.started_at,
            input=record.input,
            output=record.output,
            duration_ms=record.duration_ms,
            status="error" if record.error else "ok",
            error=record.error,
            kind=record.kind,
            model=record.model,
            usage=record.usage,
            cost=record.cost,
        )
        run.spans.append(span)
        self._call("on_child", run, span)

    def end(
        self,
        run: RunTrace,
        *,
        status: str,
        output: Any = None,
        error: str | None = None,
        checkpoint_id: str | None = None,
        duration_ms: float | None = None,
    ) -> None:
        """Finish the run's trace and hand it to every exporter."""
        for span in run.spans:
            if span.status == "running" and span.kind == "node":
                self.node_end(run, span.span_id, None, error or "run ended before the node")
        run.status, run.output, run.error = status, output, error
        run.checkpoint_id, run.duration_ms = checkpoint_id, duration_ms
        self._call("on_run_end", run)

    async def aclose(self, timeout: float = 2.0) -> None:
        """Flush every exporter, within ``timeout`` seconds in total."""
        deadline = time.monotonic() + timeout
        for exporter in self.exporters:
            remaining = max(0.05, deadline - time.monotonic())
            try:
                await exporter.aclose(remaining)
            except Exception as exc:
                self._report(exporter.name, exc)

    def _call(self, hook: str, *args: Any) -> None:
        for exporter in self.exporters:  # a snapshot: add_exporter replaces the list
            if exporter.name in self._broken:
                continue
            method = getattr(exporter, hook, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception as exc:  # tracing must never fail a run
                self._report(exporter.name, exc)

    def _report(self, name: str, exc: Exception) -> None:
        if name not in self._broken:
            self._broken.add(name)
            self._warn(f"{name} tracing disabled after an error: {type(exc).__name__}: {exc}")
