"""Run records on PostgreSQL: the table ``lgp_runs`` beside the checkpoints.

The same methods and rows as :class:`~lgp_lab.checkpointing.runs_sqlite.SqliteRunStore`
(:class:`lgp_lab.runtime.runs.RunStore`). The table also has ``owner`` (the replica
holding a run) and ``lease_until``, the columns replicas claim runs with; ``seq`` orders
runs created in the same instant, as SQLite's rowid does.

For several replicas on one database: :meth:`PostgresRunStore.claim` (a pending run to
exactly one replica, one running run per thread), :meth:`~PostgresRunStore.heartbeat`
(extend leases), :meth:`~PostgresRunStore.requeue_expired` (the reaper) and
:meth:`~PostgresRunStore.finish` (a final status only from the lease holder). Lease
times are the database's clock, so replicas' clocks need not agree.
"""

from __future__ import annotations

from typing import Any

from lgp_lab.checkpointing.postgres import PgDb

__all__ = ["PostgresRunStore"]

_COLUMNS = (
    "run_id, thread_id, assistant_id, status, multitask_strategy, attempt, "
    "created_at, updated_at, kwargs, metadata"
)
_KEYS = tuple(c.strip() for c in _COLUMNS.split(","))


class PostgresRunStore:
    """Run rows as plain dicts (``kwargs`` and ``metadata`` decoded from JSON).

    Args:
        saver: The Lab's ``AsyncPostgresSaver``: its pool serves this table too.
    """

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._db = PgDb(saver)

    async def put(self, row: dict[str, Any]) -> None:
        """Insert a new run."""
        from psycopg.types.json import Jsonb

        values = (
            row["run_id"], row["thread_id"], row["assistant_id"], row["status"],
            row["multitask_strategy"], row["attempt"], row["created_at"], row["updated_at"],
            Jsonb(_jsonable(row["kwargs"])), Jsonb(_jsonable(row["metadata"])),
        )  # fmt: skip
        await self._db.execute(
            f"INSERT INTO lgp_runs ({_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)", values
        )

    async def set_status(
        self, run_id: str, status: str, updated_at: str, attempt: int | None = None
    ) -> None:
        """Record a run's new status (and attempt, when it starts again)."""
        if attempt is None:
            await self._db.execute(
                "UPDATE lgp_runs SET status = %s, updated_at = %s WHERE run_id = %s",
                (status, updated_at, run_id),
            )
        else:
            await self._db.execute(
                "UPDATE lgp_runs SET status = %s, updated_at = %s, attempt = %s WHERE run_id = %s",
                (status, updated_at, attempt, run_id),
            )

    async def get(self, thread_id: str | None, run_id: str) -> dict[str, Any] | None:
        """One run (of ``thread_id`` when given), or ``None``."""
        query = f"SELECT {_COLUMNS} FROM lgp_runs WHERE run_id = %s"
        params: tuple[Any, ...] = (run_id,)
        if thread_id is not None:
            query += " AND thread_id = %s"
            params += (thread_id,)
        rows = await self._db.fetch(query, params)
        return _row(rows[0]) if rows else None

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: str | None = None
    ) -> list[dict[str, Any]]:
        """A thread's runs, newest first."""
        query = f"SELECT {_COLUMNS} FROM lgp_runs WHERE thread_id = %s"
        params: tuple[Any, ...] = (thread_id,)
        if status is not None:
            query += " AND status = %s"
            params += (status,)
        query += " ORDER BY created_at DESC, seq DESC LIMIT %s OFFSET %s"
        rows = await self._db.fetch(query, (*params, limit, offset))
        return [_row(r) for r in rows]

    async def delete(self, run_id: str) -> bool:
        """Delete one run record; whether it existed."""
        return await self._db.execute("DELETE FROM lgp_runs WHERE run_id = %s", (run_id,)) > 0

    async def delete_thread(self, thread_id: str) -> int:
        """Delete every run record of a thread; how many."""
        return await self._db.execute("DELETE FROM lgp_runs WHERE thread_id = %s", (thread_id,))

    async def orphans(self, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        """Runs in one of ``statuses`` (``pending``/``running`` left by a process that is
        gone, when one server owns the database)."""
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS} FROM lgp_runs WHERE status = ANY(%s) ORDER BY created_at, seq",
            (list(statuses),),
        )
        return [_row(r) for r in rows]

    # ------------------------------------------------------------------ replicas

    async def claim(
        self, owner: str, *, lease_s: float, updated_at: str, limit: int = 1
    ) -> list[dict[str, Any]]:
        """Take up to ``limit`` pending runs, oldest first, for replica ``owner``: each
        becomes ``running`` with a lease of ``lease_s`` seconds (database clock).

        A run is taken by exactly one replica (``FOR UPDATE SKIP LOCKED``), never while
        another run of its thread is ``running``, and never before an older pending run
        of its thread: a transaction-scoped advisory lock per thread makes the check and
        the take one step across replicas (released at commit, after which the next
        check sees the new running run).
        """
        taken: list[dict[str, Any]] = []
        async with self._db.transaction() as cur:
            await cur.execute(
                "SELECT run_id, thread_id, created_at, seq FROM lgp_runs "
                "WHERE status = 'pending' "
                "ORDER BY created_at, seq LIMIT %s FOR UPDATE SKIP LOCKED",
                (max(limit * 4, 16),),
            )
            candidates = list(await cur.fetchall())
            threads: set[str] = set()
            for run_id, thread_id, created_at, seq in candidates:
                if len(taken) >= limit:
                    break
                if thread_id in threads:
                    continue  # one run per thread per claim
                await cur.execute(
                    "SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 7))", (thread_id,)
                )
                if not (await cur.fetchone())[0]:
                    continue  # another replica is claiming for this thread right now
                # Runs of a thread start in order: not while one runs, nor before an
                # older pending one (which another replica may hold locked right now).
                await cur.execute(
                    "SELECT 1 FROM lgp_runs WHERE thread_id = %s AND (status = 'running' "
                    "OR (status = 'pending' AND (created_at, seq) < (%s, %s))) LIMIT 1",
                    (thread_id, created_at, seq),
                )
                if await cur.fetchone() is not None:
                    continue
                await cur.execute(
                    "UPDATE lgp_runs SET status = 'running', owner = %s, updated_at = %s, "
                    "lease_until = now() + make_interval(secs => %s) WHERE run_id = %s "
                    f"RETURNING {_COLUMNS}",
                    (owner, updated_at, lease_s, run_id),
                )
                taken.append(_row(await cur.fetchone()))
                threads.add(thread_id)
        return taken

    async def heartbeat(self, owner: str, run_ids: list[str], *, lease_s: float) -> list[str]:
        """Extend ``owner``'s leases on ``run_ids``; returns the ones it still holds (a
        run missing from the answer was requeued or finished elsewhere: stop it)."""
        if not run_ids:
            return []
        rows = await self._db.fetch(
            "UPDATE lgp_runs SET lease_until = now() + make_interval(secs => %s) "
            "WHERE run_id = ANY(%s) AND owner = %s AND status = 'running' RETURNING run_id",
            (lease_s, list(run_ids), owner),
        )
        return [r[0] for r in rows]

    async def requeue_expired(
        self, *, max_attempts: int, updated_at: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The reaper: ``running`` runs whose lease ran out go back to ``pending`` with
        ``attempt + 1`` (no owner), or to ``error`` once ``attempt`` reached
        ``max_attempts``. Returns (requeued, failed) rows. Two reapers never take the
        same run (``SKIP LOCKED``)."""
        async with self._db.transaction() as cur:
            await cur.execute(
                "SELECT run_id FROM lgp_runs WHERE status = 'running' AND lease_until < now() "
                "FOR UPDATE SKIP LOCKED"
            )
            expired = [r[0] for r in await cur.fetchall()]
            if not expired:
                return [], []
            await cur.execute(
                "UPDATE lgp_runs SET status = 'pending', owner = NULL, lease_until = NULL, "
                "attempt = attempt + 1, updated_at = %s "
                f"WHERE run_id = ANY(%s) AND attempt < %s RETURNING {_COLUMNS}",
                (updated_at, expired, max_attempts),
            )
            requeued = [_row(r) for r in await cur.fetchall()]
            await cur.execute(
                "UPDATE lgp_runs SET status = 'error', owner = NULL, lease_until = NULL, "
                "updated_at = %s "
                f"WHERE run_id = ANY(%s) AND attempt >= %s RETURNING {_COLUMNS}",
                (updated_at, expired, max_attempts),
            )
            failed = [_row(r) for r in await cur.fetchall()]
        return requeued, failed

    async def finish(self, run_id: str, owner: str, status: str, updated_at: str) -> bool:
        """Record the final ``status`` of a run ``owner`` executed, if ``owner`` still
        holds it; False when its lease was lost (another replica owns the run now)."""
        return (
            await self._db.execute(
                "UPDATE lgp_runs SET status = %s, updated_at = %s, owner = NULL, "
                "lease_until = NULL WHERE run_id = %s AND owner = %s AND status = 'running'",
                (status, updated_at, run_id, owner),
            )
            > 0
        )

    async def lease(self, run_id: str) -> tuple[str | None, float | None]:
        """``(owner, seconds left on its lease)`` of a run (``None`` when not held)."""
        rows = await self._db.fetch(
            "SELECT owner, EXTRACT(EPOCH FROM lease_until - now()) FROM lgp_runs WHERE run_id = %s",
            (run_id,),
        )
        if not rows:
            return None, None
        owner, left = rows[0]
        return owner, None if left is None else float(left)

    async def delete_checkpoints_of_run(self, thread_id: str, run_id: str) -> int:
        """Delete the checkpoints (and their pending writes) a run wrote to a thread:
        those whose metadata names the run. This is what ``rollback`` undoes. Channel
        blobs stay: the next run may be writing new ones for this thread right now, and
        an unreferenced blob is only space (``lgp-lab db prune`` reclaims it)."""
        async with self._db.transaction() as cur:
            await cur.execute(
                "DELETE FROM checkpoints WHERE thread_id = %s AND metadata ->> 'run_id' = %s "
                "RETURNING checkpoint_ns, checkpoint_id",
                (thread_id, run_id),
            )
            doomed = list(await cur.fetchall())
            if not doomed:
                return 0
            await cur.execute(
                "DELETE FROM checkpoint_writes AS w USING unnest(%s::text[], %s::text[]) "
                "AS d(ns, id) WHERE w.thread_id = %s AND w.checkpoint_ns = d.ns "
                "AND w.checkpoint_id = d.id",
                ([ns for ns, _ in doomed], [cid for _, cid in doomed], thread_id),
            )
        return len(doomed)


def _jsonable(value: Any) -> Any:
    from lgp_lab.runtime.jsonable import to_jsonable

    return to_jsonable(value)


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_KEYS, row, strict=True))
    for key in ("kwargs", "metadata"):
        if not isinstance(out[key], dict):
            out[key] = {}
    return out
