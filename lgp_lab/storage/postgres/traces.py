"""The local trace store on PostgreSQL: ``lgp_traces``/``lgp_spans`` in the database the
checkpoints are in (tables made by :mod:`lgp_lab.storage.schema`).

Everything but the SQL dialect is :class:`~lgp_lab.storage.sqlite.traces.
LocalTraceStore`'s: batched background writes, flush before reads, bounded retries, the
same rows. Here a batch is one transaction on a pooled connection of its own, so a failed
batch rolls back without touching anyone else's work, and replicas write side by side.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from lgp_lab.storage.sqlite.traces import _COLUMNS, LocalTraceStore

__all__ = ["PostgresTraceStore"]

_UPDATE_TRACE = ", ".join(
    f"{c.strip()} = EXCLUDED.{c.strip()}" for c in _COLUMNS.split(",") if c.strip() != "trace_id"
)
_SPAN_COLUMNS = (
    "trace_id, span_id, seq, name, started_at, duration_ms, status, error, input, output, "
    "kind, model, usage, cost"
)
_UPDATE_SPAN = ", ".join(
    f"{c.strip()} = EXCLUDED.{c.strip()}"
    for c in _SPAN_COLUMNS.split(",")
    if c.strip() not in ("trace_id", "seq")
)


class PostgresTraceStore(LocalTraceStore):
    """Traces in PostgreSQL, on the saver's connection pool.

    Args:
        pool: The ``psycopg_pool.AsyncConnectionPool`` of the checkpointer.
        max_length: Passed to ``sanitize_for_dashboard`` for stored payloads.
        warn: Told (one line) when a trace had to be dropped.
    """

    def __init__(
        self, pool: Any, *, max_length: int = 2000, warn: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(pool, asyncio.Lock(), max_length=max_length, warn=warn)
        self._pool = pool

    async def setup(self) -> None:
        """Nothing to create: the schema migrations made the tables when the pool opened."""
        self._ready = True

    async def _write(
        self, rows: list[tuple[tuple[Any, ...], list[tuple[Any, ...]]]]
    ) -> Exception | None:
        trace_rows = [trace_row for trace_row, _ in rows]
        span_rows = [span for _, spans in rows for span in spans]
        try:
            async with self._pool.connection() as conn, conn.transaction():
                cur = conn.cursor()
                await cur.executemany(
                    f"INSERT INTO lgp_traces ({_COLUMNS}) VALUES ({', '.join(['%s'] * 15)}) "
                    f"ON CONFLICT (trace_id) DO UPDATE SET {_UPDATE_TRACE}",
                    trace_rows,
                )
                if span_rows:
                    await cur.executemany(
                        f"INSERT INTO lgp_spans ({_SPAN_COLUMNS}) "
                        f"VALUES ({', '.join(['%s'] * 14)}) "
                        f"ON CONFLICT (trace_id, seq) DO UPDATE SET {_UPDATE_SPAN}",
                        span_rows,
                    )
        except Exception as exc:  # the transaction was rolled back on the way out
            return exc
        return None

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        await self.aflush()
        # The shared queries are written with SQLite's `?` placeholders.
        async with self._pool.connection() as conn:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(query.replace("?", "%s"), params)
            return list(await cur.fetchall())
