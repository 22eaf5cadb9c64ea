"""The local trace store: traces and spans as tables in the project's SQLite file.

Finished runs are queued and written in batches by a background task, one transaction
per batch, so a run pays almost nothing for its trace and checkpoint writes are not held
up behind trace writes. Reads flush the queue first, so a trace is visible as soon as
its run returns.

The connection is shared with the checkpointer, so a trace write never leaves a
transaction open behind it: a failed batch is rolled back before the lock is released
(else the next checkpoint commit would commit half a batch), its runs are retried one
by one a bounded number of times, and a run that still cannot be written is dropped
with one warning the user sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

from lgp_lab.jsonable import json_bytes
from lgp_lab.observability.model import RunTrace, SpanRecord
from lgp_lab.observability.sanitize import sanitize_for_dashboard

__all__ = ["LocalTraceStore"]

log = logging.getLogger("lgp_lab.observability")

BATCH_DELAY_S = 0.05
MAX_ATTEMPTS = 3  # per run: a failing trace write is retried, then dropped with a warning

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lgp_traces (
    trace_id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    workflow_version INTEGER,
    thread_id TEXT,
    checkpoint_id TEXT,
    environment TEXT,
    status TEXT,
    error TEXT,
    started_at REAL NOT NULL,
    duration_ms REAL,
    tags TEXT,
    metadata TEXT,
    input TEXT,
    output TEXT,
    langfuse_url TEXT
);
CREATE INDEX IF NOT EXISTS lgp_traces_started ON lgp_traces (started_at);
CREATE INDEX IF NOT EXISTS lgp_traces_thread ON lgp_traces (thread_id, started_at);
CREATE INDEX IF NOT EXISTS lgp_traces_workflow ON lgp_traces (workflow, started_at);
CREATE TABLE IF NOT EXISTS lgp_spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    started_at REAL,
    duration_ms REAL,
    status TEXT,
    error TEXT,
    input TEXT,
    output TEXT,
    kind TEXT NOT NULL DEFAULT 'node',
    model TEXT,
    usage TEXT,
    cost REAL,
    PRIMARY KEY (trace_id, seq)
);
"""

_SPAN_COLUMNS_ADDED = (
    ("kind", "TEXT NOT NULL DEFAULT 'node'"),
    ("model", "TEXT"),
    ("usage", "TEXT"),
    ("cost", "REAL"),
)

_COLUMNS = (
    "trace_id, workflow, workflow_version, thread_id, checkpoint_id, environment, status, "
    "error, started_at, duration_ms, tags, metadata, input, output, langfuse_url"
)


class LocalTraceStore:
    """Traces in SQLite, on the Lab's checkpoint connection (one writer per process).

    Args:
        conn: The ``aiosqlite`` connection of the checkpointer.
        lock: The lock that serializes use of that connection.
        max_length: Passed to :func:`sanitize_for_dashboard` for stored payloads.
    """

    name = "local"

    def __init__(
        self,
        conn: Any,
        lock: asyncio.Lock,
        *,
        max_length: int = 2000,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self._conn = conn
        self._lock = lock
        self._max_length = max_length
        self._warn = warn
        self._queue: list[RunTrace] = []
        self._attempts: dict[str, int] = {}
        self._writer: asyncio.Task[None] | None = None
        self._ready = False
        self.last_error: Exception | None = None
        self.dropped = 0
        # Set by aflush: a batch waiting for company is written now (no one else is
        # coming when the Lab closes; this was ~50 ms of every CLI exit).
        self._flush_now: asyncio.Event | None = None

    async def setup(self) -> None:
        """Create the tables if needed."""
        if self._ready:
            return
        async with self._lock:
            await self._conn.executescript(_SCHEMA)
            # Files written by an earlier lgp_lab lack the newer span columns: add them.
            async with self._conn.execute("PRAGMA table_info(lgp_spans)") as cur:
                have = {row[1] for row in await cur.fetchall()}
            for column, decl in _SPAN_COLUMNS_ADDED:
                if column not in have:
                    await self._conn.execute(f"ALTER TABLE lgp_spans ADD COLUMN {column} {decl}")
            await self._conn.commit()
        self._ready = True

    # ------------------------------------------------------------------ tracer hooks

    def on_run_start(self, run: RunTrace) -> None:
        """Recorded at the end."""

    def on_node_start(self, run: RunTrace, span: SpanRecord) -> None:
        """Recorded at the end."""

    def on_node_end(self, run: RunTrace, span: SpanRecord) -> None:
        """Recorded at the end."""

    def on_run_end(self, run: RunTrace) -> None:
        """Queue the trace; a background task writes the queue in batches."""
        self._queue.append(run)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write_soon())

    async def aflush(self) -> None:
        """Write everything queued now (retrying failed runs, bounded)."""
        if self._flush_now is not None:
            self._flush_now.set()
        if self._writer is not None and not self._writer.done():
            await asyncio.gather(self._writer, return_exceptions=True)
        for _ in range(MAX_ATTEMPTS + 1):  # each pass retries or drops every failed run
            if not self._queue:
                return
            await self._write_queue()

    async def aclose(self, timeout: float) -> None:
        """Flush pending writes (bounded)."""
        await asyncio.wait_for(self.aflush(), timeout)

    # ------------------------------------------------------------------ queries

    async def count_since(self, since: float) -> int:
        """Runs recorded since ``since`` (epoch seconds)."""
        rows = await self._fetch("SELECT COUNT(*) FROM lgp_traces WHERE started_at >= ?", (since,))
        return int(rows[0][0])

    async def list_traces(
        self,
        *,
        workflow: str | None = None,
        thread_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Traces, newest first, without payloads."""
        where, params = [], []
        if workflow:
            where.append("workflow = ?")
            params.append(workflow)
        if thread_id:
            where.append("thread_id = ?")
            params.append(thread_id)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM lgp_traces {clause} ORDER BY started_at DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [_trace_row(r, with_payload=False) for r in rows]

    async def get_trace(self, trace_id: str) -> dict[str, Any] | None:
        """One trace with its payloads and spans; a unique id prefix (8+ chars) works too."""
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM lgp_traces WHERE trace_id = ?", (trace_id,)
        )
        if not rows and 8 <= len(trace_id) < 32 and trace_id.isalnum():
            rows = await self._fetch(
                f"SELECT {_COLUMNS} FROM lgp_traces WHERE trace_id >= ? AND trace_id < ? LIMIT 2",
                (trace_id, trace_id + "g"),
            )
            rows = rows if len(rows) == 1 else []
        if not rows:
            return None
        trace_id = rows[0][0]
        trace = _trace_row(rows[0], with_payload=True)
        spans = await self._fetch(
            "SELECT span_id, name, started_at, duration_ms, status, error, input, output, "
            "kind, model, usage, cost FROM lgp_spans WHERE trace_id = ? ORDER BY seq",
            (trace_id,),
        )
        trace["spans"] = [
            {
                "span_id": s[0],
                "name": s[1],
                "started_at": s[2],
                "duration_ms": s[3],
                "status": s[4],
                "error": s[5],
                "input": _load(s[6]),
                "output": _load(s[7]),
                "kind": s[8],
                "model": s[9],
                "usage": _load(s[10]) or {},
                "cost": s[11],
            }
            for s in spans
        ]
        return trace

    # ------------------------------------------------------------------ private

    async def _write_soon(self) -> None:
        if self._flush_now is None:
            self._flush_now = asyncio.Event()  # created on the engine loop
        # Let a few runs queue up, unless a flush wants them written now.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._flush_now.wait(), BATCH_DELAY_S)
        self._flush_now.clear()
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await self._write_queue()
            except Exception as exc:  # a trace write must never surface in a run
                self.last_error = exc
            if not self._queue:
                return
            await asyncio.sleep(BATCH_DELAY_S * attempt)  # failed runs were requeued

    async def _write_queue(self) -> None:
        await self.setup()
        runs, self._queue = self._queue, []
        if not runs:
            return
        rows = [self._rows(run) for run in runs]
        error = await self._write(rows)
        if error is None:
            self._forget(runs)
            return
        # Find the run(s) at fault: each in its own transaction, so one bad run cannot
        # keep the others out.
        failed: list[tuple[RunTrace, Exception]] = []
        if len(runs) == 1:
            failed.append((runs[0], error))
        else:
            for run, row in zip(runs, rows, strict=True):
                run_error = await self._write([row])
                if run_error is None:
                    self._forget([run])
                else:
                    failed.append((run, run_error))
        for run, run_error in failed:
            self.last_error = run_error
            attempts = self._attempts.get(run.trace_id, 0) + 1
            if attempts < MAX_ATTEMPTS:
                self._attempts[run.trace_id] = attempts
                self._queue.append(run)
                continue
            self._forget([run])
            self.dropped += 1
            self._report(
                f"the trace of run {run.trace_id[:12]} ({run.workflow}) could not be written "
                f"to the local trace store after {attempts} attempts and was dropped: "
                f"{type(run_error).__name__}: {run_error} (the run and its checkpoints are "
                "unaffected)"
            )

    async def _write(
        self, rows: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]
    ) -> Exception | None:
        """Write ``rows`` in one transaction; on failure roll it back and return the error."""
        trace_rows = [trace_row for trace_row, _ in rows]
        span_rows = [span for _, spans in rows for span in spans]
        async with self._lock:
            try:
                await self._conn.executemany(
                    f"INSERT OR REPLACE INTO lgp_traces ({_COLUMNS}) "
                    f"VALUES ({', '.join('?' * 15)})",
                    trace_rows,
                )
                if span_rows:
                    await self._conn.executemany(
                        "INSERT OR REPLACE INTO lgp_spans (trace_id, span_id, seq, name, "
                        "started_at, duration_ms, status, error, input, output, kind, model, "
                        "usage, cost) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        span_rows,
                    )
                await self._conn.commit()
            except Exception as exc:
                # Never leave our half-written batch in an open transaction on the
                # shared connection: the checkpointer's next commit would commit it.
                with contextlib.suppress(Exception):  # a dead connection has nothing open
                    await self._conn.rollback()
                return exc
        return None

    def _forget(self, runs: list[RunTrace]) -> None:
        for run in runs:
            self._attempts.pop(run.trace_id, None)

    def _report(self, message: str) -> None:
        if self._warn is not None:
            self._warn(message)
        else:
            log.warning("%s", message)

    def _rows(self, run: RunTrace) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        def clean(value: Any) -> str:
            return json_bytes(sanitize_for_dashboard(value, self._max_length)).decode()

        trace_row = (
            run.trace_id, run.workflow, run.workflow_version, run.thread_id, run.checkpoint_id,
            run.environment, run.status, run.error, run.started_at, run.duration_ms,
            json.dumps(run.tags), clean(run.metadata), clean(run.input), clean(run.output),
            run.langfuse_url,
        )  # fmt: skip
        span_rows = [
            (
                run.trace_id,
                s.span_id,
                i,
                s.name,
                s.started_at,
                s.duration_ms,
                s.status,
                s.error,
                clean(s.input),
                clean(s.output),
                s.kind,
                s.model,
                json.dumps(s.usage) if s.usage else None,
                s.cost,
            )
            for i, s in enumerate(run.spans)
        ]
        return trace_row, span_rows

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        await self.setup()
        await self.aflush()
        async with self._lock, self._conn.execute(query, params) as cur:
            return list(await cur.fetchall())


def _trace_row(row: tuple[Any, ...], *, with_payload: bool) -> dict[str, Any]:
    trace = {
        "trace_id": row[0],
        "workflow": row[1],
        "workflow_version": row[2],
        "thread_id": row[3],
        "checkpoint_id": row[4],
        "environment": row[5],
        "status": row[6],
        "error": row[7],
        "started_at": row[8],
        "duration_ms": row[9],
        "tags": _load(row[10]) or [],
        "metadata": _load(row[11]) or {},
        "langfuse_url": row[14],
    }
    if with_payload:
        trace["input"] = _load(row[12])
        trace["output"] = _load(row[13])
    return trace


def _load(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
