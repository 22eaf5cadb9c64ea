"""Thread records on PostgreSQL: the table ``lgp_threads`` beside the checkpoints.

The same methods and rows as :class:`~lgp_lab.storage.sqlite.threads.
SqliteThreadStore`. Metadata is ``jsonb``, so a metadata filter is PostgreSQL's own
containment (``@>``, what the Agent Server's filters mean) decided in SQL, nested values
included. The one key SQL cannot decide is ``assistant_id`` of a thread a plain run wrote
(derived from its workflow by a UUIDv5 in Python): SQL keeps those candidates and the
domain layer checks them (:meth:`PostgresThreadStore.sql_filterable`).
"""

from __future__ import annotations

from typing import Any

from lgp_lab.storage.postgres.checkpoints import PgDb

__all__ = ["PostgresThreadStore"]

_CHECKPOINT_THREADS = """
WITH t AS (
    SELECT thread_id, MIN(checkpoint_id) AS first_id, MAX(checkpoint_id) AS last_id
    FROM checkpoints WHERE checkpoint_ns = '' {where} GROUP BY thread_id
)
SELECT t.thread_id, t.first_id, t.last_id, c.metadata ->> 'workflow'
FROM t JOIN checkpoints AS c
  ON c.thread_id = t.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id = t.last_id
"""

# Every thread, record or checkpoints or both, with what search filters and sorts on
# (see threads_sqlite._SEARCH); `meta` lacks the derived assistant_id, added in Python.
_SEARCH = """
WITH cp AS (
    SELECT thread_id, MIN(checkpoint_id) AS first_id, MAX(checkpoint_id) AS last_id
    FROM checkpoints WHERE checkpoint_ns = '' GROUP BY thread_id
), cpw AS (
    SELECT cp.thread_id, cp.first_id, cp.last_id, c.metadata ->> 'workflow' AS workflow
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
           workflow, r_meta,
           CASE WHEN workflow IS NULL THEN COALESCE(r_meta, '{{}}'::jsonb)
                ELSE jsonb_build_object('graph_id', workflow) || COALESCE(r_meta, '{{}}'::jsonb)
           END AS meta,
           LEAST(COALESCE(r_created, 1e300), COALESCE(lgp_uuid6_epoch(first_id), 1e300))
               AS created,
           GREATEST(COALESCE(r_updated, 0), COALESCE(lgp_uuid6_epoch(last_id), 0)) AS updated
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
_RECORD = "thread_id, created_at, updated_at, metadata, status, owner"


class PostgresThreadStore:
    """Rows of ``lgp_threads`` as plain dicts; times are epoch seconds."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._db = PgDb(saver)

    @staticmethod
    def sql_filterable(metadata: dict[str, Any]) -> bool:
        """Whether :meth:`search` decides this metadata filter alone: any JSON value,
        except ``assistant_id`` (derived from a workflow name outside SQL)."""
        return "assistant_id" not in metadata

    async def setup(self) -> None:
        """Nothing to do: the table is made by the schema migrations when the pool opens."""

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
        """Threads whose metadata contains ``metadata`` (``@>``), of ``ids``; ``flag``
        ``__interrupt__`` / ``__error__`` keeps those with such a write pending on their
        latest checkpoint (or, for errors, a record saying so). Sorted, one page."""
        where, params = _filters(metadata, ids, flag)
        direction = "DESC" if descending else "ASC"
        order = f"ORDER BY {_ORDER[sort_by]} {direction}, thread_id {direction}"
        page = ""
        if limit is not None:
            page = "LIMIT %s OFFSET %s"
            params += [limit, offset]
        query = _SEARCH.format(columns=_COLUMNS, where=where, order=order, page=page)
        rows = await self._db.fetch(query, params)
        return [
            {
                "thread_id": r[0],
                "has_record": bool(r[1]),
                "record_status": r[2],
                "record_updated_at": r[3],
                "record_owner": r[4],
                "last_checkpoint_id": r[5],
                "workflow": r[6],
                "metadata": _with_assistant(r[7], r[6]),
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
        """How many threads :meth:`search` finds with these metadata values."""
        where, params = _filters(metadata, ids, None)
        query = _SEARCH.format(columns="COUNT(*)", where=where, order="", page="")
        return int((await self._db.fetch(query, params))[0][0])

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        """The record of ``thread_id``, or ``None``."""
        rows = await self._db.fetch(
            f"SELECT {_RECORD} FROM lgp_threads WHERE thread_id = %s", (thread_id,)
        )
        return _record(rows[0]) if rows else None

    async def records(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
        """Every record (or those of ``ids``)."""
        if ids is None:
            rows = await self._db.fetch(f"SELECT {_RECORD} FROM lgp_threads")
        elif not ids:
            return []
        else:
            rows = await self._db.fetch(
                f"SELECT {_RECORD} FROM lgp_threads WHERE thread_id = ANY(%s)", (list(ids),)
            )
        return [_record(r) for r in rows]

    async def insert(self, thread_id: str, metadata: dict[str, Any], now: float) -> bool:
        """Add a record; False when ``thread_id`` already has one."""
        return (
            await self._db.execute(
                "INSERT INTO lgp_threads (thread_id, created_at, updated_at, metadata, status) "
                "VALUES (%s, %s, %s, %s, 'idle') ON CONFLICT (thread_id) DO NOTHING",
                (thread_id, now, now, _jsonb(metadata)),
            )
            > 0
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
        """Create the record if missing, merge ``metadata`` into it (top-level keys; with
        ``replace`` set whole), set ``status`` (``owner``: the process a ``busy`` status
        belongs to); return it. One statement, so replicas touching a thread at once
        never lose a key."""
        first_status = status or "idle"
        rows = await self._db.fetch(
            """
            INSERT INTO lgp_threads AS r (thread_id, created_at, updated_at, metadata, status,
                                          owner)
            VALUES (%(id)s, %(now)s, %(now)s, %(meta)s, %(first_status)s, %(first_owner)s)
            ON CONFLICT (thread_id) DO UPDATE SET
                metadata = CASE WHEN %(replace)s THEN EXCLUDED.metadata
                                ELSE r.metadata || EXCLUDED.metadata END,
                status = COALESCE(%(status)s::text, r.status),
                owner = CASE WHEN COALESCE(%(status)s::text, r.status) <> 'busy' THEN NULL
                             WHEN %(status)s::text IS NOT NULL THEN %(owner)s::text
                             ELSE r.owner END,
                updated_at = EXCLUDED.updated_at
            RETURNING thread_id, created_at, updated_at, metadata, status, owner
            """,
            {
                "id": thread_id,
                "now": now,
                "meta": _jsonb(metadata or {}),
                "first_status": first_status,
                "first_owner": owner if first_status == "busy" else None,
                "replace": replace,
                "status": status,
                "owner": owner,
            },
        )
        return _record(rows[0])

    async def delete(self, thread_id: str) -> bool:
        """Remove the record; False if there was none."""
        return (
            await self._db.execute("DELETE FROM lgp_threads WHERE thread_id = %s", (thread_id,)) > 0
        )

    async def has_checkpoints(self, thread_id: str) -> bool:
        """Whether ``thread_id`` has any checkpoint (an index probe)."""
        rows = await self._db.fetch(
            "SELECT 1 FROM checkpoints WHERE thread_id = %s LIMIT 1", (thread_id,)
        )
        return bool(rows)

    async def checkpoint_threads(self, thread_id: str | None = None) -> list[tuple[Any, ...]]:
        """``(thread_id, first_checkpoint_id, last_checkpoint_id, workflow)`` per thread
        with checkpoints (or of ``thread_id`` only)."""
        if thread_id is None:
            return await self._db.fetch(_CHECKPOINT_THREADS.format(where=""))
        return await self._db.fetch(
            _CHECKPOINT_THREADS.format(where="AND thread_id = %s"), (thread_id,)
        )

    async def flagged(self, latest: list[tuple[str, str]]) -> dict[str, set[str]]:
        """The control writes (``__interrupt__``, ``__error__``) pending on each thread's
        latest checkpoint, by thread id."""
        if not latest:
            return {}
        rows = await self._db.fetch(
            "SELECT DISTINCT w.thread_id, w.channel FROM checkpoint_writes AS w "
            "JOIN unnest(%s::text[], %s::text[]) AS l(thread_id, checkpoint_id) "
            "ON w.thread_id = l.thread_id AND w.checkpoint_id = l.checkpoint_id "
            "WHERE w.checkpoint_ns = '' AND w.channel IN ('__error__', '__interrupt__')",
            ([t for t, _ in latest], [c for _, c in latest]),
        )
        out: dict[str, set[str]] = {}
        for thread_id, channel in rows:
            out.setdefault(thread_id, set()).add(channel)
        return out

    async def copy_checkpoints(self, source: str, target: str) -> int:
        """Copy every checkpoint, channel blob and pending write of ``source`` (all
        namespaces) to ``target`` as stored, in one transaction; how many checkpoints."""
        async with self._db.transaction() as cur:
            await cur.execute(
                "INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, "
                "type, blob) SELECT %s, checkpoint_ns, channel, version, type, blob "
                "FROM checkpoint_blobs WHERE thread_id = %s ON CONFLICT DO NOTHING",
                (target, source),
            )
            await cur.execute(
                "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
                "parent_checkpoint_id, type, checkpoint, metadata) "
                "SELECT %s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
                "checkpoint, metadata FROM checkpoints WHERE thread_id = %s "
                "ON CONFLICT DO NOTHING",
                (target, source),
            )
            copied = cur.rowcount
            await cur.execute(
                "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, "
                "task_id, task_path, idx, channel, type, blob) "
                "SELECT %s, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, "
                "type, blob FROM checkpoint_writes WHERE thread_id = %s ON CONFLICT DO NOTHING",
                (target, source),
            )
        return copied

    async def prune_history(self, thread_id: str) -> int:
        """Delete the thread's root checkpoints but its latest (and their pending
        writes); subgraph checkpoints stay, as a pending subgraph resumes from them.
        Channel blobs stay (a run may be writing new ones; ``lgp-lab db prune`` reclaims
        unreferenced ones). Returns how many checkpoints were deleted."""
        keep = (
            "(SELECT MAX(checkpoint_id) FROM checkpoints "
            "WHERE thread_id = %s AND checkpoint_ns = '')"
        )
        async with self._db.transaction() as cur:
            await cur.execute(
                "DELETE FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = '' "
                f"AND checkpoint_id < {keep}",
                (thread_id, thread_id),
            )
            await cur.execute(
                "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = '' "
                f"AND checkpoint_id < {keep}",
                (thread_id, thread_id),
            )
            return cur.rowcount


def _filters(
    metadata: dict[str, Any] | None,
    ids: list[str] | None,
    flag: str | None,
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if metadata:
        rest = {k: v for k, v in metadata.items() if k != "assistant_id"}
        if rest:
            clauses.append("meta @> %s")
            params.append(_jsonb(rest))
        if "assistant_id" in metadata:
            # A record's own assistant_id is decided here; a derived one (workflow set,
            # none recorded) is left to the caller's exact check.
            clauses.append(
                "(r_meta @> %s OR (workflow IS NOT NULL AND NOT COALESCE(r_meta ? "
                "'assistant_id', false)))"
            )
            params.append(_jsonb({"assistant_id": metadata["assistant_id"]}))
    if ids is not None:
        clauses.append("thread_id = ANY(%s)")
        params.append(list(ids))
    if flag in ("__interrupt__", "__error__"):
        clauses.append(
            "EXISTS (SELECT 1 FROM checkpoint_writes AS w WHERE w.thread_id = m.thread_id AND "
            "w.checkpoint_ns = '' AND w.checkpoint_id = m.last_id AND w.channel = %s)"
            + (" OR r_status = 'error'" if flag == "__error__" else "")
        )
        params.append(flag)
    return ("WHERE " + " AND ".join(f"({c})" for c in clauses)) if clauses else "", params


def _with_assistant(meta: Any, workflow: str | None) -> dict[str, Any]:
    out = dict(meta) if isinstance(meta, dict) else {}
    if workflow and "assistant_id" not in out:
        from lgp_lab.ids import assistant_id_for

        out["assistant_id"] = assistant_id_for(workflow)
    return out


def _jsonb(value: dict[str, Any]) -> Any:
    from psycopg.types.json import Jsonb

    from lgp_lab.jsonable import to_jsonable

    return Jsonb(to_jsonable(value))


def _record(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "thread_id": row[0],
        "created_at": row[1],
        "updated_at": row[2],
        "metadata": row[3] if isinstance(row[3], dict) else {},
        "status": row[4],
        "owner": row[5],
    }
