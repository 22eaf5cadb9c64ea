"""Runs as they happen, for the studio: a trace exporter that turns the tracer's events
(run start, node start/end, LLM and tool calls, run end) into small JSON events.

The tracer calls every exporter for every run of the Lab — ``%lgp_run``, the HTTP API,
the SDK, the studio's own runs — so the studio sees them all without polling, chat-model
tokens included (``on_token``: runs relay them while a studio is open). The
exporter holds the studio weakly: a studio that is closed or collected stops receiving
events, and the exporter removes itself from the tracer on the next event.
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections.abc import Callable
from typing import Any

from lgp_lab.jsonable import to_jsonable
from lgp_lab.widgets._studio_json import Limits, preview

__all__ = ["LiveEvent", "LiveExporter"]

LiveEvent = dict[str, Any]
# Step updates in the live feed are glimpses; the full state is one click away.
_UPDATE_LIMITS = Limits(max_string=160, max_items=12, max_depth=3)
_ids = itertools.count(1)


class LiveExporter:
    """An :class:`~lgp_lab.observability.tracing.Exporter` that forwards events to
    ``sink(event)`` (a studio's bound method), called on the engine loop's thread.

    Args:
        sink: A bound method; held weakly.
        accept: Which runs to forward, by workflow name (``None``: every run).
    """

    def __init__(self, sink: Callable[[LiveEvent], None], accept: Callable[[str], bool]) -> None:
        self.name = f"studio-live-{next(_ids)}"
        self._sink = weakref.WeakMethod(sink)
        self._accept = accept
        self._remove: Callable[[], None] | None = None

    def attach(self, tracing: Any) -> None:
        """Start receiving ``tracing``'s events."""
        self._remove = tracing.add_exporter(self)

    def detach(self) -> None:
        """Stop receiving events (idempotent)."""
        remove, self._remove = self._remove, None
        if remove is not None:
            remove()

    # ------------------------------------------------------------------ Exporter

    def on_run_start(self, run: Any) -> None:
        self._emit(run, {"type": "run_start", "input": _glimpse(run.input)})

    def on_node_start(self, run: Any, span: Any) -> None:
        self._emit(run, {"type": "node_start", "node": span.name, "span_id": span.span_id})

    def on_node_end(self, run: Any, span: Any) -> None:
        self._emit(
            run,
            {
                "type": "node_end",
                "node": span.name,
                "span_id": span.span_id,
                "status": span.status,
                "error": span.error,
                "duration_ms": span.duration_ms,
                "update": _glimpse(span.output),
            },
        )

    def on_child(self, run: Any, span: Any) -> None:
        self._emit(
            run,
            {
                "type": "call",
                "kind": span.kind,
                "name": span.name,
                "model": span.model,
                "duration_ms": span.duration_ms,
                "status": span.status,
                "usage": dict(span.usage or {}),
                "output": _glimpse(span.output),
            },
        )

    def on_token(self, run: Any, node: str, text: str) -> None:
        # On the thread the node runs on (a sync node's worker thread included).
        self._emit(run, {"type": "tokens", "tokens": {node: text}})

    def on_run_end(self, run: Any) -> None:
        self._emit(
            run,
            {
                "type": "run_end",
                "status": run.status,
                "error": run.error,
                "duration_ms": run.duration_ms,
                "checkpoint_id": run.checkpoint_id,
                "trace_url": run.langfuse_url,
            },
        )

    async def aclose(self, timeout: float) -> None:
        self.detach()

    # ------------------------------------------------------------------ private

    def _emit(self, run: Any, event: LiveEvent) -> None:
        sink = self._sink()
        if sink is None:
            self.detach()
            return
        if not self._accept(run.workflow):
            return
        event.update(
            trace_id=run.trace_id,
            thread_id=run.thread_id,
            workflow=run.workflow,
            version=run.workflow_version,
            at=time.time(),
            perf=time.perf_counter(),
        )
        sink(event)


def _glimpse(value: Any) -> Any:
    try:
        return preview(to_jsonable(value), _UPDATE_LIMITS)
    except Exception:  # a display must never fail a run
        return repr(value)[:160]
