"""The PostgreSQL backend: every store on the saver's connection pool.

The functions here are what :class:`lgp_lab.storage.Backend` asks of a backend; each
imports its module on first use (psycopg is imported only when PostgreSQL is used).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "assistant_store",
    "close_saver",
    "describe",
    "open_saver",
    "run_store",
    "session_store",
    "thread_store",
]


async def open_saver(config: Any) -> Any:
    """Open the pool ``config`` describes, migrate, and return the checkpointer on it."""
    from lgp_lab.storage.postgres.checkpoints import open_postgres_saver

    return await open_postgres_saver(config.checkpoint, missing_env=config.missing_env)


async def close_saver(saver: Any) -> None:
    """Close the saver's pool."""
    from lgp_lab.storage.postgres.checkpoints import close_postgres_saver

    await close_postgres_saver(saver)


def describe(config: Any) -> str:
    """Where ``config`` keeps its data, for messages (never the password)."""
    from lgp_lab.storage.postgres.checkpoints import describe_url

    return f"PostgreSQL {describe_url(config.checkpoint.url or '')}"


def thread_store(saver: Any) -> Any:
    """The thread records table."""
    from lgp_lab.storage.postgres.threads import PostgresThreadStore

    return PostgresThreadStore(saver)


def run_store(saver: Any) -> Any:
    """The run records table."""
    from lgp_lab.storage.postgres.runs import PostgresRunStore

    return PostgresRunStore(saver)


def assistant_store(saver: Any) -> Any:
    """The custom assistants tables."""
    from lgp_lab.storage.postgres.assistants import PostgresAssistantStore

    return PostgresAssistantStore(saver)


def session_store(saver: Any) -> Any:
    """The session queries over the checkpoint tables."""
    from lgp_lab.storage.postgres.sessions import PostgresSessionStore

    return PostgresSessionStore(saver)
