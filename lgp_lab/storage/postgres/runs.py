"""Run records on PostgreSQL: the table ``lgp_runs`` beside the checkpoints.

The same methods and rows as :class:`~lgp_lab.storage.sqlite.runs.SqliteRunStore`
(:class:`lgp_lab.runtime.runs.RunStore`). The table also has ``owner`` (the replica
holding a run) and ``lease_until``, the columns replicas claim runs with; ``seq`` orders
runs created in the same instant, as SQLite's rowid does.

Several replicas share the table (``distributed``): a run is held by the replica that
accepted it (``owner``, renewing ``lease_until``); :meth:`PostgresRunStore.claim_run`
starts it only when no other run of its thread is running anywhere; another replica asks
for a cancel through ``cancel_action``; a run whose owner is gone is adopted by exactly
one replica (compare-and-set on ``owner``). The policy (leases, adoption, retries) is
:mod:`lgp_lab.runtime.runs.ownership`'s.
"""

from __future__ import annotations

from typing import Any

from lgp_lab.storage.postgres.checkpoints import PgDb

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

    # Other replicas execute runs on the same database: runs are claimed, leases kept.
    distributed = True

    async def put(self, row: dict[str, Any]) -> None:
        """Insert a new run (with its ``owner`` and ``lease_until``, epoch seconds)."""
        await self._db.execute(_INSERT, _insert_values(row))

    async def set_status(
        self,
        run_id: str,
        status: str,
        updated_at: str,
        attempt: int | None = None,
        *,
        owner: str | None = None,
    ) -> bool:
        """Record a run's new status (and attempt, when it starts again). With ``owner``,
        only while the run is still that owner's (a fenced write); whether it was made."""
        query = "UPDATE lgp_runs SET status = %s, updated_at = %s"
        params: tuple[Any, ...] = (status, updated_at)
        if attempt is not None:
            query, params = query + ", attempt = %s", (*params, attempt)
        query, params = query + " WHERE run_id = %s", (*params, run_id)
        if owner is not None:
            query, params = query + " AND owner = %s", (*params, owner)
        return bool(await self._db.execute(query, params))

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

    # ------------------------------------------------------ ownership (runtime.runs.ownership)

    async def claim_run(self, run_id: str, thread_id: str, owner: str, lease_until: float) -> bool:
        """Take ``run_id`` (created by ``owner``) to execute it now: True unless another
        run of its thread is running on any replica, or an older one is pending. The
        per-thread advisory lock makes check and take one step across replicas; the
        unique index on running runs backs it."""
        import psycopg

        try:
            async with self._db.transaction() as cur:
                await cur.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (thread_id,)
                )
                await cur.execute(
                    "UPDATE lgp_runs AS r SET status = 'running', owner = %s, "
                    "lease_until = to_timestamp(%s) "
                    "WHERE r.run_id = %s AND r.status = 'pending' AND NOT EXISTS ("
                    "  SELECT 1 FROM lgp_runs AS o WHERE o.thread_id = r.thread_id AND "
                    "  (o.status = 'running' OR (o.status = 'pending' AND "
                    "   (o.created_at, o.seq) < (r.created_at, r.seq)))) RETURNING 1",
                    (owner, lease_until, run_id),
                )
                return await cur.fetchone() is not None
        except psycopg.errors.UniqueViolation:
            return False  # another claimer's run of this thread just started

    async def renew(self, owner: str, lease_until: float) -> dict[str, str]:
        """Extend every lease ``owner`` holds; the cancel requests written for its runs."""
        rows = await self._db.fetch(
            "UPDATE lgp_runs SET lease_until = to_timestamp(%s) WHERE owner = %s "
            "AND status IN ('pending', 'running') RETURNING run_id, cancel_action",
            (lease_until, owner),
        )
        return {run_id: action for run_id, action in rows if action}

    async def lost(self, owner: str, run_ids: list[str]) -> dict[str, str | None]:
        """Of ``run_ids`` (runs ``owner`` executes), those another replica has taken
        since (``owner``'s lease ran out, e.g. it was stuck), with their new owner."""
        if not run_ids:
            return {}
        rows = await self._db.fetch(
            "SELECT run_id, owner FROM lgp_runs WHERE run_id = ANY(%s) "
            "AND owner IS DISTINCT FROM %s",
            (list(run_ids), owner),
        )
        return dict(rows)

    async def cancel_requests(self, owner: str) -> dict[str, str]:
        """The cancel requests other replicas wrote for ``owner``'s open runs."""
        rows = await self._db.fetch(
            "SELECT run_id, cancel_action FROM lgp_runs WHERE owner = %s "
            "AND status IN ('pending', 'running') AND cancel_action IS NOT NULL",
            (owner,),
        )
        return dict(rows)

    async def stale(self, owner: str, now: float) -> list[dict[str, Any]]:
        """Open runs of other owners that may be adoptable: no owner, lease run out, or
        owned from this machine (the caller checks whether that process is alive)."""
        import socket

        rows = await self._db.fetch(
            f"SELECT {_COLUMNS}, owner, EXTRACT(EPOCH FROM lease_until) FROM lgp_runs "
            "WHERE status IN ('pending', 'running') AND owner IS DISTINCT FROM %s AND "
            "(owner IS NULL OR lease_until IS NULL OR lease_until < to_timestamp(%s) OR "
            " split_part(owner, ':', 1) = %s) ORDER BY created_at, seq LIMIT 500",
            (owner, now, socket.gethostname()),
        )
        return [_owned_row(r) for r in rows]

    async def adopt(
        self, run_id: str, previous: str | None, owner: str, lease_until: float, attempt: int
    ) -> bool:
        """Move an open run from ``previous`` (gone) to ``owner``, as ``pending`` (its
        new owner claims it to run it); False if another replica adopted it first."""
        return (
            await self._db.execute(
                "UPDATE lgp_runs SET owner = %s, lease_until = to_timestamp(%s), "
                "attempt = %s, status = 'pending', cancel_action = NULL WHERE run_id = %s "
                "AND status IN ('pending', 'running') AND owner IS NOT DISTINCT FROM %s",
                (owner, lease_until, attempt, run_id, previous),
            )
            > 0
        )

    async def put_checked(
        self, row: dict[str, Any], strategy: str, local: set[str]
    ) -> list[dict[str, Any]]:
        """Insert a new run unless the multitask ``strategy`` refuses it, as one step
        across replicas (the thread's advisory lock, the one claims take): the thread's
        open runs not in ``local`` (this process's own) are returned; with ``reject`` and
        any of them nothing is inserted; with ``interrupt``/``rollback`` their owners are
        asked to stop them."""
        async with self._db.transaction() as cur:
            await cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 7))", (row["thread_id"],)
            )
            await cur.execute(
                f"SELECT {_COLUMNS} FROM lgp_runs WHERE thread_id = %s "
                "AND status IN ('pending', 'running') ORDER BY created_at, seq",
                (row["thread_id"],),
            )
            others = [r for r in map(_row, await cur.fetchall()) if r["run_id"] not in local]
            if others and strategy == "reject":
                return others
            if others and strategy in ("interrupt", "rollback"):
                await cur.execute(
                    "UPDATE lgp_runs SET cancel_action = %s WHERE run_id = ANY(%s) "
                    "AND status IN ('pending', 'running')",
                    (strategy, [r["run_id"] for r in others]),
                )
            await cur.execute(_INSERT, _insert_values(row))
        return others

    async def request_cancel(self, run_id: str, action: str) -> bool:
        """Ask the owner of an open run to cancel it (``interrupt`` or ``rollback``)."""
        return (
            await self._db.execute(
                "UPDATE lgp_runs SET cancel_action = %s WHERE run_id = %s "
                "AND status IN ('pending', 'running')",
                (action, run_id),
            )
            > 0
        )

    async def open_runs(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's pending and running runs, oldest first (with ``owner`` and
        ``lease_until``, as SQLite's)."""
        rows = await self._db.fetch(
            f"SELECT {_COLUMNS}, owner, EXTRACT(EPOCH FROM lease_until) FROM lgp_runs "
            "WHERE thread_id = %s AND status IN ('pending', 'running') ORDER BY created_at, seq",
            (thread_id,),
        )
        return [_owned_row(r) for r in rows]

    async def request_relay(self, run_id: str) -> bool:
        """Ask the owner of an open run to copy its events here (runtime.runs.relay)."""
        return (
            await self._db.execute(
                "UPDATE lgp_runs SET relay = true WHERE run_id = %s "
                "AND status IN ('pending', 'running') AND NOT relay",
                (run_id,),
            )
            > 0
        )

    async def relay_requests(self, owner: str) -> list[str]:
        """``owner``'s open runs whose events another replica asked for."""
        rows = await self._db.fetch(
            "SELECT run_id FROM lgp_runs WHERE owner = %s AND relay "
            "AND status IN ('pending', 'running')",
            (owner,),
        )
        return [r[0] for r in rows]

    async def put_events(self, run_id: str, events: list[tuple[int, str, bytes]]) -> None:
        """Append relayed events ``(seq, event, data)`` of a run, in order."""
        if not events:
            return
        async with self._db.transaction() as cur:
            await cur.executemany(
                "INSERT INTO lgp_run_events (run_id, seq, event, data) VALUES (%s, %s, %s, %s)",
                [(run_id, seq, event, data) for seq, event, data in events],
            )

    async def events_after(self, run_id: str, after: int) -> list[tuple[int, str, bytes]]:
        """Relayed events of a run after event ``after`` (0: from the first), in order."""
        return await self._db.fetch(
            "SELECT id, event, data FROM lgp_run_events WHERE run_id = %s AND id > %s "
            "ORDER BY id LIMIT 1000",
            (run_id, after),
        )

    async def run_checkpointed(self, thread_id: str, run_id: str) -> bool:
        """Whether the run wrote any checkpoint to its thread (it had started)."""
        rows = await self._db.fetch(
            "SELECT 1 FROM checkpoints WHERE thread_id = %s AND metadata ->> 'run_id' = %s LIMIT 1",
            (thread_id, run_id),
        )
        return bool(rows)

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


_INSERT = (
    f"INSERT INTO lgp_runs ({_COLUMNS}, owner, lease_until) "
    "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,to_timestamp(%s))"
)


def _insert_values(row: dict[str, Any]) -> tuple[Any, ...]:
    from psycopg.types.json import Jsonb

    return (
        row["run_id"], row["thread_id"], row["assistant_id"], row["status"],
        row["multitask_strategy"], row["attempt"], row["created_at"], row["updated_at"],
        Jsonb(_jsonable(row["kwargs"])), Jsonb(_jsonable(row["metadata"])),
        row.get("owner"), row.get("lease_until"),
    )  # fmt: skip


def _jsonable(value: Any) -> Any:
    from lgp_lab.jsonable import to_jsonable

    return to_jsonable(value)


def _owned_row(row: tuple[Any, ...]) -> dict[str, Any]:
    """A run row with its ``owner`` and ``lease_until`` (epoch seconds) last."""
    out = _row(row[:-2])
    out["owner"] = row[-2]
    out["lease_until"] = None if row[-1] is None else float(row[-1])
    return out


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(_KEYS, row, strict=True))
    for key in ("kwargs", "metadata"):
        if not isinstance(out[key], dict):
            out[key] = {}
    return out
