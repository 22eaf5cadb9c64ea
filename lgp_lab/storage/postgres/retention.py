"""Retention on PostgreSQL: the statements behind :mod:`lgp_lab.storage.retention`.

Each thread is pruned in one ``REPEATABLE READ`` transaction on the saver's pool, as
LangGraph's own ``AsyncPostgresSaver.aprune`` does: every statement reads one snapshot,
so a run appending checkpoints meanwhile is neither seen nor touched. The head and delta
queries are LangGraph's own (``langgraph.checkpoint.postgres.base``), so "the latest
checkpoint" and "uses a DeltaChannel" mean here exactly what they mean to the saver.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from lgp_lab.storage.retention_plan import (
    DatabaseSize,
    PrunePolicy,
    ThreadRows,
    _DeltaThread,
    owner_alive,
    plan_thread,
)

__all__ = ["PostgresRetention"]

_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes")
# pg_try_advisory_lock key of the TTL sweep ("lgp_ttl"): one replica sweeps at a time.
SWEEP_LOCK_KEY = 0x6C67705F74746C


class PostgresRetention:
    """Prune, size and vacuum the checkpoint tables behind an ``AsyncPostgresSaver``."""

    name = "postgres"

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self.pool = saver.conn

    # ------------------------------------------------------------------ reading

    def describe(self) -> str:
        from lgp_lab.storage.postgres.checkpoints import describe_url

        return f"the PostgreSQL database {describe_url(str(getattr(self.pool, 'conninfo', '')))}"

    async def size(self) -> DatabaseSize:
        rows = await self._fetch(
            "SELECT t, COALESCE(pg_total_relation_size(to_regclass(t)), 0) "
            "FROM unnest(%s::text[]) AS t",
            (list(_TABLES),),
        )
        parts = {name: int(size) for name, size in rows}
        return DatabaseSize(total=sum(parts.values()), parts=parts)

    async def missing_threads(self, thread_ids: list[str]) -> list[str]:
        rows = await self._fetch(
            "SELECT DISTINCT thread_id FROM checkpoints WHERE thread_id = ANY(%s)", (thread_ids,)
        )
        found = {r[0] for r in rows}
        return [t for t in thread_ids if t not in found]

    async def candidate_threads(self, policy: PrunePolicy, cutoff_id: str | None) -> list[str]:
        """Threads with a namespace holding more checkpoints than kept (and, with a
        cutoff, one older than it): the only ones a prune can change."""
        where, params = "", []
        if policy.thread_ids is not None:
            where = "WHERE thread_id = ANY(%s)"
            params.append(list(policy.thread_ids))
        having = "COUNT(*) > %s"
        params.append(policy.keep_latest)
        if cutoff_id is not None:
            having += " AND MIN(checkpoint_id) < %s"
            params.append(cutoff_id)
        rows = await self._fetch(
            "SELECT DISTINCT thread_id FROM (SELECT thread_id FROM checkpoints "
            f"{where} GROUP BY thread_id, checkpoint_ns HAVING {having}) AS c "
            "ORDER BY thread_id",
            tuple(params),
        )
        return [r[0] for r in rows]

    async def busy_threads(self, thread_ids: list[str]) -> list[str]:
        """Of ``thread_ids``, those with a run queued or in flight on any replica (a run
        record ``pending``/``running``, or a ``busy`` thread record)."""
        if not thread_ids:
            return []
        busy: set[str] = set()
        rows = await self._fetch(
            "SELECT DISTINCT thread_id FROM lgp_runs WHERE status IN ('pending', 'running') "
            "AND thread_id = ANY(%s)",
            (thread_ids,),
        )
        busy |= {r[0] for r in rows}
        rows = await self._fetch(
            "SELECT thread_id, owner FROM lgp_threads WHERE status = 'busy' "
            "AND thread_id = ANY(%s)",
            (thread_ids,),
        )
        busy |= {r[0] for r in rows if owner_alive(r[1])}
        return sorted(busy)

    async def delta_threads(self, thread_ids: list[str]) -> list[str]:
        from langgraph.checkpoint.postgres.base import PRUNE_DELTA_THREADS_SQL

        if not thread_ids:
            return []
        rows = await self._fetch(PRUNE_DELTA_THREADS_SQL, (thread_ids, thread_ids))
        return sorted({r[0] for r in rows})

    async def stale_threads(
        self, cutoff: float, cutoff_id: str, limit: int, min_checkpoints: int
    ) -> list[str]:
        rows = await self._fetch(
            "WITH cp AS (SELECT thread_id, MAX(checkpoint_id) AS last_id, COUNT(*) AS n "
            "FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id) "
            "SELECT cp.thread_id FROM cp LEFT JOIN lgp_threads AS r "
            "ON r.thread_id = cp.thread_id WHERE cp.last_id < %s AND cp.n >= %s "
            "AND (r.updated_at IS NULL OR r.updated_at < %s) ORDER BY cp.last_id LIMIT %s",
            (cutoff_id, max(min_checkpoints, 1), cutoff, limit),
        )
        found = [r[0] for r in rows]
        if min_checkpoints <= 0 and len(found) < limit:
            # Threads created through the API that never ran: only a record.
            rows = await self._fetch(
                "SELECT r.thread_id FROM lgp_threads AS r WHERE r.updated_at < %s AND NOT "
                "EXISTS (SELECT 1 FROM checkpoints AS c WHERE c.thread_id = r.thread_id) "
                "ORDER BY r.updated_at LIMIT %s",
                (cutoff, limit - len(found)),
            )
            found += [r[0] for r in rows]
        return found

    @contextlib.asynccontextmanager
    async def sweep_lock(self) -> AsyncIterator[bool]:
        from psycopg.rows import tuple_row

        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute("SELECT pg_try_advisory_lock(%s)", (SWEEP_LOCK_KEY,))
            row = await cur.fetchone()
            mine = bool(row and row[0])
            try:
                yield mine
            finally:
                if mine:
                    await conn.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK_KEY,))

    # ------------------------------------------------------------------ writing

    async def prune_thread(
        self, thread_id: str, policy: PrunePolicy, cutoff_id: str | None, *, dry_run: bool
    ) -> tuple[int, int, int, int]:
        """Prune one thread in one transaction; (checkpoints, writes, blobs, bytes of the
        rows) removed."""
        from psycopg.rows import tuple_row

        async with (
            self.pool.connection() as conn,
            conn.transaction(force_rollback=dry_run),
        ):
            cur = conn.cursor(row_factory=tuple_row)
            return await _prune_in_transaction(cur, thread_id, policy, cutoff_id)

    async def vacuum(self, mode: str) -> str:
        """Vacuum the checkpoint tables; what was done."""
        if mode in ("none", "incremental"):
            return "none"  # autovacuum reclaims the space in the background
        command = "VACUUM FULL" if mode == "full" else "VACUUM (ANALYZE)"
        try:
            async with self.pool.connection() as conn:
                await conn.execute(f"{command} {', '.join(_TABLES)}")
        except Exception as exc:  # e.g. a role that does not own the tables
            return f"skipped ({type(exc).__name__}: {exc})"
        return command

    # ------------------------------------------------------------------ helpers

    async def _fetch(self, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
        from psycopg.rows import tuple_row

        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(query, params, prepare=False)
            return list(await cur.fetchall())


async def _prune_in_transaction(
    cur: Any, thread_id: str, policy: PrunePolicy, cutoff_id: str | None
) -> tuple[int, int, int, int]:
    from langgraph.checkpoint.postgres.base import (
        PRUNE_DELTA_THREADS_SQL,
        PRUNE_HEADS_SQL,
        PRUNE_SNAPSHOT_SQL,
    )

    async def run(query: str, params: Any = ()) -> Any:
        # Unprepared: planned knowing each array, as LangGraph's prune does.
        await cur.execute(query, params, prepare=False)
        return cur

    async def delete(table: str, where: str, params: Any) -> tuple[int, int]:
        """(rows, their bytes) of a DELETE: each row's size as stored, summed."""
        found = await (
            await run(
                f"WITH d AS (DELETE FROM {table} AS t WHERE {where} "
                "RETURNING pg_column_size(t.*) AS n) SELECT COUNT(*), COALESCE(SUM(n), 0) FROM d",
                params,
            )
        ).fetchone()
        return int(found[0]), int(found[1])

    await run(PRUNE_SNAPSHOT_SQL)  # one snapshot for every statement below
    if await (await run(PRUNE_DELTA_THREADS_SQL, ([thread_id], [thread_id]))).fetchall():
        raise _DeltaThread(thread_id)
    rows = await (
        await run(
            "SELECT checkpoint_ns, checkpoint_id FROM checkpoints WHERE thread_id = %s "
            "ORDER BY checkpoint_ns, checkpoint_id DESC",
            (thread_id,),
        )
    ).fetchall()
    ids: dict[str, list[str]] = {}
    for ns, checkpoint_id in rows:
        ids.setdefault(ns, []).append(checkpoint_id)
    thread = ThreadRows(ids=ids)
    heads = await (await run(PRUNE_HEADS_SQL, (thread_id,) * 4)).fetchall()
    for ns, _head, sends_parent, root, _root_saved in heads:
        if sends_parent:
            thread.extra_keep[ns] = [sends_parent]
        if ":" in ns:
            thread.call_roots[ns] = root
    plan = plan_thread(thread, policy, cutoff_id)
    if plan.empty:
        return (0, 0, 0, 0)
    checkpoints = writes = blobs = size = 0
    if plan.calls:
        calls = "thread_id = %s AND checkpoint_ns = ANY(%s)"
        rows, n = await delete("checkpoint_writes", calls, (thread_id, plan.calls))
        writes, size = writes + rows, size + n
        rows, n = await delete("checkpoints", calls, (thread_id, plan.calls))
        checkpoints, size = checkpoints + rows, size + n
        rows, n = await delete("checkpoint_blobs", calls, (thread_id, plan.calls))
        blobs, size = blobs + rows, size + n
    for ns, doomed in plan.delete.items():
        if not doomed:
            continue
        kept = plan.kept.get(ns, [])
        rows, n = await delete(
            "checkpoint_writes",
            "thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = ANY(%s)",
            (thread_id, ns, doomed),
        )
        writes, size = writes + rows, size + n
        freed = await (
            await run(
                "DELETE FROM checkpoints AS t WHERE thread_id = %s AND checkpoint_ns = %s "
                "AND checkpoint_id = ANY(%s) "
                "RETURNING checkpoint -> 'channel_versions', pg_column_size(t.*)",
                (thread_id, ns, doomed),
            )
        ).fetchall()
        checkpoints += len(freed)
        size += sum(int(n) for _, n in freed)
        # What is left starts where the deleted part ended: no dangling parent.
        await run(
            "UPDATE checkpoints SET parent_checkpoint_id = NULL WHERE thread_id = %s "
            "AND checkpoint_ns = %s AND checkpoint_id = ANY(%s) "
            "AND parent_checkpoint_id <> ALL(%s)",
            (thread_id, ns, kept, kept),
        )
        referenced = await (
            await run(
                "SELECT DISTINCT v.key, v.value FROM checkpoints AS c CROSS JOIN LATERAL "
                "jsonb_each_text(c.checkpoint -> 'channel_versions') AS v "
                "WHERE c.thread_id = %s AND c.checkpoint_ns = %s",
                (thread_id, ns),
            )
        ).fetchall()
        garbage: dict[str, set[str]] = {}
        still = {(channel, str(version)) for channel, version in referenced}
        for versions, _ in freed:
            for channel, version in (versions or {}).items():
                if (channel, str(version)) not in still:
                    garbage.setdefault(channel, set()).add(str(version))
        for channel, versions in garbage.items():
            rows, n = await delete(
                "checkpoint_blobs",
                "thread_id = %s AND checkpoint_ns = %s AND channel = %s AND version = ANY(%s)",
                (thread_id, ns, channel, sorted(versions)),
            )
            blobs, size = blobs + rows, size + n
    return (checkpoints, writes, blobs, size)
