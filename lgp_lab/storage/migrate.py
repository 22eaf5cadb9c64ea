"""Copy a project's SQLite file into PostgreSQL: ``lgp-lab db migrate --to URL``.

Everything moves: checkpoints, their pending writes and (on PostgreSQL) blobs, store
items, run records, thread records, custom assistants and traces. How:

- **Checkpoints** through the savers' own API: each is read from SQLite and deserialised
  as ``AsyncSqliteSaver`` does, then written with ``AsyncPostgresSaver.aput`` (a few at
  once on the pool). The two savers store a checkpoint differently (one serialised blob
  vs JSONB plus per-channel blobs), so only ``aput`` is sure to write what the Postgres
  saver reads back. Ids and parent links are kept, so history and time travel carry over.
- **Writes** by direct SQL: both savers store a write as the same serialiser's
  ``(type, bytes)``; copying rows keeps ``task_path`` and ``idx`` exactly (``aput_writes``
  would recompute them) and is much faster.
- **Store items and our tables** by direct SQL, column by column (JSON text becomes
  ``jsonb``, SQLite timestamps ``timestamptz``); the target's tables are created first
  by the savers' ``setup()`` and our versioned schema.

Every insert skips a row whose key is already there (checkpoints are upserted with the
same content), so a migration that stopped half way can be run again. A target that
already holds data is refused unless ``force`` (merge) is given. Afterwards the rows of
every table are counted on both sides and compared.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lgp_lab.errors import LgpError

__all__ = ["MigrationError", "MigrationReport", "TableCount", "migrate_sqlite_to_postgres"]

# Our tables and the store, in the order they are copied (checkpoints and writes first).
TABLES = (
    "store",
    "lgp_threads",
    "lgp_runs",
    "lgp_assistants",
    "lgp_assistant_versions",
    "lgp_traces",
    "lgp_spans",
)
_PAGE = 500
_CONCURRENT_PUTS = 8


class MigrationError(LgpError):
    """The migration cannot start or its counts do not match."""


@dataclass
class TableCount:
    """Rows of one table in the source, in the target before, and in the target after."""

    table: str
    source: int
    target_before: int = 0
    target_after: int = 0

    @property
    def ok(self) -> bool:
        """Every source row is in the target (an empty target ends equal)."""
        if self.target_before == 0:
            return self.target_after == self.source
        return self.target_after >= self.source


@dataclass
class MigrationReport:
    """What was copied where, with the per-table counts."""

    source: str
    target: str
    merged: bool
    tables: list[TableCount] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every table's counts check out."""
        return all(t.ok for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the CLI's ``--json`` document)."""
        data = asdict(self)
        data["ok"] = self.ok
        for row, table in zip(data["tables"], self.tables, strict=True):
            row["ok"] = table.ok
        return data


async def migrate_sqlite_to_postgres(
    source: Path,
    target: Any,
    *,
    force: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> MigrationReport:
    """Copy everything in the SQLite file ``source`` into the PostgreSQL database that
    ``target`` (a ``CheckpointConfig`` with ``backend: postgres``) describes.

    Args:
        source: The SQLite checkpoint file.
        target: Where to; its tables are created if missing.
        force: Merge into a target that already has rows (else refused).
        progress: Called with (table, rows done, rows in all) while copying.

    Raises:
        MigrationError: No such file, a non-empty target without ``force``, or counts
            that do not match after copying.
        DatabaseUnavailableError: The target cannot be reached (host/port named).
    """
    from lgp_lab.storage.postgres.checkpoints import (
        close_postgres_saver,
        close_postgres_store,
        describe_url,
        open_postgres_saver,
        open_postgres_store,
    )
    from lgp_lab.storage.sqlite.checkpoints import open_sqlite_saver

    started = time.perf_counter()
    if not source.is_file():
        raise MigrationError(
            f"no SQLite checkpoint file at {source}",
            hint="run from the project (or pass --from PATH to the .sqlite file)",
        )
    report = MigrationReport(source=str(source), target=describe_url(target.url), merged=force)
    dest = await open_postgres_saver(target.model_copy(update={"pool_max_size": _CONCURRENT_PUTS}))
    store = None
    try:
        store = await open_postgres_store(dest)  # creates the store's tables
        src = await open_sqlite_saver(source)
        try:
            await _migrate(src, dest, report, force, progress)
        finally:
            await src.conn.close()
    finally:
        if store is not None:
            await close_postgres_store(store)
        await close_postgres_saver(dest)
    report.seconds = time.perf_counter() - started
    if not report.ok:
        bad = ", ".join(
            f"{t.table} ({t.source} in the file, {t.target_after} in the database)"
            for t in report.tables
            if not t.ok
        )
        raise MigrationError(
            f"counts differ after copying: {bad}",
            hint="run the same command again (it skips rows already copied); "
            "if it persists, report it with both numbers",
        )
    return report


async def _migrate(
    src: Any,
    dest: Any,
    report: MigrationReport,
    force: bool,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    source_tables = await _sqlite_tables(src)
    counts = {
        "threads": TableCount("threads", await _sqlite_threads(src)),
        "checkpoints": TableCount("checkpoints", await _sqlite_count(src, "checkpoints")),
        "writes": TableCount("checkpoint_writes", await _sqlite_count(src, "writes")),
    }
    for table in TABLES:
        if table in source_tables:
            counts[table] = TableCount(table, await _sqlite_count(src, table))
    targets = {"checkpoints": "checkpoints", "writes": "checkpoint_writes"}
    for key, row in counts.items():
        row.target_before = await _target_count(dest, targets.get(key, key))
    filled = [
        f"{r.table}: {r.target_before}"
        for key, r in counts.items()
        if r.target_before and key != "threads"
    ]
    if filled and not force:
        raise MigrationError(
            f"the target database {report.target} is not empty ({', '.join(filled)})",
            hint="migrate into an empty database, or pass --force to merge into this one "
            "(rows whose keys are already there are skipped)",
        )
    await _copy_checkpoints(src, dest, counts["checkpoints"].source, progress)
    await _copy_writes(src, dest, counts["writes"].source, progress)
    for table in TABLES:
        if table in counts:
            await _copy_table(src, dest, table, counts[table].source, progress)
    if "store_vectors" in source_tables and await _sqlite_count(src, "store_vectors"):
        report.notes.append(
            "the store's semantic index (store_vectors) is not copied: the PostgreSQL "
            "store embeds items again when they are next written"
        )
    for key, row in counts.items():
        row.target_after = await _target_count(dest, targets.get(key, key))
    report.tables = list(counts.values())


# ---------------------------------------------------------------------- checkpoints


async def _copy_checkpoints(
    src: Any, dest: Any, total: int, progress: Callable[[str, int, int], None] | None
) -> None:
    """Read, deserialise and ``aput`` each checkpoint (several at once on the pool)."""
    serde = src.serde
    done = 0
    limit = asyncio.Semaphore(_CONCURRENT_PUTS)

    async def put(row: tuple[Any, ...]) -> None:
        thread_id, ns, _id, parent_id, type_, blob, metadata = row
        checkpoint = serde.loads_typed((type_, blob))
        meta = json.loads(metadata) if metadata is not None else {}
        configurable = {"thread_id": thread_id, "checkpoint_ns": ns}
        if parent_id:
            configurable["checkpoint_id"] = parent_id
        async with limit:
            await dest.aput(
                {"configurable": configurable},
                checkpoint,
                meta,
                dict(checkpoint.get("channel_versions") or {}),
            )

    async for page in _pages(
        src,
        "SELECT thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, "
        "checkpoint, metadata FROM checkpoints",
    ):
        await asyncio.gather(*(put(row) for row in page))
        done += len(page)
        if progress is not None:
            progress("checkpoints", done, total)


async def _copy_writes(
    src: Any, dest: Any, total: int, progress: Callable[[str, int, int], None] | None
) -> None:
    columns = {c for c, _ in await _sqlite_columns(src, "writes")}
    task_path = "task_path" if "task_path" in columns else "''"
    done = 0
    async for page in _pages(
        src,
        f"SELECT thread_id, checkpoint_ns, checkpoint_id, task_id, {task_path}, idx, channel, "
        "type, value FROM writes",
    ):
        rows = [(*r[:8], r[8] if r[8] is not None else b"") for r in page]
        async with dest.conn.connection() as conn:
            cur = conn.cursor()
            await cur.executemany(
                "INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, "
                "task_id, task_path, idx, channel, type, blob) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                rows,
            )
        done += len(page)
        if progress is not None:
            progress("checkpoint_writes", done, total)


# ---------------------------------------------------------------------- other tables


async def _copy_table(
    src: Any,
    dest: Any,
    table: str,
    total: int,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    """Copy the columns both sides have, converting JSON text and timestamps."""
    pg_types = await _pg_columns(dest, table)
    columns = [c for c, _ in await _sqlite_columns(src, table) if c in pg_types]
    convert = [_converter(pg_types[c]) for c in columns]
    names = ", ".join(columns)
    marks = ", ".join("%s" for _ in columns)
    done = 0
    async for page in _pages(src, f"SELECT {names} FROM {table}"):
        rows = [tuple(f(v) for f, v in zip(convert, row, strict=True)) for row in page]
        async with dest.conn.connection() as conn:
            cur = conn.cursor()
            await cur.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows
            )
        done += len(page)
        if progress is not None:
            progress(table, done, total)


def _converter(pg_type: str) -> Callable[[Any], Any]:
    if pg_type in ("jsonb", "json"):
        from psycopg.types.json import Jsonb

        def to_json(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, bytes | bytearray):
                value = value.decode("utf-8")
            try:
                return Jsonb(json.loads(value) if isinstance(value, str) else value)
            except ValueError:
                return Jsonb(value)  # not JSON: kept as a JSON string

        return to_json
    if pg_type.startswith("timestamp"):
        return _timestamp
    if pg_type == "bytea":
        return lambda v: v.encode("utf-8") if isinstance(v, str) else v
    return lambda v: v


def _timestamp(value: Any) -> Any:
    """SQLite's ``CURRENT_TIMESTAMP`` text (UTC), ISO text, or epoch seconds."""
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# ---------------------------------------------------------------------- SQL helpers


async def _pages(src: Any, query: str) -> Any:
    """Rows of ``query`` on the source file, a page at a time (memory stays bounded)."""
    async with src.conn.execute(query) as cur:
        while True:
            page = await cur.fetchmany(_PAGE)
            if not page:
                return
            yield page


async def _sqlite_tables(src: Any) -> set[str]:
    async with src.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        return {r[0] for r in await cur.fetchall()}


async def _sqlite_columns(src: Any, table: str) -> list[tuple[str, str]]:
    async with src.conn.execute(f"PRAGMA table_info({table})") as cur:
        return [(r[1], r[2]) for r in await cur.fetchall()]


async def _sqlite_count(src: Any, table: str) -> int:
    async with src.conn.execute(f"SELECT COUNT(*) FROM {table}") as cur:
        row = await cur.fetchone()
    return int(row[0])


async def _sqlite_threads(src: Any) -> int:
    async with src.conn.execute("SELECT COUNT(DISTINCT thread_id) FROM checkpoints") as cur:
        row = await cur.fetchone()
    return int(row[0])


async def _target_count(dest: Any, table: str) -> int:
    """Rows of ``table`` in the target; ``threads``: distinct threads with checkpoints."""
    if table != "threads":
        return await _pg_count(dest, table)
    from psycopg.rows import tuple_row

    async with dest.conn.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT COUNT(DISTINCT thread_id) FROM checkpoints")
        row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _pg_columns(dest: Any, table: str) -> dict[str, str]:
    from psycopg.rows import tuple_row

    async with dest.conn.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s "
            "AND is_generated = 'NEVER' AND identity_generation IS NULL",
            (table,),
        )
        return {name: kind for name, kind in await cur.fetchall()}


async def _pg_count(dest: Any, table: str) -> int:
    from psycopg.rows import tuple_row

    async with dest.conn.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
        row = await cur.fetchone()
        if not row or not row[0]:
            return 0
        await cur.execute(f"SELECT COUNT(*) FROM {table}")
        row = await cur.fetchone()
    return int(row[0]) if row else 0
