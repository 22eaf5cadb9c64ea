"""Versioned schema of the tables lgp_lab owns (runs, threads, assistants, traces).

LangGraph's savers version their own tables (``checkpoint_migrations``,
``store_migrations``); ours follow the same pattern in ``lgp_schema_version``: one row
per applied migration, numbered by its position in the list below. A migration is never
edited once released: a change to a table is a new entry at the end.

``upgrade_postgres`` runs on start (every replica; the first one does the work under an
advisory lock, the others find it done) and from ``lgp-lab db upgrade``. SQLite's tables
are created by their stores on first use (``CREATE TABLE IF NOT EXISTS`` plus column
additions); ``upgrade_sqlite`` runs those set-ups at once and records the version, so
both backends answer :func:`schema_version` alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from lgp_lab.storage import backend_name

__all__ = [
    "POSTGRES_MIGRATIONS",
    "SCHEMA_TABLE",
    "SQLITE_MIGRATIONS",
    "SQLITE_VERSION",
    "advisory_lock",
    "schema_version",
    "upgrade",
    "upgrade_postgres",
    "upgrade_sqlite",
]

SCHEMA_TABLE = "lgp_schema_version"
# pg_advisory_lock key: replicas starting together apply migrations one at a time.
ADVISORY_LOCK_KEY = 0x6C67705F6C6162  # "lgp_lab"
LOCK_TIMEOUT_S = 120.0

_VERSION_TABLE = f"""
CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (
    v INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at {{now_type}} NOT NULL DEFAULT {{now}}
)"""

# Releases and incidents (lgp_lab.promotion): the same DDL as the stores there create on
# first use, on both backends, so an upgraded database has them before the first deploy.
_PROMOTION_TABLES = (
    """
    CREATE TABLE IF NOT EXISTS lgp_releases (
        release_id TEXT NOT NULL,
        environment TEXT NOT NULL,
        created_at TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (environment, release_id)
    )""",
    """
    CREATE TABLE IF NOT EXISTS lgp_incidents (
        incident_id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        workflow TEXT NOT NULL,
        version INTEGER NOT NULL,
        detail TEXT NOT NULL
    )""",
)

# Each entry: (description, statements). Position + 1 is the version number.
POSTGRES_MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    (
        "runs, threads, assistants and traces",
        (
            # Runs: what SQLite's lgp_runs holds, plus what replicas claim runs with:
            # the replica holding the run and until when (its lease).
            """
            CREATE TABLE IF NOT EXISTS lgp_runs (
                run_id TEXT PRIMARY KEY,
                thread_id TEXT NOT NULL,
                assistant_id TEXT NOT NULL,
                status TEXT NOT NULL,
                multitask_strategy TEXT NOT NULL,
                attempt INTEGER NOT NULL DEFAULT 1,
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                kwargs JSONB NOT NULL DEFAULT '{}',
                metadata JSONB NOT NULL DEFAULT '{}',
                owner TEXT,
                lease_until TIMESTAMPTZ,
                seq BIGINT GENERATED ALWAYS AS IDENTITY
            )""",
            "CREATE INDEX IF NOT EXISTS lgp_runs_thread ON lgp_runs (thread_id, created_at)",
            # The claim query's index: only unfinished runs are in it.
            "CREATE INDEX IF NOT EXISTS lgp_runs_open ON lgp_runs (status, created_at) "
            "WHERE status IN ('pending', 'running')",
            """
            CREATE TABLE IF NOT EXISTS lgp_threads (
                thread_id TEXT PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                metadata JSONB NOT NULL DEFAULT '{}',
                status TEXT NOT NULL DEFAULT 'idle',
                owner TEXT
            )""",
            """
            CREATE TABLE IF NOT EXISTS lgp_assistants (
                assistant_id TEXT PRIMARY KEY,
                version INTEGER NOT NULL,
                graph_id TEXT NOT NULL,
                config JSONB NOT NULL,
                context JSONB NOT NULL,
                metadata JSONB NOT NULL,
                name TEXT NOT NULL,
                description TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )""",
            """
            CREATE TABLE IF NOT EXISTS lgp_assistant_versions (
                assistant_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                graph_id TEXT NOT NULL,
                config JSONB NOT NULL,
                context JSONB NOT NULL,
                metadata JSONB NOT NULL,
                name TEXT NOT NULL,
                description TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (assistant_id, version)
            )""",
            # Traces keep SQLite's layout (payloads as JSON text), so one trace store
            # reads both.
            """
            CREATE TABLE IF NOT EXISTS lgp_traces (
                trace_id TEXT PRIMARY KEY,
                workflow TEXT NOT NULL,
                workflow_version INTEGER,
                thread_id TEXT,
                checkpoint_id TEXT,
                environment TEXT,
                status TEXT,
                error TEXT,
                started_at DOUBLE PRECISION NOT NULL,
                duration_ms DOUBLE PRECISION,
                tags TEXT,
                metadata TEXT,
                input TEXT,
                output TEXT,
                langfuse_url TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS lgp_traces_started ON lgp_traces (started_at)",
            "CREATE INDEX IF NOT EXISTS lgp_traces_thread ON lgp_traces (thread_id, started_at)",
            "CREATE INDEX IF NOT EXISTS lgp_traces_workflow ON lgp_traces (workflow, started_at)",
            """
            CREATE TABLE IF NOT EXISTS lgp_spans (
                trace_id TEXT NOT NULL,
                span_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                name TEXT NOT NULL,
                started_at DOUBLE PRECISION,
                duration_ms DOUBLE PRECISION,
                status TEXT,
                error TEXT,
                input TEXT,
                output TEXT,
                kind TEXT NOT NULL DEFAULT 'node',
                model TEXT,
                usage TEXT,
                cost DOUBLE PRECISION,
                PRIMARY KEY (trace_id, seq)
            )""",
            # The creation time a LangGraph checkpoint id (a UUIDv6) encodes, in epoch
            # seconds (NULL for another kind of id): thread search sorts on it, as
            # SQLite's lgp_uuid6_epoch does.
            """
            CREATE OR REPLACE FUNCTION lgp_uuid6_epoch(id TEXT) RETURNS DOUBLE PRECISION
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
                SELECT CASE WHEN id ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-6[0-9a-fA-F]{3}-' THEN
                    ((('x' || lpad(substr(replace(id, '-', ''), 1, 12)
                        || substr(replace(id, '-', ''), 14, 3), 16, '0'))::bit(64)::bigint
                      - 122192928000000000) / 1e7)::double precision
                END
            $$""",
        ),
    ),
    (
        "durable runs: cancel requests between replicas, one running run per thread",
        (
            # A replica asks the owner of a run to stop it (the owner polls for these).
            "ALTER TABLE lgp_runs ADD COLUMN IF NOT EXISTS cancel_action TEXT",
            # Whatever claims runs, a thread never has two running at once.
            "CREATE UNIQUE INDEX IF NOT EXISTS lgp_runs_one_running ON lgp_runs (thread_id) "
            "WHERE status = 'running'",
        ),
    ),
    (
        "streams joined from another replica: relay requests and relayed events",
        (
            "ALTER TABLE lgp_runs ADD COLUMN IF NOT EXISTS relay BOOLEAN NOT NULL DEFAULT false",
            """
            CREATE TABLE IF NOT EXISTS lgp_run_events (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                run_id TEXT NOT NULL REFERENCES lgp_runs (run_id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                event TEXT NOT NULL,
                data BYTEA NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS lgp_run_events_run ON lgp_run_events (run_id, id)",
        ),
    ),
    ("releases and incidents", _PROMOTION_TABLES),
]

# SQLite: version 1 is what the stores create on first use (their set-ups run it);
# later entries are statements, as on PostgreSQL.
SQLITE_MIGRATIONS: list[tuple[str, tuple[str, ...]]] = [
    ("runs, threads, assistants and traces", ()),
    ("releases and incidents", _PROMOTION_TABLES),
]
SQLITE_VERSION = len(SQLITE_MIGRATIONS)


async def upgrade_postgres(conn: Any) -> tuple[int, int]:
    """Apply the migrations ``conn``'s database lacks; returns (from, to) versions.

    Args:
        conn: A psycopg ``AsyncConnection`` (autocommit) or an ``AsyncConnectionPool``.
            Each migration is one transaction with its version row; an advisory lock
            keeps two processes from applying the same one.
    """
    from psycopg_pool import AsyncConnectionPool

    if isinstance(conn, AsyncConnectionPool):
        async with conn.connection() as one:
            return await upgrade_postgres(one)
    async with advisory_lock(conn):
        await conn.execute(_VERSION_TABLE.format(now_type="TIMESTAMPTZ", now="now()"))
        before = await _pg_version(conn)
        for number, (description, statements) in enumerate(POSTGRES_MIGRATIONS, start=1):
            if number <= before:
                continue
            async with conn.transaction():
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (v, description) VALUES (%s, %s)",
                    (number, description),
                )
        return before, len(POSTGRES_MIGRATIONS)


@contextlib.asynccontextmanager
async def advisory_lock(conn: Any, timeout: float = LOCK_TIMEOUT_S) -> AsyncIterator[None]:
    """Hold the schema's advisory lock on ``conn`` (re-entrant on one connection).

    Polled with ``pg_try_advisory_lock`` rather than waited for: LangGraph's migrations
    run ``CREATE INDEX CONCURRENTLY``, which waits for every open statement, so a
    replica blocked inside ``pg_advisory_lock`` would deadlock the one migrating.

    Raises:
        DatabaseUnavailableError: Another process held it for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS got", (ADVISORY_LOCK_KEY,))
        row = await cur.fetchone()
        if row["got"] if isinstance(row, dict) else row[0]:
            break
        if time.monotonic() > deadline:
            from lgp_lab.errors import DatabaseUnavailableError

            raise DatabaseUnavailableError(
                f"another process has been migrating the database for over {timeout:.0f} s "
                f"(it holds advisory lock {ADVISORY_LOCK_KEY})",
                hint="wait for it to finish (or end it: SELECT pg_terminate_backend(pid) "
                "FROM pg_locks WHERE locktype = 'advisory'), then start again",
            )
        await asyncio.sleep(0.05)
    try:
        yield
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))


async def upgrade_sqlite(saver: Any) -> tuple[int, int]:
    """Create (or complete) our tables in the SQLite file of ``saver``; returns (from, to)."""
    from lgp_lab.storage.sqlite.assistants import SqliteAssistantStore
    from lgp_lab.storage.sqlite.runs import SqliteRunStore
    from lgp_lab.storage.sqlite.threads import SqliteThreadStore
    from lgp_lab.storage.sqlite.traces import LocalTraceStore

    await saver.setup()
    async with saver.lock:
        await saver.conn.execute(_VERSION_TABLE.format(now_type="TEXT", now="CURRENT_TIMESTAMP"))
        await saver.conn.commit()
    before = await _sqlite_version(saver)
    # The stores' own set-ups (idempotent: they also add columns newer code needs).
    await SqliteRunStore(saver)._setup()
    await SqliteThreadStore(saver).setup()
    await SqliteAssistantStore(saver).setup()
    await LocalTraceStore(saver.conn, saver.lock).setup()
    for number, (description, statements) in enumerate(SQLITE_MIGRATIONS, start=1):
        if number <= before:
            continue
        async with saver.lock:
            for statement in statements:
                await saver.conn.execute(statement)
            await saver.conn.execute(
                f"INSERT OR IGNORE INTO {SCHEMA_TABLE} (v, description) VALUES (?, ?)",
                (number, description),
            )
            await saver.conn.commit()
    return before, SQLITE_VERSION


async def schema_version(saver: Any) -> int:
    """The version of our tables in ``saver``'s database (0: none applied yet)."""
    if backend_name(saver) == "postgres":
        async with saver.conn.connection() as conn:
            exists = await conn.execute("SELECT to_regclass(%s) IS NOT NULL", (SCHEMA_TABLE,))
            row = await exists.fetchone()
            if not next(iter(row.values())):
                return 0
            return await _pg_version(conn)
    return await _sqlite_version(saver)


async def upgrade(saver: Any) -> tuple[int, int]:
    """Bring our tables in ``saver``'s database (either backend) to the latest version."""
    if backend_name(saver) == "postgres":
        return await upgrade_postgres(saver.conn)
    return await upgrade_sqlite(saver)


async def _pg_version(conn: Any) -> int:
    cur = await conn.execute(f"SELECT COALESCE(MAX(v), 0) AS v FROM {SCHEMA_TABLE}")
    row = await cur.fetchone()
    return int(row["v"] if isinstance(row, dict) else row[0])


async def _sqlite_version(saver: Any) -> int:
    async with saver.lock:
        async with saver.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (SCHEMA_TABLE,)
        ) as cur:
            if await cur.fetchone() is None:
                return 0
        async with saver.conn.execute(f"SELECT COALESCE(MAX(v), 0) FROM {SCHEMA_TABLE}") as cur:
            row = await cur.fetchone()
    return int(row[0])
