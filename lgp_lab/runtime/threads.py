"""Thread records: threads as the LangGraph Agent Server API sees them.

A thread there has metadata (``graph_id``, ``assistant_id``, the client's own keys), a
status (``idle | busy | interrupted | error``), times, its latest values and its pending
interrupts. Checkpoints hold the values and interrupts; a record (a row beside the
checkpoints) holds the rest. Both kinds of thread are one list: a thread written by a
plain ``lab.run(..., thread_id=T)`` has no record and is still found (its ``graph_id``
is the workflow that wrote it), and a thread created through the SDK continues with
``lab.run`` and shows in ``lab.sessions``.

Runs call :meth:`ThreadRecords.atouch` to stamp metadata and status.
"""

from __future__ import annotations

import collections
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from lgp_lab.errors import LgpError
from lgp_lab.ids import assistant_id_for
from lgp_lab.runtime.sessions import Sessions, checkpoint_time, pending_status, visible_channels

__all__ = [
    "THREAD_STATUSES",
    "ThreadExistsError",
    "ThreadRecords",
    "assistant_id_for",
    "contains",
]

THREAD_STATUSES = ("idle", "busy", "interrupted", "error")
_SORT_KEYS = ("thread_id", "status", "created_at", "updated_at")
_SEEN_S = 30.0
_SEEN_MAX = 4096
# The namespace langgraph-api derives system assistant ids from: the same graph id gets
# the same assistant id here as under `langgraph dev`.


class ThreadExistsError(LgpError):
    """A thread was created with an id already in use (``if_exists="raise"``)."""


class ThreadRecords:
    """Threads with metadata and status; ``a``-prefixed methods run on the engine loop.

    Args:
        get_saver: Coroutine returning the checkpointer (its connection holds the table).
        sessions: The Lab's sessions (checkpoint queries, threads with a run in flight).
        call: Runs a coroutine on the engine loop from a sync caller.
    """

    def __init__(
        self,
        get_saver: Callable[[], Awaitable[Any]],
        sessions: Sessions,
        call: Callable[[Awaitable[Any]], Any],
    ) -> None:
        self._get_saver = get_saver
        self._sessions = sessions
        self._call = call
        self._store: Any = None
        self._store_saver: Any = None
        # Threads created or touched by this process lately: a run on one of them needs
        # no existence query (the common threads.create + runs.wait). Deletes through
        # this Lab drop the entry; an entry also expires after _SEEN_S, which bounds how
        # long a delete made by another process on the same database goes unnoticed.
        self._seen: collections.OrderedDict[str, float] = collections.OrderedDict()

    def seen(self, thread_id: str) -> bool:
        """Whether this process created or updated ``thread_id`` in the last seconds."""
        at = self._seen.get(thread_id)
        return at is not None and time.monotonic() - at < _SEEN_S

    def _saw(self, thread_id: str) -> None:
        self._seen[thread_id] = time.monotonic()
        self._seen.move_to_end(thread_id)
        while len(self._seen) > _SEEN_MAX:
            self._seen.popitem(last=False)

    async def _table(self) -> Any:
        saver = await self._get_saver()
        if self._store is None or self._store_saver is not saver:
            from lgp_lab.storage import thread_store_for

            self._store, self._store_saver = thread_store_for(saver), saver
        return self._store

    # ------------------------------------------------------------------ async API

    async def acreate(
        self,
        thread_id: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        if_exists: Literal["raise", "do_nothing"] = "raise",
    ) -> dict[str, Any]:
        """Create a thread (a new uuid when ``thread_id`` is omitted) and return it.

        Raises:
            ThreadExistsError: The id is taken (by a record or by checkpoints) and
                ``if_exists`` is ``"raise"``; ``"do_nothing"`` returns the existing one.
        """
        if if_exists not in ("raise", "do_nothing"):
            raise ValueError(f"if_exists must be 'raise' or 'do_nothing', got {if_exists!r}")
        fresh = thread_id is None  # a new uuid4 cannot have checkpoints yet
        thread_id = thread_id or str(uuid.uuid4())
        table = await self._table()
        metadata = dict(metadata or {})
        if fresh or not await table.has_checkpoints(thread_id):
            now = time.time()
            if await table.insert(thread_id, metadata, now):
                self._saw(thread_id)
                return {
                    "thread_id": thread_id,
                    "created_at": _iso(now),
                    "updated_at": _iso(now),
                    "metadata": metadata,
                    "status": "idle",
                    "values": {},
                    "interrupts": {},
                }
        if if_exists == "do_nothing":
            found = await self.aget(thread_id)
            if found is not None:
                return found
        raise ThreadExistsError(
            f"thread {thread_id!r} already exists",
            hint='pass if_exists="do_nothing" to get the existing thread, or another id',
        )

    async def aget(self, thread_id: str) -> dict[str, Any] | None:
        """The thread (``thread_id, created_at, updated_at, metadata, status, values,
        interrupts``), or ``None`` if it has neither a record nor checkpoints."""
        candidate = await self.asummary(thread_id)
        return None if candidate is None else await self._thread(candidate)

    async def asummary(self, thread_id: str) -> dict[str, Any] | None:
        """What is known of a thread without reading its state: ``metadata``,
        ``workflow`` (the one that wrote its latest checkpoint, or ``None``),
        ``last_checkpoint_id``, times (epoch seconds); ``None`` if it does not exist."""
        table = await self._table()
        record = await table.get(thread_id)
        rows = await table.checkpoint_threads(thread_id)
        if record is None and not rows:
            return None
        return _candidate(thread_id, record, rows[0] if rows else None)

    async def aupdate(self, thread_id: str, *, metadata: dict[str, Any] | None) -> dict | None:
        """Merge ``metadata`` into the thread's (top-level keys); ``None`` if not found."""
        if await self.aget(thread_id) is None:
            return None
        await self.atouch(thread_id, metadata=metadata or {})
        return await self.aget(thread_id)

    async def adelete(self, thread_id: str) -> bool:
        """Delete the thread: its record, checkpoints and pending writes. False if none."""
        self._seen.pop(thread_id, None)
        table = await self._table()
        had_record = await table.delete(thread_id)
        had_checkpoints = await table.has_checkpoints(thread_id)
        if had_checkpoints:
            await self._sessions.adelete(thread_id)
        return had_record or had_checkpoints

    async def aforget(self, thread_id: str) -> bool:
        """Delete the thread's record only (its checkpoints are being deleted elsewhere)."""
        self._seen.pop(thread_id, None)
        return await (await self._table()).delete(thread_id)

    async def atouch(
        self,
        thread_id: str,
        *,
        metadata: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> None:
        """Create the record if missing, merge ``metadata`` into it, set ``status``
        (``idle | busy | interrupted | error``) and its update time. Runs call this."""
        if status is not None and status not in THREAD_STATUSES:
            raise ValueError(f"thread status must be one of {THREAD_STATUSES}, got {status!r}")
        table = await self._table()
        owner = _process() if status == "busy" else None
        await table.touch(thread_id, time.time(), metadata=metadata, status=status, owner=owner)
        self._saw(thread_id)

    async def acopy(self, thread_id: str, new_thread_id: str | None = None) -> dict | None:
        """Copy a thread, its whole checkpoint history and metadata, to a new id;
        ``None`` if ``thread_id`` does not exist."""
        source = await self.aget(thread_id)
        if source is None:
            return None
        new_thread_id = new_thread_id or str(uuid.uuid4())
        if await self.aget(new_thread_id) is not None:
            raise ThreadExistsError(f"thread {new_thread_id!r} already exists")
        table = await self._table()
        await table.copy_checkpoints(thread_id, new_thread_id)
        await table.touch(new_thread_id, time.time(), metadata=source["metadata"], replace=True)
        return await self.aget(new_thread_id)

    async def aprune(self, thread_id: str) -> bool:
        """Keep only the thread's latest state: delete its older root checkpoints (the
        history). False if the thread does not exist."""
        if await self.asummary(thread_id) is None:
            return False
        from lgp_lab.storage.retention import PrunePolicy, ThreadNotFoundError, prune

        # LangGraph's own keep_latest (subgraph calls and parent links included).
        policy = PrunePolicy(keep_latest=1, thread_ids=(thread_id,))
        with contextlib.suppress(ThreadNotFoundError):  # a record without checkpoints
            await prune(await self._get_saver(), policy, vacuum="none")
        return True

    async def asearch(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        ids: list[str] | None = None,
        limit: int = 10,
        offset: int = 0,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> list[dict[str, Any]]:
        """Threads whose metadata (and values) contain the given ones, of ``status``,
        sorted (default: most recently updated first), one page."""
        if status is not None and status not in THREAD_STATUSES:
            raise ValueError(f"thread status must be one of {THREAD_STATUSES}, got {status!r}")
        if sort_by is not None and sort_by not in _SORT_KEYS:
            raise ValueError(f"sort_by must be one of {_SORT_KEYS}, got {sort_by!r}")
        if sort_order is not None and sort_order not in ("asc", "desc"):
            raise ValueError(f"sort_order must be 'asc' or 'desc', got {sort_order!r}")
        table = await self._table()
        exact = not metadata or table.sql_filterable(metadata)
        # Only a pending write can make a thread interrupted or failed: a SQL pre-filter.
        flag = {"interrupted": "__interrupt__", "error": "__error__"}.get(status or "")
        query = {
            "metadata": metadata, "ids": ids, "flag": flag,
            "sort_by": sort_by or "updated_at", "descending": sort_order != "asc",
        }  # fmt: skip
        if exact and status is None and not values:  # SQL decides: one page, in SQL
            page = await table.search(**query, limit=limit, offset=offset)
            return [await self._thread(c) for c in page]
        out: list[dict[str, Any]] = []
        skipped = 0
        for candidate in await table.search(**query):  # the rest is exact per thread
            if metadata and not contains(candidate["metadata"], metadata):
                continue
            if status is not None or values:
                thread = await self._thread(candidate)
                if status is not None and thread["status"] != status:
                    continue
                if values and not contains(thread["values"], values):
                    continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(thread if status is not None or values else await self._thread(candidate))
            if len(out) >= limit:
                break
        return out

    async def acount(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
    ) -> int:
        """How many threads :meth:`asearch` would find with these filters."""
        table = await self._table()
        if status is None and not values and (not metadata or table.sql_filterable(metadata)):
            return await table.count(metadata=metadata)
        found = await self.asearch(
            metadata=metadata, values=values, status=status, limit=1 << 62, offset=0
        )
        return len(found)

    # ------------------------------------------------------------------ private

    async def _thread(self, candidate: dict[str, Any]) -> dict[str, Any]:
        """The full thread of a candidate: its latest values, interrupts and status."""
        thread_id = candidate["thread_id"]
        values: Any = {}
        interrupts: dict[str, list[dict[str, Any]]] = {}
        status = candidate["record_status"] or "idle"
        if candidate["last_checkpoint_id"] is not None:
            saver = await self._get_saver()
            found = await saver.aget_tuple(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            )
            if found is not None:
                values = _values(found.checkpoint.get("channel_values", {}))
                writes = found.pending_writes or []
                interrupts = _interrupts_by_task(writes)
                checkpoint_status, _ = pending_status(writes)
                status = _status(candidate, checkpoint_status)
        if thread_id in self._sessions.active:
            status = "busy"
        return {
            "thread_id": thread_id,
            "created_at": _iso(candidate["created_at"]),
            "updated_at": _iso(candidate["updated_at"]),
            "metadata": candidate["metadata"],
            "status": status,
            "values": values,
            "interrupts": interrupts,
        }

    # ------------------------------------------------------------------ sync twins

    def create(
        self,
        thread_id: str | None = None,
        *,
        metadata: dict[str, Any] | None = None,
        if_exists: Literal["raise", "do_nothing"] = "raise",
    ) -> dict[str, Any]:
        """Sync twin of :meth:`acreate`."""
        return self._call(self.acreate(thread_id, metadata=metadata, if_exists=if_exists))

    def get(self, thread_id: str) -> dict[str, Any] | None:
        """Sync twin of :meth:`aget`."""
        return self._call(self.aget(thread_id))

    def update(self, thread_id: str, *, metadata: dict[str, Any] | None) -> dict | None:
        """Sync twin of :meth:`aupdate`."""
        return self._call(self.aupdate(thread_id, metadata=metadata))

    def delete(self, thread_id: str) -> bool:
        """Sync twin of :meth:`adelete`."""
        return self._call(self.adelete(thread_id))

    def copy(self, thread_id: str, new_thread_id: str | None = None) -> dict | None:
        """Sync twin of :meth:`acopy`."""
        return self._call(self.acopy(thread_id, new_thread_id))

    def search(self, **filters: Any) -> list[dict[str, Any]]:
        """Sync twin of :meth:`asearch`."""
        return self._call(self.asearch(**filters))

    def count(self, **filters: Any) -> int:
        """Sync twin of :meth:`acount`."""
        return self._call(self.acount(**filters))

    def touch(
        self, thread_id: str, *, metadata: dict[str, Any] | None = None, status: str | None = None
    ) -> None:
        """Sync twin of :meth:`atouch`."""
        self._call(self.atouch(thread_id, metadata=metadata, status=status))


def contains(document: Any, query: Any) -> bool:
    """Whether ``document`` contains ``query`` as PostgreSQL's ``jsonb @>`` decides (what
    the Agent Server's metadata and values filters use): objects key by key, recursively;
    arrays element-wise (each queried element in the document's array); else equality."""
    if isinstance(query, dict):
        return isinstance(document, dict) and all(
            k in document and contains(document[k], v) for k, v in query.items()
        )
    if isinstance(query, list):
        return isinstance(document, list) and all(
            any(contains(d, q) for d in document) for q in query
        )
    if isinstance(query, bool) or isinstance(document, bool):
        return type(document) is type(query) and document == query
    return bool(document == query)


def _candidate(
    thread_id: str, record: dict[str, Any] | None, row: tuple[Any, ...] | None
) -> dict[str, Any]:
    """What search filters and sorts on, without reading state: the metadata (a thread
    written by a plain run gets ``graph_id``/``assistant_id`` of its workflow) and times."""
    workflow = row[3] if row else None
    metadata: dict[str, Any] = {}
    if workflow:
        metadata = {"graph_id": workflow, "assistant_id": assistant_id_for(workflow)}
    if record is not None:
        metadata = {**metadata, **record["metadata"]}
    first = checkpoint_time(row[1]) if row else None
    last = checkpoint_time(row[2]) if row else None
    created = [t for t in (record and record["created_at"], first and first.timestamp()) if t]
    updated = [t for t in (record and record["updated_at"], last and last.timestamp()) if t]
    return {
        "thread_id": thread_id,
        "metadata": metadata,
        "created_at": min(created) if created else None,
        "updated_at": max(updated) if updated else None,
        "record_status": record["status"] if record else None,
        "record_updated_at": record["updated_at"] if record else None,
        "record_owner": record["owner"] if record else None,
        "last_checkpoint_id": row[2] if row else None,
        "workflow": workflow,
    }


def _status(candidate: dict[str, Any], from_checkpoints: str) -> str:
    """The thread's status: a run's ``busy`` (queued or in flight) outranks what the
    checkpoints say, unless the process that set it is gone (a restarted kernel); a run's
    ``error`` recorded after the latest checkpoint (it failed before writing one) too, and
    its ``interrupted`` at a static breakpoint; else the checkpoints decide."""
    recorded = candidate["record_status"]
    if recorded == "busy" and not _gone(candidate["record_owner"]):
        return "busy"
    # A run's `error`, or `interrupted` at a static breakpoint (interrupt_before/after:
    # no interrupt write, only tasks left), recorded after the latest checkpoint.
    if recorded in ("error", "interrupted") and from_checkpoints == "idle":
        latest = checkpoint_time(candidate["last_checkpoint_id"])
        stamped = candidate["record_updated_at"]
        if stamped is not None and (latest is None or stamped > latest.timestamp()):
            return recorded
    return from_checkpoints


def _process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(owner: str | None) -> bool:
    """Whether the process that marked a thread busy has exited (on this host)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False  # another machine's, or ours: trust it
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


def _values(channel_values: dict[str, Any]) -> Any:
    visible = visible_channels(channel_values)
    if not visible and "__end__" in channel_values:
        # A functional-API entrypoint: its state is the value it returned.
        return channel_values["__end__"]
    return visible


def _interrupts_by_task(writes: list[tuple[str, str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Unanswered interrupts by task id (a task with an output write has finished)."""
    finished = {t for t, channel, _ in writes if not channel.startswith("__")}
    out: dict[str, list[dict[str, Any]]] = {}
    for task_id, channel, value in writes:
        if channel != "__interrupt__" or task_id in finished:
            continue
        for item in value if isinstance(value, (list, tuple)) else [value]:
            out.setdefault(task_id, []).append(
                {"value": getattr(item, "value", item), "id": str(getattr(item, "id", ""))}
            )
    return out


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat()
