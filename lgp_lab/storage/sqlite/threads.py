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

from lgp_lab.storage.sqlite._calls import fetch, transact, write

__all__ = ["SqliteThreadStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lgp_threads (
    thread_id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL DEFAULT 'idle',
    owner TEXT
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


# Every thread, record or checkpoints or both, with what search filters and sorts on:
# its metadata (a thread a run wrote gets graph_id/assistant_id of its workflow unless
# its record says otherwise) and its times (record times and checkpoint uuid6 times).
_SEARCH = """
WITH cp AS (
    SELECT thread_id, MIN(checkpoint_id) AS first_id, MAX(checkpoint_id) AS last_id
    FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id
), cpw AS (
    SELECT cp.thread_id, cp.first_id, cp.last_id,
           json_extract(CAST(c.metadata AS TEXT), '$.workflow') AS workflow
    FROM cp JOIN checkpoints AS c
      ON c.thread_id = cp.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id = cp.last_id
), t AS (
    SELECT r.thread_id, r.created_at AS r_created, r.updated_at AS r_updated,
           r.metadata AS r_meta, r.status AS r_status, r.owner AS r_owner,
           w.first_id, w.last_id, w.workflow
    FROM lgp_threads AS r LEFT JOIN cpw AS w ON w.thread_id = r.thread_id
    UNION ALL
    SELECT w.thread_id, NULL, NULL, NULL, NULL, NULL, w.first_id, w.last_id, w.workflow
    FROM cpw AS w WHERE NOT EXISTS (SELECT 1 FROM lgp_threads AS r WHERE r.thread_id = w.thread_id)
), m AS (
    SELECT thread_id, r_meta IS NOT NULL AS has_record, r_status, r_updated, r_owner, last_id,
           workflow,
           CASE WHEN workflow IS NULL THEN COALESCE(r_meta, '{{}}')
                ELSE json_insert(COALESCE(r_meta, '{{}}'), '$.graph_id', workflow,
                                 '$.assistant_id', lgp_assistant_id(workflow)) END AS meta,
           MIN(COALESCE(r_created, 1e300), COALESCE(lgp_uuid6_epoch(first_id), 1e300)) AS created,
           MAX(COALESCE(r_updated, 0), COALESCE(lgp_uuid6_epoch(last_id), 0)) AS updated
    FROM t
)
SELECT {columns} FROM m {where} {order} {page}
"""
_COLUMNS = (
    "thread_id, has_record, r_status, r_updated, r_owner, last_id, workflow, meta, created, updated"
)
_ORDER = {
    "thread_id": "thread_id",
    "status": "COALESCE(r_status, 'idle')",
    "created_at": "created",
    "updated_at": "updated",
}


class SqliteThreadStore:
    """Rows of ``lgp_threads`` as plain dicts (``metadata`` decoded); times are epoch
    seconds. The domain layer (:mod:`lgp_lab.runtime.threads`) turns them into threads."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._ready = False

    @staticmethod
    def sql_filterable(metadata: dict[str, Any]) -> bool:
        """Whether :meth:`search` decides this metadata filter alone."""
        return sql_filterable(metadata)

    async def setup(self) -> None:
        """Create the table if needed, and the SQL functions search uses (once)."""
        if self._ready:
            return
        await self.saver.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            await conn.execute(_SCHEMA)
            async with conn.execute("PRAGMA table_info(lgp_threads)") as cur:
                columns = {row[1] for row in await cur.fetchall()}
            if "owner" not in columns:  # a file from before `owner` existed
                await conn.execute("ALTER TABLE lgp_threads ADD COLUMN owner TEXT")
            await conn.commit()
            await conn.create_function("lgp_uuid6_epoch", 1, _uuid6_epoch, deterministic=True)
            await conn.create_function("lgp_assistant_id", 1, _assistant_id, deterministic=True)
        self._ready = True

    async def search(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        ids: list[str] | None = None,
        flag: str | None = None,
        sort_by: str = "updated_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Threads whose metadata has these top-level values (scalars: a caller checks
        nested ones), of ``ids``; ``flag`` ``__interrupt__`` / ``__error__`` keeps those
        with such a write pending on their latest checkpoint (or, for errors, a record
        saying so). Sorted, one page (all when ``limit`` is None)."""
        where, params = _filters(metadata, ids, flag)
        direction = "DESC" if descending else "ASC"
        order = f"ORDER BY {_ORDER[sort_by]} {direction}, thread_id {direction}"
        page = ""
        if limit is not None:
            page = "LIMIT ? OFFSET ?"
            params += [limit, offset]
        query = _SEARCH.format(columns=_COLUMNS, where=where, order=order, page=page)
        rows = await self._fetch(query, tuple(params))
        return [
            {
                "thread_id": r[0],
                "has_record": bool(r[1]),
                "record_status": r[2],
                "record_updated_at": r[3],
                "record_owner": r[4],
                "last_checkpoint_id": r[5],
                "workflow": r[6],
                "metadata": _loads(r[7]),
                "created_at": r[8] if r[8] is not None and r[8] < 1e299 else None,
                "updated_at": r[9] or None,
            }
            for r in rows
        ]

    async def count(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        ids: list[str] | None = None,
    ) -> int:
        """How many threads :meth:`search` finds with these (scalar) metadata values."""
        where, params = _filters(metadata, ids, None)
        query = _SEARCH.format(columns="COUNT(*)", where=where, order="", page="")
        return int((await self._fetch(query, tuple(params)))[0][0])

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        """The record of ``thread_id``, or ``None``."""
        rows = await self._fetch(
            "SELECT thread_id, created_at, updated_at, metadata, status, owner FROM lgp_threads "
            "WHERE thread_id = ?",
            (thread_id,),
        )
        return _record(rows[0]) if rows else None

    async def records(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Every record (or those of ``ids``)."""
        query = "SELECT thread_id, created_at, updated_at, metadata, status, owner FROM lgp_threads"
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
        owner: str | None = None,
    ) -> dict[str, Any]:
        """Create the record if missing, merge ``metadata`` into it (top-level keys, as
        the Agent Server does; ``replace`` sets it whole), set ``status`` (``owner``: the
        process a ``busy`` status belongs to); return it."""
        await self.setup()
        return await transact(self.saver, _touch, thread_id, now, metadata, status, replace, owner)

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
        return await write(self.saver, query, params) > 0

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        await self.setup()
        return await fetch(self.saver, query, params)


def _touch(
    conn: Any,
    thread_id: str,
    now: float,
    metadata: dict[str, Any] | None,
    status: str | None,
    replace: bool,
    owner: str | None,
) -> dict[str, Any]:
    # One transaction on the database thread: the read and the write see the same row.
    row = conn.execute(
        "SELECT metadata, status, created_at, owner FROM lgp_threads WHERE thread_id = ?",
        (thread_id,),
    ).fetchone()
    if row is None:
        merged = dict(metadata or {})
        new_status, created = status or "idle", now
        new_owner = owner if new_status == "busy" else None
        conn.execute(
            "INSERT INTO lgp_threads (thread_id, created_at, updated_at, metadata, "
            "status, owner) VALUES (?, ?, ?, ?, ?, ?)",
            (thread_id, now, now, _dumps(merged), new_status, new_owner),
        )
    else:
        merged = dict(metadata or {}) if replace else {**_loads(row[0]), **(metadata or {})}
        new_status, created = status or row[1], row[2]
        new_owner = (owner if status else row[3]) if new_status == "busy" else None
        conn.execute(
            "UPDATE lgp_threads SET metadata = ?, status = ?, updated_at = ?, owner = ? "
            "WHERE thread_id = ?",
            (_dumps(merged), new_status, now, new_owner, thread_id),
        )
    return {
        "thread_id": thread_id,
        "created_at": created,
        "updated_at": now,
        "metadata": merged,
        "status": new_status,
        "owner": new_owner,
    }


def sql_filterable(metadata: dict[str, Any]) -> bool:
    """Whether :meth:`SqliteThreadStore.search` decides this metadata filter alone (every
    value a scalar under a plain key); otherwise the caller checks containment."""
    return all(
        isinstance(v, (str, int, float, bool)) and '"' not in k and "\\" not in k
        for k, v in metadata.items()
    )


def _filters(
    metadata: dict[str, Any] | None,
    ids: list[str] | None,
    flag: str | None,
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for key, value in (metadata or {}).items():
        if not isinstance(value, (str, int, float, bool)) or '"' in key or "\\" in key:
            clauses.append("json_type(meta, ?) IS NOT NULL")  # present; checked by caller
            params.append(f'$."{key}"' if '"' not in key else "$")
            continue
        path = f'$."{key}"'
        if isinstance(value, bool):
            clauses.append("json_type(meta, ?) = ?")
            params += [path, "true" if value else "false"]
        else:
            clauses.append("json_type(meta, ?) IN (?, ?) AND json_extract(meta, ?) = ?")
            kinds = ("text", "text") if isinstance(value, str) else ("integer", "real")
            params += [path, *kinds, path, value]
    if ids is not None:
        clauses.append(f"thread_id IN ({', '.join('?' for _ in ids) or 'NULL'})")
        params += list(ids)
    if flag in ("__interrupt__", "__error__"):
        clauses.append(
            "EXISTS (SELECT 1 FROM writes AS w WHERE w.thread_id = m.thread_id AND "
            "w.checkpoint_ns = '' AND w.checkpoint_id = m.last_id AND w.channel = ?)"
            + (" OR r_status = 'error'" if flag == "__error__" else "")
        )
        params.append(flag)
    return ("WHERE " + " AND ".join(f"({c})" for c in clauses)) if clauses else "", params


def _uuid6_epoch(checkpoint_id: str | None) -> float | None:
    from lgp_lab.ids import checkpoint_time

    when = checkpoint_time(checkpoint_id)
    return when.timestamp() if when is not None else None


def _assistant_id(graph_id: str | None) -> str | None:
    from lgp_lab.ids import assistant_id_for

    return assistant_id_for(graph_id) if graph_id else None


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "thread_id": row[0],
        "created_at": row[1],
        "updated_at": row[2],
        "metadata": _loads(row[3]),
        "status": row[4],
        "owner": row[5],
    }


def _dumps(value: dict[str, Any]) -> str:
    from lgp_lab.jsonable import dumps

    return dumps(value)


def _loads(text: str | bytes | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
