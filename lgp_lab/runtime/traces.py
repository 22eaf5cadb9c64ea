"""Traces: the local trace store's runs and their node spans, for every front end."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SpanInfo", "TraceInfo", "Traces"]


@dataclass(frozen=True)
class SpanInfo:
    """One node execution of a traced run (inputs and outputs sanitized)."""

    span_id: str
    name: str
    started_at: dt.datetime | None
    duration_ms: float | None
    status: str
    error: str | None
    input: Any = None
    output: Any = None
    kind: str = "node"
    model: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = None


@dataclass(frozen=True)
class TraceInfo:
    """One traced run: identity, outcome, tags, metadata (with cost fields), spans."""

    trace_id: str
    workflow: str
    workflow_version: int | None
    thread_id: str | None
    checkpoint_id: str | None
    environment: str | None
    status: str
    error: str | None
    started_at: dt.datetime
    duration_ms: float | None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    langfuse_url: str | None = None
    input: Any = None
    output: Any = None
    spans: list[SpanInfo] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        from dataclasses import asdict

        data = asdict(self)
        data["started_at"] = self.started_at.isoformat().replace("+00:00", "Z")
        for span in data["spans"]:
            if span["started_at"] is not None:
                span["started_at"] = span["started_at"].isoformat().replace("+00:00", "Z")
        return data


class Traces:
    """Queries over the local trace store; ``a``-prefixed methods are the async twins."""

    def __init__(
        self,
        get_store: Callable[[], Awaitable[Any]],
        call: Callable[[Awaitable[Any]], Any],
    ) -> None:
        self._get_store = get_store
        self._call = call

    async def alist(
        self,
        workflow: str | None = None,
        *,
        thread_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[TraceInfo]:
        """Recent traces, newest first (no payloads or spans)."""
        store = await self._get_store()
        if store is None:
            return []
        rows = await store.list_traces(
            workflow=workflow, thread_id=thread_id, limit=limit, offset=offset
        )
        return [_trace(r) for r in rows]

    async def aget(self, trace_id: str) -> TraceInfo | None:
        """One trace with payloads and spans, or ``None``."""
        store = await self._get_store()
        row = await store.get_trace(trace_id) if store is not None else None
        return _trace(row) if row else None

    def list(
        self,
        workflow: str | None = None,
        *,
        thread_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[TraceInfo]:
        """Sync twin of :meth:`alist`."""
        return self._call(self.alist(workflow, thread_id=thread_id, limit=limit, offset=offset))

    def get(self, trace_id: str) -> TraceInfo | None:
        """Sync twin of :meth:`aget`."""
        return self._call(self.aget(trace_id))


def _time(value: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(value, tz=dt.UTC) if value is not None else None


def _trace(row: dict[str, Any]) -> TraceInfo:
    spans = [
        SpanInfo(
            span_id=s["span_id"],
            name=s["name"],
            started_at=_time(s["started_at"]),
            duration_ms=s["duration_ms"],
            status=s["status"],
            error=s["error"],
            input=s["input"],
            output=s["output"],
            kind=s.get("kind") or "node",
            model=s.get("model"),
            usage=s.get("usage") or {},
            cost=s.get("cost"),
        )
        for s in row.get("spans", [])
    ]
    return TraceInfo(
        trace_id=row["trace_id"],
        workflow=row["workflow"],
        workflow_version=row["workflow_version"],
        thread_id=row["thread_id"],
        checkpoint_id=row["checkpoint_id"],
        environment=row["environment"],
        status=row["status"],
        error=row["error"],
        started_at=_time(row["started_at"]) or dt.datetime.now(dt.UTC),
        duration_ms=row["duration_ms"],
        tags=row["tags"],
        metadata=row["metadata"],
        langfuse_url=row["langfuse_url"],
        input=row.get("input"),
        output=row.get("output"),
        spans=spans,
    )
