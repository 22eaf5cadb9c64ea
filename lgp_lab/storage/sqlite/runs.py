"""Run records in the project's SQLite file, beside the checkpoints.

One table, ``lgp_runs``, created on first use on the checkpointer's connection (and
under its lock), so a run record and the checkpoints it wrote live in one file and
one WAL. The queries here are the whole of :class:`lgp_lab.runtime.runs.RunStore`;
a PostgreSQL store fills the same methods.

One server writes a SQLite file, so a run needs no claim: ``running`` lives in the
owning process's memory and the row keeps ``pending`` with its ``owner`` until the run
ends. A run whose owner process is gone (``kill -9``, a crash) is adopted by the next
process that opens the file and resumed from its last checkpoint.
"""

from __future__ import annotations

import json
from typing import Any

from lgp_lab.storage.sqlite._calls import fetch, write

__all__ = ["SqliteRunStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lgp_runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    assistant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    multitask_strategy TEXT NOT NULL,
    attempt INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    metadata TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS lgp_runs_thread ON lgp_runs (thread_id, created_at);
"""
# Added after the first release: files made before get them on open.
_ADDED_COLUMNS = {"owner": "TEXT", "lease_until": "REAL", "cancel_action": "TEXT"}
_COLUMNS = (
    "run_id, thread_id, assistant_id, status, multitask_strategy, attempt, "
    "created_at, updated_at, kwargs, metadata"
)


class SqliteRunStore:
    """Run rows as plain dicts (``kwargs`` and ``metadata`` decoded from JSON).

    Args:
        saver: The Lab's ``AsyncSqliteSaver``: its connection and lock are shared, so
            run writes never contend with checkpoint writes inside this process.
    """

    # One process executes a file's runs: no claims, no cross-process cancel.
    distributed = False

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._ready = False

    async def _setup(self) -> None:
        if self._ready:
            return
        async with self.saver.lock:
            await self.saver.conn.executescript(_SCHEMA)
            async with self.saver.conn.execute("PRAGMA table_info(lgp_runs)") as cur:
                have = {row[1] for row in await cur.fetchall()}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in have:
                    alter = f"ALTER TABLE lgp_runs ADD COLUMN {column} {kind}"
                    await self.saver.conn.execute(alter)
            await self.saver.conn.commit()
        self._ready = True

    async def put(self, row: dict[str, Any]) -> None:
        """Insert a new run."""
        await self._setup()
        values = (
            row["run_id"], row["thread_id"], row["assistant_id"], row["status"],
            row["multitask_strategy"], row["attempt"], row["created_at"], row["updated_at"],
            _dumps(row["kwargs"]), _dumps(row["metadata"]), row.get("owner"),
            row.get("lease_until"),
        )  # fmt: skip
        await self._write(
            f"INSERT INTO lgp_runs ({_COLUMNS}, owner, lease_until) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            values,
        )

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
        await self._setup()
        query = "UPDATE lgp_runs SET status = ?, updated_at = ?"
        params: tuple[Any, ...] = (status, updated_at)
        if attempt is not None:
            query, params = query + ", attempt = ?", (*params, attempt)
        query, params = query + " WHERE run_id = ?", (*params, run_id)
        if owner is not None:
            query, params = query + " AND owner = ?", (*params, owner)
        return bool(await self._write(query, params))

    async def get(self, thread_id: str | None, run_id: str) -> dict[str, Any] | None:
        """One run (of ``thread_id`` when given), or ``None``."""
        await self._setup()
        query = f"SELECT {_COLUMNS} FROM lgp_runs WHERE run_id = ?"
        params: tuple[Any, ...] = (run_id,)
        if thread_id is not None:
            query += " AND thread_id = ?"
            params += (thread_id,)
        rows = await self._fetch(query, params)
        return _row(rows[0]) if rows else None

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: str | None = None
    ) -> list[dict[str, Any]]:
        """A thread's runs, newest first."""
        await self._setup()
        query = f"SELECT {_COLUMNS} FROM lgp_runs WHERE thread_id = ?"
        params: tuple[Any, ...] = (thread_id,)
        if status is not None:
            query += " AND status = ?"
            params += (status,)
        query += " ORDER BY created_at DESC, rowid DESC LIMIT ? OFFSET ?"
        rows = await self._fetch(query, (*params, limit, offset))
        return [_row(r) for r in rows]

    async def delete(self, run_id: str) -> bool:
        """Delete one run record; whether it existed."""
        await self._setup()
        return await self._write("DELETE FROM lgp_runs WHERE run_id = ?", (run_id,)) > 0

    async def delete_thread(self, thread_id: str) -> int:
        """Delete every run record of a thread; how many."""
        await self._setup()
        return await self._write("DELETE FROM lgp_runs WHERE thread_id = ?", (thread_id,))

    async def orphans(self, statuses: tuple[str, ...]) -> list[dict[str, Any]]:
        """Runs left ``pending``/``running`` by a process that is gone."""
        await self._setup()
        marks = ",".join("?" * len(statuses))
        rows = await self._fetch(
            f"SELECT {_COLUMNS} FROM lgp_runs WHERE status IN ({marks})", statuses
        )
        return [_row(r) for r in rows]

    # ------------------------------------------------------------ ownership

    async def claim_run(self, run_id: str, thread_id: str, owner: str, lease_until: float) -> bool:
        """Take ``run_id`` to execute it now. One process runs a SQLite file's runs, so
        its in-memory queue decides: always True, and nothing is written."""
        return True

    async def renew(self, owner: str, lease_until: float) -> dict[str, str]:
        """Extend ``owner``'s leases; the cancel requests for its runs (none here)."""
        return {}

    async def lost(self, owner: str, run_ids: list[str]) -> dict[str, str | None]:
        """Runs taken from a live ``owner`` (none here: one server renews no lease, and
        its runs are adopted only once its process is gone)."""
        return {}

    async def stale(self, owner: str, now: float) -> list[dict[str, Any]]:
        """Open runs of other owners, with ``owner`` and ``lease_until``, oldest first:
        the caller adopts those whose owner is gone."""
        await self._setup()
        rows = await self._fetch(
            f"SELECT {_COLUMNS}, owner, lease_until FROM lgp_runs "
            "WHERE status IN ('pending', 'running') AND (owner IS NULL OR owner != ?) "
            "ORDER BY created_at, rowid",
            (owner,),
        )
        return [_owned_row(r) for r in rows]

    async def adopt(
        self, run_id: str, previous: str | None, owner: str, lease_until: float, attempt: int
    ) -> bool:
        """Move an open run from ``previous`` (gone) to ``owner``; False if another
        process adopted it first."""
        await self._setup()
        return (
            await self._write(
                "UPDATE lgp_runs SET owner = ?, lease_until = ?, attempt = ?, status = 'pending' "
                "WHERE run_id = ? AND status IN ('pending', 'running') AND owner IS ?",
                (owner, lease_until, attempt, run_id, previous),
            )
            > 0
        )

    async def cancel_requests(self, owner: str) -> dict[str, str]:
        """Cancel requests other processes wrote for ``owner``'s runs (none here)."""
        return {}

    async def run_checkpointed(self, thread_id: str, run_id: str) -> bool:
        """Whether the run wrote any checkpoint to its thread (it had started)."""
        await self._setup()
        rows = await self._fetch(
            "SELECT 1 FROM checkpoints WHERE thread_id = ? "
            "AND json_extract(CAST(metadata AS TEXT), '$.run_id') = ? LIMIT 1",
            (thread_id, run_id),
        )
        return bool(rows)

    async def relay_requests(self, owner: str) -> list[str]:
        """Runs whose events another process asked for (none: one process runs them)."""
        return []

    async def request_cancel(self, run_id: str, action: str) -> bool:
        """Ask the owner of an open run to cancel it (its process polls; not here)."""
        return False

    async def open_runs(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's pending and running runs, oldest first."""
        await self._setup()
        rows = await self._fetch(
            f"SELECT {_COLUMNS}, owner, lease_until FROM lgp_runs "
            "WHERE thread_id = ? AND status IN ('pending', 'running') ORDER BY created_at, rowid",
            (thread_id,),
        )
        return [_owned_row(r) for r in rows]

    async def delete_checkpoints_of_run(self, thread_id: str, run_id: str) -> int:
        """Delete the checkpoints (and their pending writes) a run wrote to a thread:
        those whose metadata names the run. This is what ``rollback`` undoes."""
        await self._setup()
        rows = await self._fetch(
            "SELECT checkpoint_ns, checkpoint_id, metadata FROM checkpoints WHERE thread_id = ?",
            (thread_id,),
        )
        doomed = [(ns, cid) for ns, cid, meta in rows if _run_of(meta) == run_id]
        if not doomed:
            return 0
        async with self.saver.lock:
            conn = self.saver.conn
            await conn.executemany(
                "DELETE FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ? "
                "AND checkpoint_id = ?",
                [(thread_id, ns, cid) for ns, cid in doomed],
            )
            await conn.executemany(
                "DELETE FROM writes WHERE thread_id = ? AND checkpoint_ns = ? "
                "AND checkpoint_id = ?",
                [(thread_id, ns, cid) for ns, cid in doomed],
            )
            await conn.commit()
        return len(doomed)

    async def _write(self, query: str, params: tuple[Any, ...]) -> int:
        return await write(self.saver, query, params)

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await fetch(self.saver, query, params)


def _dumps(value: Any) -> str:
    from lgp_lab.jsonable import to_jsonable

    return json.dumps(to_jsonable(value), ensure_ascii=False)


def _loads(text: str | None) -> Any:
    if not text:
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {}


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in _COLUMNS.split(",")]
    out = dict(zip(keys, row, strict=True))
    out["kwargs"] = _loads(out["kwargs"])
    out["metadata"] = _loads(out["metadata"])
    return out


def _owned_row(row: tuple[Any, ...]) -> dict[str, Any]:
    out = _row(row[:-2])
    out["owner"], out["lease_until"] = row[-2], row[-1]
    return out


def _run_of(metadata: bytes | str | None) -> str | None:
    if not metadata:
        return None
    try:
        data = json.loads(metadata)
    except (ValueError, UnicodeDecodeError):
        return None
    return data.get("run_id") if isinstance(data, dict) else None
