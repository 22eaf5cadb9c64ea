"""The persistent LangGraph store (``BaseStore``) every workflow gets.

Nodes that take ``store: BaseStore``, read ``runtime.store`` or call ``get_store()``
see an ``AsyncSqliteStore`` in the project's SQLite file, so long-term memory persists
across runs and processes. It has its own connection to the file: the checkpointer's
transactions and the store's never interleave on one connection.

``langgraph.json``'s ``store`` section is honoured: ``index`` (semantic search; its
``embed`` is a ``"provider:model"`` string, as langgraph dev takes, or
``"./path.py:function"``) and ``ttl``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lgp_lab.errors import ConfigError

__all__ = ["close_store", "open_sqlite_store"]


async def open_sqlite_store(
    path: Path,
    *,
    settings: dict[str, Any] | None = None,
    busy_timeout_ms: int = 5000,
    project_root: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """Open (creating tables if needed) the store in the SQLite file at ``path``.

    Args:
        path: The project's SQLite file (the checkpoint file).
        settings: ``langgraph.json``'s ``store`` object (``index``, ``ttl``), if any.
        busy_timeout_ms: How long a write waits for another writer of the file.
        project_root: Where ``"./path.py:function"`` embeddings are resolved from.
        warn: Told (one line) when the index must be off on this Python.

    Raises:
        ConfigError: The index's embeddings cannot be built (names what to install/set).
    """
    import asyncio
    import importlib

    # The first import pulls numpy (0.1–0.5 s): never on the engine loop.
    await asyncio.to_thread(importlib.import_module, "langgraph.store.sqlite.aio")
    import aiosqlite
    from langgraph.store.sqlite.aio import AsyncSqliteStore

    settings = settings or {}
    index = settings.get("index") or None
    if index is not None and _can_load_extensions():
        index = _index(index, project_root or path.parent)
    elif index is not None:
        if warn is not None:
            warn(
                "semantic search in the store is off: this Python's sqlite3 cannot load "
                "the sqlite-vec extension (store.index in langgraph.json); store.search("
                "query=...) returns items unranked. A Python built with loadable SQLite "
                "extensions (e.g. Debian's python3) turns it on"
            )
        index = None
    ttl = settings.get("ttl")
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit, as AsyncSqliteStore.from_conn_string opens it: the store issues its
    # own BEGIN/COMMIT, and its setup must not leave an implicit transaction holding
    # the file's write lock.
    conn = await aiosqlite.connect(str(path), timeout=busy_timeout_ms / 1000, isolation_level=None)
    try:
        await conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        await conn.execute("PRAGMA journal_mode=WAL")
        store = AsyncSqliteStore(conn, index=index, ttl=ttl)
        await store.setup()
        if ttl and ttl.get("sweep_interval_minutes"):
            await store.start_ttl_sweeper()
    except BaseException:
        await conn.close()
        raise
    return store


async def close_store(store: Any) -> None:
    """Stop the TTL sweeper (if any) and close the store's connection."""
    if store is None:
        return
    if getattr(store, "ttl_config", None):
        with contextlib.suppress(Exception):  # a sweeper that never started
            await store.stop_ttl_sweeper(timeout=1.0)
    conn = getattr(store, "conn", None)
    if conn is not None:
        await conn.close()


def _can_load_extensions() -> bool:
    """Whether sqlite-vec (the store's vector index) can load into this Python's sqlite3."""
    import sqlite3

    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        return False
    try:
        import sqlite_vec  # noqa: F401
    except ImportError:
        return False
    return True


def _index(index: Any, root: Path) -> dict[str, Any] | None:
    if not index:
        return None
    if not isinstance(index, dict) or "dims" not in index or "embed" not in index:
        raise ConfigError(
            f"langgraph.json store.index must have 'dims' and 'embed' (got {index!r})",
            hint='write "store": {"index": {"embed": "openai:text-embedding-3-small", '
            '"dims": 1536}}',
        )
    embed = index["embed"]
    if isinstance(embed, str):
        embed = _embeddings(embed, root)
    return {**index, "embed": embed}


def _embeddings(spec: str, root: Path) -> Any:
    """Build the embeddings a ``store.index.embed`` string names."""
    from lgp_lab.ids import split_target

    path_text, attr = split_target(spec)
    if attr is not None:
        import importlib.util

        file = Path(path_text)
        file = file if file.is_absolute() else root / file
        if not file.is_file():
            raise ConfigError(
                f"store.index.embed: file not found: {file}",
                hint='use "./path.py:function" relative to langgraph.json',
            )
        spec_ = importlib.util.spec_from_file_location(f"lgp_embed__{file.stem}", file)
        assert spec_ is not None and spec_.loader is not None
        module = importlib.util.module_from_spec(spec_)
        spec_.loader.exec_module(module)
        if not hasattr(module, attr):
            raise ConfigError(f"store.index.embed: {file.name} has no {attr!r}")
        return getattr(module, attr)
    provider = spec.partition(":")[0]
    try:
        from langchain.embeddings import init_embeddings  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            f"store.index.embed {spec!r} needs LangChain's init_embeddings",
            hint=f'pip install langchain "langchain-{provider}" (or point embed at '
            '"./embeddings.py:embed", a function of a list of texts)',
        ) from None
    try:
        return init_embeddings(spec)
    except Exception as exc:
        raise ConfigError(
            f"store.index.embed {spec!r} cannot be built: {type(exc).__name__}: {exc}",
            hint=f'pip install "langchain-{provider}" and set its API key (e.g. '
            f"{provider.upper()}_API_KEY)",
        ) from None
