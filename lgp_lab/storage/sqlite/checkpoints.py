"""SQLite checkpoints: an ``AsyncSqliteSaver`` tuned for a shared file, and SQL session queries.

The file is in WAL mode with a busy timeout, so several processes (a CLI run, a
notebook kernel, a served API) can write one file without lock errors.
"""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    CheckpointTuple,
    get_checkpoint_id,
    get_checkpoint_metadata,
)
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.checkpoint.sqlite.utils import load_pending_writes, pending_writes_sql

from lgp_lab.storage.sqlite._calls import fetch, fetch_with, transact

__all__ = [
    "LabSqliteSaver",
    "RunCapture",
    "SqliteSessionStore",
    "open_sqlite_saver",
]


@dataclass
class RunCapture:
    """Filled in by the saver while a run executes: the thread's newest checkpoint id."""

    thread_id: str
    checkpoint_id: str | None = None


# Set by the runner around one execution; tasks LangGraph spawns inherit it.
current_run: contextvars.ContextVar[RunCapture | None] = contextvars.ContextVar(
    "lgp_current_run", default=None
)


class LabSqliteSaver(AsyncSqliteSaver):
    """``AsyncSqliteSaver`` that reports each root checkpoint it writes to the current run,
    and reads and writes in one hop to the database thread each.

    Reporting gives a run its final checkpoint id without another query. The parent
    class pays a hop per ``aiosqlite`` call (cursor, execute, fetch, commit, close: three
    to six per checkpoint); a run of three nodes writes about ten times. ``aput``,
    ``aput_writes`` and ``aget_tuple`` here run the parent's own SQL in one function on
    the connection's thread instead (the tables, statements and serialisation are
    LangGraph's, unchanged).
    """

    async def aput(self, config, checkpoint, metadata, new_versions):  # type: ignore[override]
        await self.setup()
        conf = config["configurable"]
        thread_id, checkpoint_ns = conf["thread_id"], conf["checkpoint_ns"]
        type_, blob = self.serde.dumps_typed(checkpoint)
        meta = json.dumps(get_checkpoint_metadata(config, metadata), ensure_ascii=False)
        row = (
            str(thread_id), checkpoint_ns, checkpoint["id"], conf.get("checkpoint_id"),
            type_, blob, meta.encode("utf-8", "ignore"),
        )  # fmt: skip
        await transact(self, _put_checkpoint, row)
        capture = current_run.get()
        if capture is not None and thread_id == capture.thread_id and not checkpoint_ns:
            capture.checkpoint_id = checkpoint["id"]
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint["id"],
            }
        }

    async def aput_writes(self, config, writes, task_id, task_path=""):  # type: ignore[override]
        await self.setup()
        conf = config["configurable"]
        replace = all(w[0] in WRITES_IDX_MAP for w in writes)
        key = (str(conf["thread_id"]), str(conf["checkpoint_ns"]), str(conf["checkpoint_id"]))
        rows = [
            (*key, task_id, task_path, WRITES_IDX_MAP.get(channel, idx), channel,
             *self.serde.dumps_typed(value))
            for idx, (channel, value) in enumerate(writes)
        ]  # fmt: skip
        await transact(self, _put_writes, replace, rows)

    async def aget_tuple(self, config):  # type: ignore[override]
        await self.setup()
        checkpoint_ns = config["configurable"].get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        thread_id = str(config["configurable"]["thread_id"])
        found = await fetch_with(
            self, _get_checkpoint, thread_id, checkpoint_ns, checkpoint_id,
            pending_writes_sql(self._has_task_path),
        )  # fmt: skip
        if found is None:
            return None
        (thread_id, checkpoint_id, parent_id, type_, blob, metadata), writes = found
        return CheckpointTuple(
            {
                "configurable": {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint_ns,
                    "checkpoint_id": checkpoint_id,
                }
            },
            self.serde.loads_typed((type_, blob)),
            json.loads(metadata) if metadata is not None else {},
            (
                {
                    "configurable": {
                        "thread_id": thread_id,
                        "checkpoint_ns": checkpoint_ns,
                        "checkpoint_id": parent_id,
                    }
                }
                if parent_id
                else None
            ),
            load_pending_writes(writes, self.serde),
        )


_PUT_CHECKPOINT = (
    "INSERT OR REPLACE INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, "
    "parent_checkpoint_id, type, checkpoint, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_PUT_WRITES = (
    "INSERT OR {verb} INTO writes (thread_id, checkpoint_ns, checkpoint_id, task_id, "
    "task_path, idx, channel, type, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _put_checkpoint(conn: Any, row: tuple[Any, ...]) -> None:
    conn.execute(_PUT_CHECKPOINT, row)


def _put_writes(conn: Any, replace: bool, rows: list[tuple[Any, ...]]) -> None:
    # As the parent: writes of special channels (errors, interrupts) replace, others
    # keep the first value written.
    conn.executemany(_PUT_WRITES.format(verb="REPLACE" if replace else "IGNORE"), rows)


def _get_checkpoint(
    conn: Any, thread_id: str, checkpoint_ns: str, checkpoint_id: str | None, writes_sql: str
) -> tuple[tuple[Any, ...], list[Any]] | None:
    head = (
        "SELECT thread_id, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata "
        "FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ?"
    )
    if checkpoint_id:
        row = conn.execute(
            head + " AND checkpoint_id = ?", (thread_id, checkpoint_ns, checkpoint_id)
        ).fetchone()
    else:
        row = conn.execute(
            head + " ORDER BY checkpoint_id DESC LIMIT 1", (thread_id, checkpoint_ns)
        ).fetchone()
    if row is None:
        return None
    writes = conn.execute(writes_sql, (row[0], checkpoint_ns, row[1])).fetchall()
    return row, writes


async def open_sqlite_saver(
    path: Path, *, synchronous: str = "normal", busy_timeout_ms: int = 5000
) -> LabSqliteSaver:
    """Open (and create if needed) the SQLite checkpoint file at ``path``."""
    import aiosqlite

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = await aiosqlite.connect(str(path), timeout=busy_timeout_ms / 1000)
    try:
        await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        await conn.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: crash-safe and consistent; only the last commits can be lost on
        # power failure. Configurable as checkpoint.synchronous.
        await conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
        saver = LabSqliteSaver(conn)
        await saver.setup()
    except BaseException:
        await conn.close()
        raise
    return saver


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
