"""Checkpointer adapters: where threads persist.

``create_checkpointer(config)`` opens the configured backend on the running event
loop; the Lab calls it on its engine loop and closes it with ``close_checkpointer``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lgp_lab.config import LabConfig

__all__ = [
    "assistant_store_for",
    "close_checkpointer",
    "create_checkpointer",
    "run_store_for",
    "session_store_for",
    "thread_store_for",
]


async def create_checkpointer(config: LabConfig) -> Any:
    """Open the checkpointer ``config`` describes (a SQLite file by default)."""
    from lgp_lab.checkpointing.sqlite import open_sqlite_saver

    cp = config.checkpoint
    return await open_sqlite_saver(
        config.checkpoint_path, synchronous=cp.synchronous, busy_timeout_ms=cp.busy_timeout_ms
    )


async def close_checkpointer(saver: Any) -> None:
    """Close the checkpointer's connection."""
    conn = getattr(saver, "conn", None)
    if conn is not None:
        await conn.close()


def session_store_for(saver: Any) -> Any:
    """The SQL session queries for ``saver``'s backend."""
    from lgp_lab.checkpointing.sqlite import SqliteSessionStore

    return SqliteSessionStore(saver)


def run_store_for(saver: Any) -> Any:
    """The run records table (``runtime.runs.RunStore``) beside ``saver``'s checkpoints."""
    from lgp_lab.checkpointing.runs_sqlite import SqliteRunStore

    return SqliteRunStore(saver)


def thread_store_for(saver: Any) -> Any:
    """The thread records table beside ``saver``'s checkpoints."""
    from lgp_lab.checkpointing.threads_sqlite import SqliteThreadStore

    return SqliteThreadStore(saver)


def assistant_store_for(saver: Any) -> Any:
    """The custom assistants table beside ``saver``'s checkpoints."""
    from lgp_lab.checkpointing.assistants_sqlite import SqliteAssistantStore

    return SqliteAssistantStore(saver)
