"""Custom assistants in SQLite: ``lgp_assistants`` (the current version of each) and
``lgp_assistant_versions`` (every version), beside the checkpoints, on the
checkpointer's connection and lock. Created on first use."""

from __future__ import annotations

import json
from typing import Any

from lgp_lab.storage.sqlite._calls import fetch

__all__ = ["SqliteAssistantStore"]

_FIELDS = ("graph_id", "config", "context", "metadata", "name", "description")
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS lgp_assistants (
    assistant_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    graph_id TEXT NOT NULL,
    config TEXT NOT NULL,
    context TEXT NOT NULL,
    metadata TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)""",
    """
CREATE TABLE IF NOT EXISTS lgp_assistant_versions (
    assistant_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    graph_id TEXT NOT NULL,
    config TEXT NOT NULL,
    context TEXT NOT NULL,
    metadata TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (assistant_id, version)
)""",
)
_JSON = ("config", "context", "metadata")


class SqliteAssistantStore:
    """Rows as dicts (JSON fields decoded, times in epoch seconds)."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._ready = False

    async def setup(self) -> None:
        """Create the tables if needed (once)."""
        if self._ready:
            return
        await self.saver.setup()
        async with self.saver.lock:
            for statement in _SCHEMA:
                await self.saver.conn.execute(statement)
            await self.saver.conn.commit()
        self._ready = True

    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        """The current version of an assistant, or ``None``."""
        rows = await self._fetch(
            "SELECT assistant_id, version, graph_id, config, context, metadata, name, "
            "description, created_at, updated_at FROM lgp_assistants WHERE assistant_id = ?",
            (assistant_id,),
        )
        return _row(rows[0]) if rows else None

    async def all(self) -> list[dict[str, Any]]:
        """Every assistant's current version."""
        rows = await self._fetch(
            "SELECT assistant_id, version, graph_id, config, context, metadata, name, "
            "description, created_at, updated_at FROM lgp_assistants",
            (),
        )
        return [_row(r) for r in rows]

    async def insert(self, assistant: dict[str, Any], now: float) -> bool:
        """Add version 1 of a new assistant; False if the id is taken."""
        await self.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            cur = await conn.execute(
                "INSERT OR IGNORE INTO lgp_assistants (assistant_id, version, graph_id, config, "
                "context, metadata, name, description, created_at, updated_at) "
                "VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                (assistant["assistant_id"], *_values(assistant), now, now),
            )
            added = cur.rowcount > 0
            if added:
                await _add_version(conn, assistant["assistant_id"], 1, assistant, now)
            await conn.commit()
        return added

    async def update(self, assistant_id: str, changes: dict[str, Any], now: float) -> bool:
        """Make a new version from the current one with ``changes`` (metadata merged by
        top-level key, other fields replaced); False if there is no such assistant."""
        await self.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            current = await _current(conn, assistant_id)
            if current is None:
                return False
            async with conn.execute(
                "SELECT MAX(version) FROM lgp_assistant_versions WHERE assistant_id = ?",
                (assistant_id,),
            ) as cur:
                version = int((await cur.fetchone())[0] or 0) + 1
            merged = {**current, **{k: v for k, v in changes.items() if k != "metadata"}}
            merged["metadata"] = {**current["metadata"], **(changes.get("metadata") or {})}
            await _add_version(conn, assistant_id, version, merged, now)
            await _set_current(conn, assistant_id, version, merged, now)
            await conn.commit()
        return True

    async def set_latest(self, assistant_id: str, version: int, now: float) -> bool:
        """Make ``version`` the current one; False if it does not exist."""
        await self.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            async with conn.execute(
                "SELECT graph_id, config, context, metadata, name, description "
                "FROM lgp_assistant_versions WHERE assistant_id = ? AND version = ?",
                (assistant_id, version),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return False
            chosen = dict(zip(_FIELDS, row, strict=True))
            for key in _JSON:
                chosen[key] = _loads(chosen[key])
            await _set_current(conn, assistant_id, version, chosen, now)
            await conn.commit()
        return True

    async def versions(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every version, newest first."""
        rows = await self._fetch(
            "SELECT assistant_id, version, graph_id, config, context, metadata, name, "
            "description, created_at, created_at FROM lgp_assistant_versions "
            "WHERE assistant_id = ? ORDER BY version DESC",
            (assistant_id,),
        )
        return [_row(r) for r in rows]

    async def delete(self, assistant_id: str) -> bool:
        """Delete an assistant and its versions; False if there was none."""
        await self.setup()
        async with self.saver.lock:
            conn = self.saver.conn
            cur = await conn.execute(
                "DELETE FROM lgp_assistants WHERE assistant_id = ?", (assistant_id,)
            )
            deleted = cur.rowcount > 0
            await conn.execute(
                "DELETE FROM lgp_assistant_versions WHERE assistant_id = ?", (assistant_id,)
            )
            await conn.commit()
        return deleted

    async def _fetch(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        await self.setup()
        return await fetch(self.saver, query, params)


async def _current(conn: Any, assistant_id: str) -> dict[str, Any] | None:
    async with conn.execute(
        "SELECT graph_id, config, context, metadata, name, description FROM lgp_assistants "
        "WHERE assistant_id = ?",
        (assistant_id,),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    found = dict(zip(_FIELDS, row, strict=True))
    for key in _JSON:
        found[key] = _loads(found[key])
    return found


async def _add_version(
    conn: Any, assistant_id: str, version: int, fields: dict[str, Any], now: float
) -> None:
    await conn.execute(
        "INSERT INTO lgp_assistant_versions (assistant_id, version, graph_id, config, context, "
        "metadata, name, description, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (assistant_id, version, *_values(fields), now),
    )


async def _set_current(
    conn: Any, assistant_id: str, version: int, fields: dict[str, Any], now: float
) -> None:
    await conn.execute(
        "UPDATE lgp_assistants SET version = ?, graph_id = ?, config = ?, context = ?, "
        "metadata = ?, name = ?, description = ?, updated_at = ? WHERE assistant_id = ?",
        (version, *_values(fields), now, assistant_id),
    )


def _values(fields: dict[str, Any]) -> tuple[Any, ...]:
    from lgp_lab.jsonable import dumps

    return tuple(dumps(fields[k] or {}) if k in _JSON else fields[k] for k in _FIELDS)


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "assistant_id": row[0],
        "version": row[1],
        "graph_id": row[2],
        "config": _loads(row[3]),
        "context": _loads(row[4]),
        "metadata": _loads(row[5]),
        "name": row[6],
        "description": row[7],
        "created_at": row[8],
        "updated_at": row[9],
    }


def _loads(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
