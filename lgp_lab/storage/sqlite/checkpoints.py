"""SQLite checkpoints: an ``AsyncSqliteSaver`` tuned for a shared file.

The file is in WAL mode with a busy timeout, so several processes (a CLI run, a
notebook kernel, a served API) can write one file without lock errors.
"""

from __future__ import annotations

import json
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

from lgp_lab.run_context import current_run
from lgp_lab.storage.sqlite._calls import fetch_with, transact

__all__ = [
    "LabSqliteSaver",
    "open_sqlite_saver",
]


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
