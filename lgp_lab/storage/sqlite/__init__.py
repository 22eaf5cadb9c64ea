"""The SQLite backend: every store on the checkpointer's own connection and lock.

The functions here are what :class:`lgp_lab.storage.Backend` asks of a backend; each
imports its module on first use (opening a store must not import them all).
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
    """Open (and create if needed) the checkpoint file ``config`` names."""
    from lgp_lab.storage.sqlite.checkpoints import open_sqlite_saver

    cp = config.checkpoint
    return await open_sqlite_saver(
        config.checkpoint_path, synchronous=cp.synchronous, busy_timeout_ms=cp.busy_timeout_ms
    )


async def close_saver(saver: Any) -> None:
    """Close the saver's connection."""
    conn = getattr(saver, "conn", None)
    if conn is not None:
        await conn.close()


def describe(config: Any) -> str:
    """Where ``config`` keeps its data, for messages: the file."""
    return str(config.checkpoint_path)


def thread_store(saver: Any) -> Any:
    """The thread records table."""
    from lgp_lab.storage.sqlite.threads import SqliteThreadStore

    return SqliteThreadStore(saver)


def run_store(saver: Any) -> Any:
    """The run records table."""
    from lgp_lab.storage.sqlite.runs import SqliteRunStore

    return SqliteRunStore(saver)


def assistant_store(saver: Any) -> Any:
    """The custom assistants tables."""
    from lgp_lab.storage.sqlite.assistants import SqliteAssistantStore

    return SqliteAssistantStore(saver)


def session_store(saver: Any) -> Any:
    """The session queries over the checkpoint tables."""
    from lgp_lab.storage.sqlite.sessions import SqliteSessionStore

    return SqliteSessionStore(saver)
