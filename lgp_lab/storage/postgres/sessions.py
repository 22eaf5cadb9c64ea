"""Session queries on PostgreSQL, answered in SQL over the saver's tables
(``checkpoints``, ``checkpoint_writes``), as :class:`~lgp_lab.storage.sqlite.sessions.
SqliteSessionStore` answers them on SQLite: the same methods, the same rows."""

from __future__ import annotations

from typing import Any

from lgp_lab.storage.postgres.checkpoints import PgDb

__all__ = ["PostgresSessionStore"]

_THREADS = """
WITH t AS (
    SELECT thread_id, COUNT(*) AS n, MIN(checkpoint_id) AS first_id, MAX(checkpoint_id) AS last_id
    FROM checkpoints
    WHERE checkpoint_ns = '' {where}
    GROUP BY thread_id
    {page_inner}
)
SELECT t.thread_id, t.n, t.first_id, t.last_id, c.metadata
FROM t JOIN checkpoints AS c
  ON c.thread_id = t.thread_id AND c.checkpoint_ns = '' AND c.checkpoint_id = t.last_id
{filter}
ORDER BY t.last_id DESC
{page_outer}
"""


class PostgresSessionStore:
    """Rows come back as plain dicts; the sessions layer turns them into its types."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._db = PgDb(saver)

    async def list_threads(
        self,
        *,
        workflow: str | None = None,
        thread_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Threads, newest activity first, with counts and latest metadata."""
        where, params = "", []
        if thread_id is not None:
            where = "AND thread_id = %s"
            params.append(thread_id)
        if workflow is None:
            query = _THREADS.format(
                where=where,
                page_inner="ORDER BY last_id DESC LIMIT %s OFFSET %s",
                filter="",
                page_outer="",
            )
            params += [limit, offset]
        else:
            query = _THREADS.format(
                where=where,
                page_inner="",
                filter="WHERE c.metadata ->> 'workflow' = %s",
                page_outer="LIMIT %s OFFSET %s",
            )
            params += [workflow, limit, offset]
        rows = await self._db.fetch(query, params)
        status = await self._statuses([(r[0], r[3]) for r in rows])
        return [
            {
                "thread_id": r[0],
                "checkpoints": int(r[1]),
                "first_checkpoint_id": r[2],
                "last_checkpoint_id": r[3],
                "metadata": r[4] if isinstance(r[4], dict) else {},
                "status": status.get(r[3], "idle"),
            }
            for r in rows
        ]

    async def _statuses(self, latest: list[tuple[str, str]]) -> dict[str, str]:
        """``interrupted`` / ``error`` for latest checkpoints with such pending writes."""
        if not latest:
            return {}
        rows = await self._db.fetch(
            "SELECT w.checkpoint_id, w.channel FROM checkpoint_writes AS w "
            "JOIN unnest(%s::text[], %s::text[]) AS l(thread_id, checkpoint_id) "
            "ON w.thread_id = l.thread_id AND w.checkpoint_id = l.checkpoint_id "
            "WHERE w.checkpoint_ns = '' AND w.channel IN ('__error__', '__interrupt__')",
            ([t for t, _ in latest], [c for _, c in latest]),
        )
        out: dict[str, str] = {}
        for checkpoint_id, channel in rows:
            if channel == "__error__" or out.get(checkpoint_id) != "error":
                out[checkpoint_id] = "error" if channel == "__error__" else "interrupted"
        return out

    async def count_threads(self, *, workflow: str | None = None) -> int:
        """How many threads (optionally of one workflow) the database holds."""
        if workflow is None:
            rows = await self._db.fetch(
                "SELECT COUNT(DISTINCT thread_id) FROM checkpoints WHERE checkpoint_ns = ''"
            )
        else:
            rows = await self._db.fetch(
                "WITH t AS (SELECT thread_id, MAX(checkpoint_id) AS last_id FROM checkpoints "
                "WHERE checkpoint_ns = '' GROUP BY thread_id) "
                "SELECT COUNT(*) FROM t JOIN checkpoints AS c ON c.thread_id = t.thread_id "
                "AND c.checkpoint_ns = '' AND c.checkpoint_id = t.last_id "
                "WHERE c.metadata ->> 'workflow' = %s",
                (workflow,),
            )
        return int(rows[0][0])

    async def count_checkpoints(self, thread_id: str) -> int:
        """The number of checkpoints of one thread."""
        rows = await self._db.fetch(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''",
            (thread_id,),
        )
        return int(rows[0][0])

    async def latest_checkpoint_id(self, thread_id: str) -> str | None:
        """The id of the thread's newest checkpoint, or ``None``."""
        rows = await self._db.fetch(
            "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = %s "
            "AND checkpoint_ns = ''",
            (thread_id,),
        )
        return rows[0][0] if rows else None

    async def list_checkpoints(
        self, thread_id: str, *, limit: int = 20, before: str | None = None
    ) -> list[dict[str, Any]]:
        """One page of a thread's checkpoints, newest first, metadata only."""
        params: list[Any] = [thread_id]
        condition = ""
        if before is not None:
            condition = "AND checkpoint_id < %s "
            params.append(before)
        rows = await self._db.fetch(
            "SELECT checkpoint_id, parent_checkpoint_id, metadata FROM checkpoints "
            f"WHERE thread_id = %s AND checkpoint_ns = '' {condition}"
            "ORDER BY checkpoint_id DESC LIMIT %s",
            (*params, limit),
        )
        nodes = await self._writers(thread_id, [r[1] for r in rows if r[1]])
        listed = []
        for r in rows:
            metadata = r[2] if isinstance(r[2], dict) else {}
            # The writes against the parent are the nodes that ran from it, which made
            # this checkpoint only if the loop did: a state edit (update_state) beside
            # them is a sibling of the loop's child, not written by those nodes.
            writers = nodes.get(r[1], []) if metadata.get("source") == "loop" else []
            listed.append({"checkpoint_id": r[0], "parent_checkpoint_id": r[1],
                           "metadata": metadata, "nodes": writers})  # fmt: skip
        return listed

    async def task_nodes(self, thread_id: str, checkpoint_id: str | None) -> dict[str, str]:
        """The node of each task that wrote against one checkpoint, by task id."""
        if checkpoint_id is None:
            return {}
        rows = await self._db.fetch(
            "SELECT DISTINCT task_id, task_path FROM checkpoint_writes WHERE thread_id = %s "
            "AND checkpoint_ns = '' AND checkpoint_id = %s",
            (thread_id, checkpoint_id),
        )
        return {task_id: _node_of(task_path) for task_id, task_path in rows}

    async def _writers(self, thread_id: str, parents: list[str]) -> dict[str, list[str]]:
        """Which nodes ran from each parent checkpoint (so wrote its child)."""
        if not parents:
            return {}
        # Ordered like SQLite's (insertion order of the writes) for equal node lists.
        rows = await self._db.fetch(
            "SELECT checkpoint_id, task_path FROM checkpoint_writes WHERE thread_id = %s "
            "AND checkpoint_ns = '' AND checkpoint_id = ANY(%s) "
            "ORDER BY checkpoint_id, task_id, idx",
            (thread_id, parents),
        )
        out: dict[str, list[str]] = {}
        for checkpoint_id, task_path in rows:
            name = _node_of(task_path)
            if name not in out.setdefault(checkpoint_id, []):
                out[checkpoint_id].append(name)
        return out


def _node_of(task_path: str | None) -> str:
    # task_path is "~__pregel_pull, <node>" (or a push path ending in the node).
    return str(task_path or "").split(", ")[-1].strip() or "?"
