"""What a tracer records about a run: plain data shared by every exporter."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunTrace", "SpanRecord", "new_trace_id"]


def new_trace_id() -> str:
    """A W3C/OpenTelemetry trace id: 32 lowercase hex characters (what Langfuse uses)."""
    return secrets.token_hex(16)


@dataclass
class SpanRecord:
    """One node execution within a run."""

    span_id: str
    name: str
    started_at: float
    input: Any = None
    output: Any = None
    duration_ms: float | None = None
    status: str = "running"
    error: str | None = None
    perf_start: float = field(default=0.0, repr=False)
    kind: str = "node"
    model: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = None


@dataclass
class RunTrace:
    """One run: its identity, tags, metadata, node spans and outcome."""

    trace_id: str
    workflow: str
    workflow_version: int
    thread_id: str
    environment: str
    input: Any
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    spans: list[SpanRecord] = field(default_factory=list)
    status: str = "running"
    output: Any = None
    error: str | None = None
    checkpoint_id: str | None = None
    duration_ms: float | None = None
    langfuse_url: str | None = None
    # Exporter-private state (e.g. open Langfuse observations), never exported.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def span(self, span_id: str) -> SpanRecord | None:
        """The span with ``span_id``."""
        for span in reversed(self.spans):
            if span.span_id == span_id:
                return span
        return None
