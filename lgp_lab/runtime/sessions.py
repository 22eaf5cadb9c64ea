"""Sessions: threads, their checkpoints and their state, from any front end.

Answers come from the checkpointer's SQL session store (counts and pages in SQL); only
the state of one checkpoint is ever deserialized at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["CheckpointInfo", "Sessions", "ThreadInfo", "checkpoint_time", "visible_channels"]

T = TypeVar("T")


@dataclass(frozen=True)
class ThreadInfo:
    """One thread: which workflow wrote it, how many checkpoints, when."""

    thread_id: str
    workflow: str | None
    checkpoints: int
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    workflow_version: int | None = None
    environment: str | None = None
    last_checkpoint_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (ISO-8601 UTC times)."""
        return {
            "thread_id": self.thread_id,
            "workflow": self.workflow,
            "checkpoints": self.checkpoints,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "workflow_version": self.workflow_version,
            "environment": self.environment,
            "last_checkpoint_id": self.last_checkpoint_id,
        }


@dataclass(frozen=True)
class CheckpointInfo:
    """One checkpoint of a thread (metadata only; see :meth:`Sessions.state`)."""

    checkpoint_id: str
    parent_checkpoint_id: str | None
    step: int | None
    source: str | None
    created_at: dt.datetime | None
    workflow_version: int | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "checkpoint_id": self.checkpoint_id,
            "parent_checkpoint_id": self.parent_checkpoint_id,
            "step": self.step,
            "source": self.source,
            "created_at": _iso(self.created_at),
            "workflow_version": self.workflow_version,
        }


class Sessions:
    """Thread queries over one checkpointer; ``a``-prefixed methods are the async twins.

    Args:
        get_store: Coroutine returning the backend's session store (created lazily).
        get_saver: Coroutine returning the checkpointer.
        call: Runs a coroutine on the engine loop from a sync caller.
    """

    def __init__(
        self,
        get_store: Callable[[], Awaitable[Any]],
        get_saver: Callable[[], Awaitable[Any]],
        call: Callable[[Awaitable[Any]], Any],
    ) -> None:
        self._get_store = get_store
        self._get_saver = get_saver
        self._call = call

    # ------------------------------------------------------------------ async API

    async def athreads(
        self, workflow: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ThreadInfo]:
        """Threads, most recently updated first."""
        store = await self._get_store()
        rows = await store.list_threads(workflow=workflow, limit=limit, offset=offset)
        return [_thread(r) for r in rows]

    async def acount_threads(self, workflow: str | None = None) -> int:
        """How many threads there are (of ``workflow``, if given)."""
        return await (await self._get_store()).count_threads(workflow=workflow)

    async def athread(self, thread_id: str) -> ThreadInfo | None:
        """One thread's summary, or ``None`` if it has no checkpoints."""
        rows = await (await self._get_store()).list_threads(thread_id=thread_id, limit=1)
        return _thread(rows[0]) if rows else None

    async def acount_checkpoints(self, thread_id: str) -> int:
        """The number of checkpoints of ``thread_id``."""
        return await (await self._get_store()).count_checkpoints(thread_id)

    async def ahistory(
        self, thread_id: str, *, limit: int = 20, before: str | None = None
    ) -> list[CheckpointInfo]:
        """A page of checkpoints, newest first; pass the last id as ``before`` for the next."""
        store = await self._get_store()
        rows = await store.list_checkpoints(thread_id, limit=limit, before=before)
        return [_checkpoint(r) for r in rows]

    async def astate(self, thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
        """The state values at a checkpoint (the latest by default); ``{}`` if none."""
        saver = await self._get_saver()
        conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
        if checkpoint_id:
            conf["checkpoint_id"] = checkpoint_id
        found = await saver.aget_tuple({"configurable": conf})
        if found is None:
            return {}
        return visible_channels(found.checkpoint.get("channel_values", {}))

    async def adelete(self, thread_id: str) -> None:
        """Delete every checkpoint and pending write of ``thread_id``."""
        await (await self._get_saver()).adelete_thread(thread_id)

    # ------------------------------------------------------------------ sync twins

    def threads(
        self, workflow: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ThreadInfo]:
        """Sync twin of :meth:`athreads`."""
        return self._call(self.athreads(workflow, limit=limit, offset=offset))

    def count_threads(self, workflow: str | None = None) -> int:
        """Sync twin of :meth:`acount_threads`."""
        return self._call(self.acount_threads(workflow))

    def thread(self, thread_id: str) -> ThreadInfo | None:
        """Sync twin of :meth:`athread`."""
        return self._call(self.athread(thread_id))

    def count_checkpoints(self, thread_id: str) -> int:
        """Sync twin of :meth:`acount_checkpoints`."""
        return self._call(self.acount_checkpoints(thread_id))

    def history(
        self, thread_id: str, *, limit: int = 20, before: str | None = None
    ) -> list[CheckpointInfo]:
        """Sync twin of :meth:`ahistory`."""
        return self._call(self.ahistory(thread_id, limit=limit, before=before))

    def state(self, thread_id: str, checkpoint_id: str | None = None) -> dict[str, Any]:
        """Sync twin of :meth:`astate`."""
        return self._call(self.astate(thread_id, checkpoint_id))

    def delete(self, thread_id: str) -> None:
        """Sync twin of :meth:`adelete`."""
        self._call(self.adelete(thread_id))


def visible_channels(values: dict[str, Any]) -> dict[str, Any]:
    """State channels without LangGraph's internal ones (``__start__``, ``branch:…``)."""
    return {
        k: v
        for k, v in values.items()
        if not k.startswith("__") and not k.startswith("branch:") and ":" not in k
    }


def checkpoint_time(checkpoint_id: str | None) -> dt.datetime | None:
    """The creation time encoded in a LangGraph checkpoint id (a UUIDv6), in UTC."""
    if not checkpoint_id:
        return None
    try:
        value = int(checkpoint_id.replace("-", ""), 16)
    except ValueError:
        return None
    if (value >> 76) & 0xF != 6:  # not a version-6 UUID
        return None
    ticks = ((value >> 96) << 28) | (((value >> 80) & 0xFFFF) << 12) | ((value >> 64) & 0x0FFF)
    return dt.datetime.fromtimestamp((ticks - 0x01B21DD213814000) / 1e7, tz=dt.UTC)


def _thread(row: dict[str, Any]) -> ThreadInfo:
    meta = row["metadata"]
    return ThreadInfo(
        thread_id=row["thread_id"],
        workflow=meta.get("workflow"),
        checkpoints=row["checkpoints"],
        created_at=checkpoint_time(row["first_checkpoint_id"]),
        updated_at=checkpoint_time(row["last_checkpoint_id"]),
        workflow_version=meta.get("workflow_version"),
        environment=meta.get("environment"),
        last_checkpoint_id=row["last_checkpoint_id"],
    )


def _checkpoint(row: dict[str, Any]) -> CheckpointInfo:
    meta = row["metadata"]
    return CheckpointInfo(
        checkpoint_id=row["checkpoint_id"],
        parent_checkpoint_id=row["parent_checkpoint_id"],
        step=meta.get("step"),
        source=meta.get("source"),
        created_at=checkpoint_time(row["checkpoint_id"]),
        workflow_version=meta.get("workflow_version"),
        metadata=meta,
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
