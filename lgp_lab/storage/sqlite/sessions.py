"""Session queries on SQLite, answered in SQL over the saver's tables (``checkpoints``,
``writes``), as :class:`~lgp_lab.storage.postgres.sessions.PostgresSessionStore` answers
them on PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from lgp_lab.storage.sqlite._calls import fetch

__all__ = ["SqliteSessionStore"]


# Aggregates come from the primary-key index alone; `metadata` (stored after the large
# checkpoint blob) is read for one row per thread, the latest, never for every row.
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


class SqliteSessionStore:
    """Session queries answered in SQL, never by loading every checkpoint.

    Rows come back as plain dicts; the sessions layer turns them into its types.
    """

    def __init__(self, saver: AsyncSqliteSaver) -> None:
        self.saver = saver

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
            where = "AND thread_id = ?"
            params.append(thread_id)
        if workflow is None:
            # Page inside the aggregate so only the page's latest rows are read.
            query = _THREADS.format(
                where=where,
                page_inner="ORDER BY last_id DESC LIMIT ? OFFSET ?",
                filter="",
                page_outer="",
            )
            params += [limit, offset]
        else:
            query = _THREADS.format(
                where=where,
                page_inner="",
                filter="WHERE json_extract(CAST(c.metadata AS TEXT), '$.workflow') = ?",
                page_outer="LIMIT ? OFFSET ?",
            )
            params += [workflow, limit, offset]
        rows = await self._fetch(query, tuple(params))
        status = await self._statuses([(r[0], r[3]) for r in rows])
        return [
            {
                "thread_id": r[0],
                "checkpoints": r[1],
                "first_checkpoint_id": r[2],
                "last_checkpoint_id": r[3],
                "metadata": _json(r[4]),
                "status": status.get(r[3], "idle"),
            }
            for r in rows
        ]

    async def _statuses(self, latest: list[tuple[str, str]]) -> dict[str, str]:
        """``interrupted`` / ``error`` for latest checkpoints with such pending writes."""
        if not latest:
            return {}
        marks = ", ".join("(?, ?)" for _ in latest)
        rows = await self._fetch(
            f"SELECT checkpoint_id, channel FROM writes WHERE checkpoint_ns = '' "
            f"AND (thread_id, checkpoint_id) IN (VALUES {marks}) "
            "AND channel IN ('__error__', '__interrupt__')",
            tuple(v for pair in latest for v in pair),
        )
        out: dict[str, str] = {}
        for checkpoint_id, channel in rows:
            if channel == "__error__" or out.get(checkpoint_id) != "error":
                out[checkpoint_id] = "error" if channel == "__error__" else "interrupted"
        return out

    async def count_threads(self, *, workflow: str | None = None) -> int:
        """How many threads (optionally of one workflow) the file holds."""
        if workflow is None:
            query = "SELECT COUNT(DISTINCT thread_id) FROM checkpoints WHERE checkpoint_ns = ''"
            rows = await self._fetch(query, ())
        else:
            query = (
                "WITH t AS (SELECT thread_id, MAX(checkpoint_id) AS last_id FROM checkpoints "
                "WHERE checkpoint_ns = '' GROUP BY thread_id) "
                "SELECT COUNT(*) FROM t JOIN checkpoints AS c ON c.thread_id = t.thread_id "
                "AND c.checkpoint_ns = '' AND c.checkpoint_id = t.last_id "
                "WHERE json_extract(CAST(c.metadata AS TEXT), '$.workflow') = ?"
            )
            rows = await self._fetch(query, (workflow,))
        return int(rows[0][0])

    async def count_checkpoints(self, thread_id: str) -> int:
        """The number of checkpoints of one thread (an index-only count)."""
        rows = await self._fetch(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
            (thread_id,),
        )
        return int(rows[0][0])

    async def latest_checkpoint_id(self, thread_id: str) -> str | None:
        """The id of the thread's newest checkpoint, or ``None``."""
        rows = await self._fetch(
            "SELECT MAX(checkpoint_id) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
            (thread_id,),
        )
        return rows[0][0] if rows else None

    async def list_checkpoints(
        self, thread_id: str, *, limit: int = 20, before: str | None = None
    ) -> list[dict[str, Any]]:
        """One page of a thread's checkpoints, newest first, metadata only."""
        query = (
            "SELECT checkpoint_id, parent_checkpoint_id, metadata FROM checkpoints "
            "WHERE thread_id = ? AND checkpoint_ns = '' {before}"
            "ORDER BY checkpoint_id DESC LIMIT ?"
        )
        params: list[Any] = [thread_id]
        if before is not None:
            params.append(before)
        rows = await self._fetch(
            query.format(before="" if before is None else "AND checkpoint_id < ? "),
            (*params, limit),
        )
        nodes = await self._writers(thread_id, [r[1] for r in rows if r[1]])
        listed = []
        for r in rows:
            metadata = _json(r[2])
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
        rows = await self._fetch(
            "SELECT DISTINCT task_id, task_path FROM writes WHERE thread_id = ? "
            "AND checkpoint_ns = '' AND checkpoint_id = ?",
            (thread_id, checkpoint_id),
        )
        return {task_id: _node_of(task_path) for task_id, task_path in rows}

    async def _writers(self, thread_id: str, parents: list[str]) -> dict[str, list[str]]:
        """Which nodes ran from each parent checkpoint (so wrote its child), from ``writes``."""
        if not parents:
            return {}
        marks = ", ".join("?" for _ in parents)
        rows = await self._fetch(
            f"SELECT DISTINCT checkpoint_id, task_path FROM writes WHERE thread_id = ? "
            f"AND checkpoint_ns = '' AND checkpoint_id IN ({marks})",
            (thread_id, *parents),
        )
        out: dict[str, list[str]] = {}
        for checkpoint_id, task_path in rows:
            name = _node_of(task_path)
            if name not in out.setdefault(checkpoint_id, []):
                out[checkpoint_id].append(name)
        return out

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        await self.saver.setup()
        return await fetch(self.saver, query, params)


def _node_of(task_path: str | None) -> str:
    # task_path is "~__pregel_pull, <node>" (or a push path ending in the node).
    return str(task_path or "").split(", ")[-1].strip() or "?"


def _json(blob: bytes | str | None) -> dict[str, Any]:
    if blob is None:
        return {}
    try:
        value = json.loads(blob)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}
