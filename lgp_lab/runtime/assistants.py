"""Custom assistants: a served graph with its own config and context, versioned.

Each served graph also has a system assistant (id :func:`assistant_id_for`, no config);
a custom assistant is created over the Agent Server API (``client.assistants.create``)
and its ``config``/``context`` are the defaults of every run made with it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from lgp_lab.errors import LgpError

__all__ = ["AssistantExistsError", "AssistantRecords", "merge_run_settings"]


class AssistantExistsError(LgpError):
    """An assistant was created with an id already in use (``if_exists="raise"``)."""


class AssistantRecords:
    """Custom assistants in the project's database (``a``-methods, on the engine loop)."""

    def __init__(self, get_saver: Callable[[], Awaitable[Any]]) -> None:
        self._get_saver = get_saver
        self._store: Any = None
        self._store_saver: Any = None

    async def _table(self) -> Any:
        saver = await self._get_saver()
        if self._store is None or self._store_saver is not saver:
            from lgp_lab.storage import assistant_store_for

            self._store, self._store_saver = assistant_store_for(saver), saver
        return self._store

    async def acreate(
        self,
        graph_id: str,
        *,
        assistant_id: str | None = None,
        config: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        name: str | None = None,
        description: str | None = None,
        if_exists: str = "raise",
    ) -> dict[str, Any]:
        """Create version 1 of an assistant of ``graph_id`` and return it.

        Raises:
            AssistantExistsError: The id is taken and ``if_exists`` is ``"raise"``
                (``"do_nothing"`` returns the existing one).
        """
        assistant_id = assistant_id or str(uuid.uuid4())
        fields = {
            "assistant_id": assistant_id,
            "graph_id": graph_id,
            "config": dict(config or {}),
            "context": dict(context or {}),
            "metadata": {**(metadata or {}), "created_by": "user"}
            if "created_by" not in (metadata or {})
            else dict(metadata or {}),
            "name": name or "Untitled",
            "description": description,
        }
        table = await self._table()
        if await table.insert(fields, time.time()):
            found = await table.get(assistant_id)
            assert found is not None
            return found
        if if_exists == "do_nothing":
            found = await table.get(assistant_id)
            if found is not None:
                return found
        raise AssistantExistsError(
            f"assistant {assistant_id!r} already exists",
            hint='pass if_exists="do_nothing" to get it, or update it with PATCH',
        )

    async def aget(self, assistant_id: str) -> dict[str, Any] | None:
        """The current version of a custom assistant, or ``None``."""
        return await (await self._table()).get(assistant_id)

    async def alist(self) -> list[dict[str, Any]]:
        """Every custom assistant (current versions)."""
        return await (await self._table()).all()

    async def aupdate(self, assistant_id: str, **changes: Any) -> dict[str, Any] | None:
        """A new version with ``changes`` (``graph_id``, ``config``, ``context``,
        ``name``, ``description`` replace; ``metadata`` merges); ``None`` if not found."""
        table = await self._table()
        if not await table.update(assistant_id, changes, time.time()):
            return None
        return await table.get(assistant_id)

    async def aset_latest(self, assistant_id: str, version: int) -> dict[str, Any] | None:
        """Make ``version`` current; ``None`` if the assistant or version is unknown."""
        table = await self._table()
        if not await table.set_latest(assistant_id, version, time.time()):
            return None
        return await table.get(assistant_id)

    async def aversions(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every version of an assistant, newest first."""
        return await (await self._table()).versions(assistant_id)

    async def adelete(self, assistant_id: str) -> bool:
        """Delete an assistant with its versions; False if there was none."""
        return await (await self._table()).delete(assistant_id)


def merge_run_settings(
    assistant: dict[str, Any], config: dict[str, Any] | None, context: Any
) -> tuple[dict[str, Any] | None, Any]:
    """A run's ``config`` and ``context`` over its assistant's, as langgraph-api merges
    them: the run's keys win; ``configurable``, ``metadata`` and a dict context merge by
    key; ``tags`` add up."""
    base = dict(assistant.get("config") or {})
    run = dict(config or {})
    merged: dict[str, Any] = {**base, **run}
    for key in ("configurable", "metadata"):
        if key in base or key in run:
            merged[key] = {**(base.get(key) or {}), **(run.get(key) or {})}
    if "tags" in base or "tags" in run:
        merged["tags"] = list(dict.fromkeys([*(base.get("tags") or []), *(run.get("tags") or [])]))
    base_context = assistant.get("context") or {}
    if context is None:
        context = dict(base_context) or None
    elif isinstance(context, dict):
        context = {**base_context, **context}
    return (merged or None), context
