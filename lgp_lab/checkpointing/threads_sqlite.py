"""Thread records in SQLite: the table ``lgp_threads`` beside the checkpoints.

A record holds what the Agent Server API keeps about a thread that checkpoints do not:
its metadata (``graph_id``, ``assistant_id``, the client's own keys), its status while a
run is queued or in flight, and its times. It shares the checkpointer's connection and
lock, so its writes never interleave with a checkpoint write; the table is created on
first use. A thread written only by ``lab.run`` has checkpoints and no record: the
listing below returns both kinds.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SqliteThreadStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lgp_threads (
    thread_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'idle'
)
"""

# Every thread with checkpoints: its first and latest root checkpoint ids and the
# workflow that wrote the latest (one metadata read per thread, from the PK index).
_CHECKPOINT_THREADS = """
WITH t AS (
    SELECT thread_id, MIN(checkpoint_id) AS first_id, MAX(checkpoint_id) AS last_id
    FROM checkpoints WHERE checkpoint_ns = '' {where} GROUP BY thread_id
)
SELECT t.thread_id, t.first_id, t.last_id,
       json_extract(CAST(c.metadata AS TEXT), '$.workflow')
FROM t JOIN checkpoints AS c
  ON c.thread_id = t.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id = t.last_id
"""


class SqliteThreadStore:
    """Rows of ``lgp_threads`` as plain dicts (``metadata`` decoded); times are epoch
    seconds. The domain layer (:mod:`lgp_lab.runtime.threads`) turns them into threads."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._ready = False

    async def setup(self) -> None:
        """Create the table if needed (once per store)."""
        if self._ready:
            return
        await self.saver.setup()
        async with self.saver.lock:
            await self.saver.conn.execute(_SCHEMA)
            await self.saver.conn.commit()
        self._ready = True

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        """The record of ``thread_id``, or ``None``."""
        rows = await self._fetch(
            "SELECT thread_id, created_at, updated_at, metadata, status FROM lgp_threads "
            "WHERE thread_id = ?",
            (thread_id,),
        )
        return _record(rows[0]) if rows else None

    async def records(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Every record (or those of ``ids``)."""
        query = "SELECT thread_id, created_at, updated_at, metadata, status FROM lgp_threads"
        params: tuple[Any, ...] = ()
        if ids is not None:
            if not ids:
                return []
            query += f" WHERE thread_id IN ({', '.join('?' for _ in ids)})"
            params = tuple(ids)
        return [_record(r) for r in await self._fetch(query, params)]

    async def insert(self, thread_id: str, metadata: dict[str, Any], now: float) -> bool:
        """Add a record; False when ``thread_id`` already has one."""
        return await self._write(
            "INSERT OR IGNORE INTO lgp_threads (thread_id, created_at, updated_at, metadata, "
            "status) VALUES (?, ?, ?, ?, 'idle')",
            (thread_id, now, now, _dumps(metadata)),
        )

    async def touch(
        self,
        thread_id: str,
        now: float,
        *,
        metadata: dict[str, Any] | None = None,
        status: str | None = None,
        replace: bool = False,
    ) -> dict[str, Any]:
        """Create the record if missing, merge ``metadata`` into it (top-level keys, as
        the Agent Server does; ``replace`` sets it whole), set ``status``; return it."""
        await self.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            async with conn.execute(
                "SELECT metadata, status, created_at FROM lgp_threads WHERE thread_id = ?",
                (thread_id,),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                merged = dict(metadata or {})
                new_status, created = status or "idle", now
                await conn.execute(
                    "INSERT INTO lgp_threads (thread_id, created_at, updated_at, metadata, "
                    "status) VALUES (?, ?, ?, ?, ?)",
                    (thread_id, now, now, _dumps(merged), new_status),
                )
            else:
                merged = dict(metadata or {}) if replace else {**_loads(row[0]), **(metadata or {})}
                new_status, created = status or row[1], row[2]
                await conn.execute(
                    "UPDATE lgp_threads SET metadata = ?, status = ?, updated_at = ? "
                    "WHERE thread_id = ?",
                    (_dumps(merged), new_status, now, thread_id),
                )
            await conn.commit()
        return {
            "thread_id": thread_id,
            "created_at": created,
            "updated_at": now,
            "metadata": merged,
            "status": new_status,
        }

    async def delete(self, thread_id: str) -> bool:
        """Remove the record; False if there was none."""
        return await self._write("DELETE FROM lgp_threads WHERE thread_id = ?", (thread_id,))

    async def has_checkpoints(self, thread_id: str) -> bool:
        """Whether ``thread_id`` has any checkpoint (an index probe)."""
        rows = await self._fetch(
            "SELECT 1 FROM checkpoints WHERE thread_id = ? LIMIT 1", (thread_id,)
        )
        return bool(rows)

    async def checkpoint_threads(self, thread_id: str | None = None) -> list[tuple[Any, ...]]:
        """``(thread_id, first_checkpoint_id, last_checkpoint_id, workflow)`` per thread
        with checkpoints (or of ``thread_id`` only)."""
        if thread_id is None:
            return await self._fetch(_CHECKPOINT_THREADS.format(where=""), ())
        return await self._fetch(
            _CHECKPOINT_THREADS.format(where="AND thread_id = ?"), (thread_id,)
        )

    async def flagged(self, latest: list[tuple[str, str]]) -> dict[str, set[str]]:
        """The control writes (``__interrupt__``, ``__error__``) pending on each thread's
        latest checkpoint, by thread id: a cheap pre-filter for a status search."""
        out: dict[str, set[str]] = {}
        for start in range(0, len(latest), 400):  # SQLite caps bound parameters
            chunk = latest[start : start + 400]
            marks = ", ".join("(?, ?)" for _ in chunk)
            rows = await self._fetch(
                "SELECT DISTINCT thread_id, channel FROM writes WHERE checkpoint_ns = '' "
                f"AND (thread_id, checkpoint_id) IN (VALUES {marks}) "
                "AND channel IN ('__error__', '__interrupt__')",
                tuple(v for pair in chunk for v in pair),
            )
            for thread_id, channel in rows:
                out.setdefault(thread_id, set()).add(channel)
        return out

    async def copy_checkpoints(self, source: str, target: str) -> int:
        """Copy every checkpoint and pending write of ``source`` (all namespaces) to
        ``target`` as they are stored; return how many checkpoints were copied."""
        await self.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            cur = await conn.execute(
                "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, type, checkpoint, metadata) "
                "SELECT ?, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
                "checkpoint, metadata FROM checkpoints WHERE thread_id = ?",
                (target, source),
            )
            copied = cur.rowcount
            await conn.execute(
                "INSERT INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
                "task_path, idx, channel, type, value) "
                "SELECT ?, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
                "type, value FROM writes WHERE thread_id = ?",
                (target, source),
            )
            await conn.commit()
        return copied

    async def prune_history(self, thread_id: str) -> int:
        """Delete the thread's root checkpoints but its latest (and their pending
        writes); subgraph checkpoints stay, as a pending subgraph resumes from them.
        Returns how many checkpoints were deleted."""
        await self.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            keep = (
                "(SELECT MAX(checkpoint_id) FROM checkpoints "
                "WHERE thread_id = ? AND checkpoint_ns = '')"
            )
            await conn.execute(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = '' "
                f"AND checkpoint_id < {keep}",
                (thread_id, thread_id),
            )
            cur = await conn.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
                f"AND checkpoint_id < {keep}",
                (thread_id, thread_id),
            )
            deleted = cur.rowcount
            await conn.commit()
        return deleted

    async def _write(self, query: str, params: tuple[Any, ...]) -> bool:
        await self.setup()
        async with self.saver.lock:
            cur = await self.saver.conn.execute(query, params)
            changed = cur.rowcount > 0
            await self.saver.conn.commit()
        return changed

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        await self.setup()
        async with self.saver.lock, self.saver.conn.execute(query, params) as cur:
            return list(await cur.fetchall())


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "thread_id": row[0],
        "created_at": row[1],
        "updated_at": row[2],
        "metadata": _loads(row[3]),
        "status": row[4],
    }


def _dumps(value: dict[str, Any]) -> str:
    from lgp_lab.runtime.jsonable import dumps

    return dumps(value)


def _loads(text: str | bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
