"""Custom assistants on PostgreSQL: ``lgp_assistants`` (the current version of each) and
``lgp_assistant_versions`` (every version), the same methods and rows as
:class:`~lgp_lab.storage.sqlite.assistants.SqliteAssistantStore`. A new version
locks its assistant's row first, so two replicas updating one assistant make versions
n+1 and n+2, never two n+1."""

from __future__ import annotations

from typing import Any

from lgp_lab.storage.postgres.checkpoints import PgDb

__all__ = ["PostgresAssistantStore"]

_FIELDS = ("graph_id", "config", "context", "metadata", "name", "description")
_JSON = ("config", "context", "metadata")
_CURRENT = (
    "assistant_id, version, graph_id, config, context, metadata, name, description, "
    "created_at, updated_at"
)


class PostgresAssistantStore:
    """Rows as dicts (JSON fields decoded, times in epoch seconds)."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._db = PgDb(saver)

    async def setup(self) -> None:
        """Nothing to do: the tables are made by the schema migrations when the pool opens."""

    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        """The current version of an assistant, or ``None``."""
        rows = await self._db.fetch(
            f"SELECT {_CURRENT} FROM lgp_assistants WHERE assistant_id = %s", (assistant_id,)
        )
        return _row(rows[0]) if rows else None

    async def all(self) -> list[dict[str, Any]]:
        """Every assistant's current version."""
        return [_row(r) for r in await self._db.fetch(f"SELECT {_CURRENT} FROM lgp_assistants")]

    async def insert(self, assistant: dict[str, Any], now: float) -> bool:
        """Add version 1 of a new assistant; False if the id is taken."""
        async with self._db.transaction() as cur:
            await cur.execute(
                "INSERT INTO lgp_assistants (assistant_id, version, graph_id, config, context, "
                "metadata, name, description, created_at, updated_at) "
                "VALUES (%s, 1, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (assistant_id) DO NOTHING",
                (assistant["assistant_id"], *_values(assistant), now, now),
            )
            added = cur.rowcount > 0
            if added:
                await _add_version(cur, assistant["assistant_id"], 1, assistant, now)
        return added

    async def update(self, assistant_id: str, changes: dict[str, Any], now: float) -> bool:
        """Make a new version from the current one with ``changes`` (metadata merged by
        top-level key, other fields replaced); False if there is no such assistant."""
        async with self._db.transaction() as cur:
            current = await _current(cur, assistant_id, lock=True)
            if current is None:
                return False
            await cur.execute(
                "SELECT COALESCE(MAX(version), 0) FROM lgp_assistant_versions "
                "WHERE assistant_id = %s",
                (assistant_id,),
            )
            version = int((await cur.fetchone())[0]) + 1
            merged = {**current, **{k: v for k, v in changes.items() if k != "metadata"}}
            merged["metadata"] = {**current["metadata"], **(changes.get("metadata") or {})}
            await _add_version(cur, assistant_id, version, merged, now)
            await _set_current(cur, assistant_id, version, merged, now)
        return True

    async def set_latest(self, assistant_id: str, version: int, now: float) -> bool:
        """Make ``version`` the current one; False if it does not exist."""
        async with self._db.transaction() as cur:
            await cur.execute(
                "SELECT graph_id, config, context, metadata, name, description "
                "FROM lgp_assistant_versions WHERE assistant_id = %s AND version = %s",
                (assistant_id, version),
            )
            row = await cur.fetchone()
            if row is None:
                return False
            chosen = _fields(row)
            await _set_current(cur, assistant_id, version, chosen, now)
        return True

    async def versions(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every version, newest first."""
        rows = await self._db.fetch(
            "SELECT assistant_id, version, graph_id, config, context, metadata, name, "
            "description, created_at, created_at FROM lgp_assistant_versions "
            "WHERE assistant_id = %s ORDER BY version DESC",
            (assistant_id,),
        )
        return [_row(r) for r in rows]

    async def delete(self, assistant_id: str) -> bool:
        """Delete an assistant and its versions; False if there was none."""
        async with self._db.transaction() as cur:
            await cur.execute("DELETE FROM lgp_assistants WHERE assistant_id = %s", (assistant_id,))
            deleted = cur.rowcount > 0
            await cur.execute(
                "DELETE FROM lgp_assistant_versions WHERE assistant_id = %s", (assistant_id,)
            )
        return deleted


async def _current(cur: Any, assistant_id: str, *, lock: bool) -> dict[str, Any] | None:
    await cur.execute(
        "SELECT graph_id, config, context, metadata, name, description FROM lgp_assistants "
        "WHERE assistant_id = %s" + (" FOR UPDATE" if lock else ""),
        (assistant_id,),
    )
    row = await cur.fetchone()
    return None if row is None else _fields(row)


async def _add_version(
    cur: Any, assistant_id: str, version: int, fields: dict[str, Any], now: float
) -> None:
    await cur.execute(
        "INSERT INTO lgp_assistant_versions (assistant_id, version, graph_id, config, context, "
        "metadata, name, description, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (assistant_id, version, *_values(fields), now),
    )


async def _set_current(
    cur: Any, assistant_id: str, version: int, fields: dict[str, Any], now: float
) -> None:
    await cur.execute(
        "UPDATE lgp_assistants SET version = %s, graph_id = %s, config = %s, context = %s, "
        "metadata = %s, name = %s, description = %s, updated_at = %s WHERE assistant_id = %s",
        (version, *_values(fields), now, assistant_id),
    )


def _values(fields: dict[str, Any]) -> tuple[Any, ...]:
    from psycopg.types.json import Jsonb

    from lgp_lab.jsonable import to_jsonable

    return tuple(Jsonb(to_jsonable(fields[k] or {})) if k in _JSON else fields[k] for k in _FIELDS)


def _fields(row: tuple[Any, ...]) -> dict[str, Any]:
    found = dict(zip(_FIELDS, row, strict=True))
    for key in _JSON:
        found[key] = _dict(found[key])
    return found


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _row(row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        "assistant_id": row[0],
        "version": row[1],
        "graph_id": row[2],
        "config": _dict(row[3]),
        "context": _dict(row[4]),
        "metadata": _dict(row[5]),
        "name": row[6],
        "description": row[7],
        "created_at": row[8],
        "updated_at": row[9],
    }
