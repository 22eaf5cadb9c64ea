"""Checkpointer adapters: where threads persist.

``create_checkpointer(config)`` opens the configured backend on the running event
loop; the Lab calls it on its engine loop and closes it with ``close_checkpointer``.
Each ``*_store_for(saver)`` picks the table of that kind for the saver's backend (SQLite
on the saver's connection, PostgreSQL on its pool); both kinds pass one conformance
suite (tests/test_backends.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lgp_lab.config import LabConfig

__all__ = [
    "assistant_store_for",
    "close_checkpointer",
    "create_checkpointer",
    "database_label",
    "run_store_for",
    "session_store_for",
    "thread_store_for",
]


async def create_checkpointer(config: LabConfig) -> Any:
    """Open the checkpointer ``config`` describes (a SQLite file by default)."""
    cp = config.checkpoint
    if cp.backend == "postgres":
        from lgp_lab.storage.postgres.checkpoints import open_postgres_saver

        return await open_postgres_saver(cp, missing_env=config.missing_env)
    from lgp_lab.storage.sqlite.checkpoints import open_sqlite_saver

    return await open_sqlite_saver(
        config.checkpoint_path, synchronous=cp.synchronous, busy_timeout_ms=cp.busy_timeout_ms
    )


def database_label(config: LabConfig) -> str:
    """Where ``config`` keeps its data, for messages: the SQLite file, or ``PostgreSQL
    user@host:port/dbname`` (never the password)."""
    if config.checkpoint.backend == "postgres":
        from lgp_lab.storage.postgres.checkpoints import describe_url

        return f"PostgreSQL {describe_url(config.checkpoint.url or '')}"
    return str(config.checkpoint_path)


async def close_checkpointer(saver: Any) -> None:
    """Close the checkpointer's connection (PostgreSQL: its pool)."""
    if _postgres(saver):
        from lgp_lab.storage.postgres.checkpoints import close_postgres_saver

        await close_postgres_saver(saver)
        return
    conn = getattr(saver, "conn", None)
    if conn is not None:
        await conn.close()


def session_store_for(saver: Any) -> Any:
    """The SQL session queries for ``saver``'s backend."""
    if _postgres(saver):
        from lgp_lab.storage.postgres.sessions import PostgresSessionStore

        return PostgresSessionStore(saver)
    from lgp_lab.storage.sqlite.checkpoints import SqliteSessionStore

    return SqliteSessionStore(saver)


def run_store_for(saver: Any) -> Any:
    """The run records table (``runtime.runs.RunStore``) beside ``saver``'s checkpoints."""
    if _postgres(saver):
        from lgp_lab.storage.postgres.runs import PostgresRunStore

        return PostgresRunStore(saver)
    from lgp_lab.storage.sqlite.runs import SqliteRunStore

    return SqliteRunStore(saver)


def thread_store_for(saver: Any) -> Any:
    """The thread records table beside ``saver``'s checkpoints."""
    if _postgres(saver):
        from lgp_lab.storage.postgres.threads import PostgresThreadStore

        return PostgresThreadStore(saver)
    from lgp_lab.storage.sqlite.threads import SqliteThreadStore

    return SqliteThreadStore(saver)


def assistant_store_for(saver: Any) -> Any:
    """The custom assistants table beside ``saver``'s checkpoints."""
    if _postgres(saver):
        from lgp_lab.storage.postgres.assistants import PostgresAssistantStore

        return PostgresAssistantStore(saver)
    from lgp_lab.storage.sqlite.assistants import SqliteAssistantStore

    return SqliteAssistantStore(saver)


def _postgres(saver: Any) -> bool:
    # An attribute test, not isinstance: psycopg stays unimported on SQLite.
    return getattr(saver, "lgp_backend", None) == "postgres"
