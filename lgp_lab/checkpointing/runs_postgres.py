"""Run records on PostgreSQL: the table ``lgp_runs`` beside the checkpoints.

The same methods and rows as :class:`~lgp_lab.checkpointing.runs_sqlite.SqliteRunStore`
(:class:`lgp_lab.runtime.runs.RunStore`). The table also has ``owner`` (the replica
holding a run) and ``lease_until``, the columns replicas claim runs with; ``seq`` orders
runs created in the same instant, as SQLite's rowid does.
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
