"""Retention on SQLite: the statements behind :mod:`lgp_lab.storage.retention`.

Everything runs on the checkpointer's own connection under its lock, so a prune in a
running Lab interleaves with runs thread by thread; each thread's prune is one
``BEGIN IMMEDIATE`` transaction, so no other process writes the thread meanwhile.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from lgp_lab.storage.retention_plan import (
    DatabaseSize,
    PrunePolicy,
    ThreadRows,
    _DeltaThread,
    chunks,
    owner_alive,
    plan_thread,
)

__all__ = ["SqliteRetention"]

_BATCH = 500  # ids per IN (...) list: below SQLite's bound on host parameters
_DELTA_KEYS = ("counters_since_delta_snapshot", "delta_writes_versioned")
_DELTA_WHERE = " OR ".join(
    f"json_type(CAST(metadata AS TEXT), '$.{key}') IS NOT NULL" for key in _DELTA_KEYS
)
# The bytes a row holds: every column's length as stored (text as UTF-8 bytes).
_COLUMNS = {
    "checkpoints": (
        "thread_id", "checkpoint_ns", "checkpoint_id", "parent_checkpoint_id", "type",
        "checkpoint", "metadata",
    ),
    "writes": (
        "thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "task_path", "idx",
        "channel", "type", "value",
    ),
}  # fmt: skip
_ROW_BYTES = {
    table: " + ".join(f"COALESCE(length(CAST({c} AS BLOB)), 0)" for c in columns)
    for table, columns in _COLUMNS.items()
}


class SqliteRetention:
    """Prune, size and vacuum the SQLite file behind an ``AsyncSqliteSaver``."""

    name = "sqlite"

    def __init__(self, saver: Any) -> None:
        self.saver = saver

    # ------------------------------------------------------------------ reading

    def describe(self) -> str:
        return "the SQLite checkpoint file"

    async def size(self) -> DatabaseSize:
        path = await self._path()
        parts: dict[str, int] = {}
        if path is not None:
            for suffix in ("", "-wal"):
                file = Path(str(path) + suffix)
                if file.is_file():
                    parts[file.name] = file.stat().st_size
        return DatabaseSize(total=sum(parts.values()), parts=parts)

    async def missing_threads(self, thread_ids: list[str]) -> list[str]:
        found: set[str] = set()
        for batch in chunks(thread_ids, _BATCH):
            marks = ",".join("?" * len(batch))
            rows = await self._fetch(
                f"SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id IN ({marks})",
                tuple(batch),
            )
            found |= {r[0] for r in rows}
        return [t for t in thread_ids if t not in found]

    async def candidate_threads(self, policy: PrunePolicy, cutoff_id: str | None) -> list[str]:
        """Threads with a namespace holding more checkpoints than kept (and, with a
        cutoff, one older than it): the only ones a prune can change."""
        having, params = "COUNT(*) > ?", [policy.keep_latest]
        if cutoff_id is not None:
            having += " AND MIN(checkpoint_id) < ?"
            params.append(cutoff_id)
        if policy.thread_ids is None:
            rows = await self._fetch(
                "SELECT DISTINCT thread_id FROM (SELECT thread_id FROM checkpoints "
                f"GROUP BY thread_id, checkpoint_ns HAVING {having}) ORDER BY thread_id",
                tuple(params),
            )
            return [r[0] for r in rows]
        out: list[str] = []
        for batch in chunks(list(policy.thread_ids), _BATCH):
            marks = ",".join("?" * len(batch))
            rows = await self._fetch(
                "SELECT DISTINCT thread_id FROM (SELECT thread_id FROM checkpoints "
                f"WHERE thread_id IN ({marks}) GROUP BY thread_id, checkpoint_ns "
                f"HAVING {having}) ORDER BY thread_id",
                (*batch, *params),
            )
            out += [r[0] for r in rows]
        return out

    async def busy_threads(self, thread_ids: list[str]) -> list[str]:
        """Of ``thread_ids``, those with a run queued or in flight (a run record
        ``pending``/``running``, or a live process's ``busy`` thread record)."""
        if not thread_ids:
            return []
        tables = await self._tables()
        busy: set[str] = set()
        if "lgp_runs" in tables:
            rows = await self._fetch(
                "SELECT DISTINCT thread_id FROM lgp_runs WHERE status IN ('pending', 'running')",
                (),
            )
            busy |= {r[0] for r in rows}
        if "lgp_threads" in tables:
            rows = await self._fetch(
                "SELECT thread_id, owner FROM lgp_threads WHERE status = 'busy'", ()
            )
            busy |= {r[0] for r in rows if owner_alive(r[1])}
        wanted = set(thread_ids)
        return sorted(busy & wanted)

    async def delta_threads(self, thread_ids: list[str]) -> list[str]:
        found: list[str] = []
        for batch in chunks(thread_ids, _BATCH):
            marks = ",".join("?" * len(batch))
            rows = await self._fetch(
                f"SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id IN ({marks}) "
                f"AND ({_DELTA_WHERE})",
                tuple(batch),
            )
            found += [r[0] for r in rows]
        return found

    async def stale_threads(
        self, cutoff: float, cutoff_id: str, limit: int, min_checkpoints: int
    ) -> list[str]:
        tables = await self._tables()
        records = "lgp_threads" in tables
        join = "LEFT JOIN lgp_threads AS r ON r.thread_id = cp.thread_id" if records else ""
        fresh = "AND (r.updated_at IS NULL OR r.updated_at < ?)" if records else ""
        params: list[Any] = [cutoff_id, max(min_checkpoints, 1)]
        if records:
            params.append(cutoff)
        rows = await self._fetch(
            "WITH cp AS (SELECT thread_id, MAX(checkpoint_id) AS last_id, COUNT(*) AS n "
            "FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id) "
            f"SELECT cp.thread_id FROM cp {join} WHERE cp.last_id < ? AND cp.n >= ? {fresh} "
            "ORDER BY cp.last_id LIMIT ?",
            (*params, limit),
        )
        found = [r[0] for r in rows]
        if records and min_checkpoints <= 0 and len(found) < limit:
            # Threads created through the API that never ran: only a record.
            rows = await self._fetch(
                "SELECT r.thread_id FROM lgp_threads AS r WHERE r.updated_at < ? AND NOT "
                "EXISTS (SELECT 1 FROM checkpoints AS c WHERE c.thread_id = r.thread_id) "
                "ORDER BY r.updated_at LIMIT ?",
                (cutoff, limit - len(found)),
            )
            found += [r[0] for r in rows]
        return found

    @contextlib.asynccontextmanager
    async def sweep_lock(self) -> AsyncIterator[bool]:
        # Processes sharing a file may sweep at once: deleting a thread twice is a no-op.
        yield True

    # ------------------------------------------------------------------ writing

    async def prune_thread(
        self, thread_id: str, policy: PrunePolicy, cutoff_id: str | None, *, dry_run: bool
    ) -> tuple[int, int, int, int]:
        """Prune one thread in one transaction; (checkpoints, writes, 0 blobs, bytes of
        the rows) removed."""
        await self.saver.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            if conn.in_transaction:  # never expected: every writer here commits
                await conn.commit()
            await conn.execute("BEGIN IMMEDIATE")
            try:
                counts = await self._prune_in_transaction(conn, thread_id, policy, cutoff_id)
            except BaseException:
                await conn.rollback()
                raise
            if dry_run:
                await conn.rollback()
            else:
                await conn.commit()
        return counts

    async def _prune_in_transaction(
        self, conn: Any, thread_id: str, policy: PrunePolicy, cutoff_id: str | None
    ) -> tuple[int, int, int, int]:
        async with conn.execute(
            f"SELECT 1 FROM checkpoints WHERE thread_id = ? AND ({_DELTA_WHERE}) LIMIT 1",
            (thread_id,),
        ) as cur:
            if await cur.fetchone() is not None:
                raise _DeltaThread(thread_id)
        async with conn.execute(
            "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = ? "
            "ORDER BY checkpoint_ns, checkpoint_id DESC",
            (thread_id,),
        ) as cur:
            rows = await cur.fetchall()
        ids: dict[str, list[str]] = {}
        for ns, checkpoint_id in rows:
            ids.setdefault(ns, []).append(checkpoint_id)
        thread = ThreadRows(ids=ids)
        for ns, ns_ids in ids.items():
            if ":" in ns:
                async with conn.execute(
                    "SELECT metadata FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                    "AND checkpoint_id = ?",
                    (thread_id, ns, ns_ids[0]),
                ) as cur:
                    row = await cur.fetchone()
                thread.call_roots[ns] = _root_of(row[0] if row else None)
        plan = plan_thread(thread, policy, cutoff_id)
        if plan.empty:
            return (0, 0, 0, 0)
        checkpoints = writes = size = 0

        async def row_bytes(table: str, where: str, params: tuple[Any, ...]) -> int:
            # Summed before the DELETE: SQLite's DELETE cannot return an aggregate.
            query = f"SELECT COALESCE(SUM({_ROW_BYTES[table]}), 0) FROM {table} WHERE {where}"
            async with conn.execute(query, params) as cur:
                return int((await cur.fetchone())[0])

        for ns in plan.calls:
            for table in ("writes", "checkpoints"):
                size += await row_bytes(
                    table, "thread_id = ? AND checkpoint_ns = ?", (thread_id, ns)
                )
            cur = await conn.execute(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ?", (thread_id, ns)
            )
            writes += cur.rowcount
            cur = await conn.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?",
                (thread_id, ns),
            )
            checkpoints += cur.rowcount
        for ns, doomed in plan.delete.items():
            if not doomed:
                continue
            for batch in chunks(doomed, _BATCH):
                where = "thread_id = ? AND checkpoint_ns = ? AND checkpoint_id IN ({})".format(
                    ",".join("?" * len(batch))
                )
                for table in ("writes", "checkpoints"):
                    size += await row_bytes(table, where, (thread_id, ns, *batch))
            keys = [(thread_id, ns, checkpoint_id) for checkpoint_id in doomed]
            cur = await conn.executemany(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? "
                "AND checkpoint_id = ?",
                keys,
            )
            writes += cur.rowcount
            cur = await conn.executemany(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                "AND checkpoint_id = ?",
                keys,
            )
            checkpoints += cur.rowcount
            # What is left starts where the deleted part ended: no dangling parent.
            await conn.execute(
                "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = ? "
                "AND checkpoint_ns = ? AND parent_checkpoint_id IS NOT NULL "
                "AND parent_checkpoint_id NOT IN (SELECT checkpoint_id FROM checkpoints "
                "WHERE thread_id = ? AND checkpoint_ns = ?)",
                (thread_id, ns, thread_id, ns),
            )
        return (checkpoints, writes, 0, size)

    async def vacuum(self, mode: str) -> str:
        """Give the freed pages back to the file system; what was done."""
        await self.saver.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            if conn.in_transaction:
                await conn.commit()
            async with conn.execute("PRAGMA auto_vacuum") as cur:
                auto = int((await cur.fetchone())[0])
            try:
                if auto == 2 and mode in ("incremental", "auto"):
                    async with conn.execute("PRAGMA incremental_vacuum") as cur:
                        await cur.fetchall()  # it frees pages as it is stepped
                    done = "incremental vacuum"
                elif mode == "incremental":
                    return "none (the file is not in incremental auto-vacuum mode)"
                else:
                    if auto == 0 and mode == "auto":
                        # Once: later prunes free pages with a cheap incremental vacuum
                        # instead of rewriting the whole file.
                        await conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                        done = "VACUUM (file switched to incremental auto-vacuum)"
                    else:
                        done = "VACUUM"
                    await conn.execute("VACUUM")
                async with conn.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                    busy = (await cur.fetchone())[0]
            except Exception as exc:  # another process reading: space is reused later
                return f"skipped ({type(exc).__name__}: {exc})"
        return done if not busy else f"{done}; WAL not truncated (another reader)"

    # ------------------------------------------------------------------ helpers

    async def _path(self) -> Path | None:
        rows = await self._fetch("PRAGMA database_list", ())
        for _seq, name, file in rows:
            if name == "main" and file:
                return Path(file)
        return None

    async def _tables(self) -> set[str]:
        rows = await self._fetch("SELECT name FROM sqlite_master WHERE type = 'table'", ())
        return {r[0] for r in rows}

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        await self.saver.setup()
        async with self.saver.lock, self.saver.conn.execute(query, params) as cur:
            return list(await cur.fetchall())


def _root_of(metadata: bytes | str | None) -> str | None:
    """The root checkpoint a subgraph checkpoint's call started from."""
    if not metadata:
        return None
    try:
        data = json.loads(metadata)
    except (ValueError, UnicodeDecodeError):
        return None
    parents = data.get("parents") if isinstance(data, dict) else None
    root = parents.get("") if isinstance(parents, dict) else None
    return root if isinstance(root, str) else None
