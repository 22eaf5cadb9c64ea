"""Sessions: threads, their checkpoints and their state, from any front end.

Answers come from the checkpointer's SQL session store (counts and pages in SQL); only
the state of one checkpoint is ever deserialized at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from lgp_lab.ids import checkpoint_time

__all__ = [
    "ActiveRuns",
    "ChannelDiff",
    "CheckpointInfo",
    "PendingInterrupt",
    "Sessions",
    "ThreadInfo",
    "channel_bytes",
    "checkpoint_time",
    "diff_channels",
    "pending_status",
    "visible_channels",
]

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
    status: str = "idle"
    interrupts: list[PendingInterrupt] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (ISO-8601 UTC times)."""
        from lgp_lab.jsonable import to_jsonable

        return {
            "thread_id": self.thread_id,
            "workflow": self.workflow,
            "checkpoints": self.checkpoints,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "workflow_version": self.workflow_version,
            "environment": self.environment,
            "last_checkpoint_id": self.last_checkpoint_id,
            "status": self.status,
            "interrupts": [
                {"id": i.id, "value": to_jsonable(i.value), "node": i.node} for i in self.interrupts
            ],
        }


@dataclass(frozen=True)
class PendingInterrupt:
    """A question a thread is waiting on: answer it with ``resume`` on the same thread."""

    id: str
    value: Any
    node: str | None = None


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
    nodes: list[str] = field(default_factory=list)

    @property
    def trace_id(self) -> str | None:
        """The trace of the run that wrote this checkpoint."""
        return self.metadata.get("trace_id")

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "nodes": self.nodes,
            "trace_id": self.trace_id,
            "checkpoint_id": self.checkpoint_id,
            "parent_checkpoint_id": self.parent_checkpoint_id,
            "step": self.step,
            "source": self.source,
            "created_at": _iso(self.created_at),
            "workflow_version": self.workflow_version,
        }


@dataclass(frozen=True)
class ChannelDiff:
    """How one state channel changed between a checkpoint and its parent."""

    channel: str
    change: str  # added | removed | changed | unchanged
    summary: str
    before: Any = None
    after: Any = None


class ActiveRuns:
    """The threads with a run in flight (their status is ``busy``), counted per thread.

    The runner wraps each run in :meth:`running`; several runs of one thread nest.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()  # runs start on the engine loop, queries anywhere

    @contextlib.contextmanager
    def running(self, thread_id: str) -> Iterator[None]:
        """Mark ``thread_id`` busy for the duration of the block."""
        with self._lock:
            self._counts[thread_id] = self._counts.get(thread_id, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                left = self._counts.pop(thread_id, 1) - 1
                if left > 0:
                    self._counts[thread_id] = left

    def __contains__(self, thread_id: object) -> bool:
        with self._lock:
            return thread_id in self._counts


class Sessions:
    """Thread queries over one checkpointer; ``a``-prefixed methods are the async twins.

    Args:
        get_store: Coroutine returning the backend's session store (created lazily).
        get_saver: Coroutine returning the checkpointer.
        call: Runs a coroutine on the engine loop from a sync caller.
        active: The threads with a run in flight in this process (reported ``busy``).
        workflow: The loaded workflow of a name (``None`` if not loaded): a thread's
            state is then read through its graph, as ``graph.get_state`` reads it.
    """

    def __init__(
        self,
        get_store: Callable[[], Awaitable[Any]],
        get_saver: Callable[[], Awaitable[Any]],
        call: Callable[[Awaitable[Any]], Any],
        active: ActiveRuns | None = None,
        workflow: Callable[[str], Any] | None = None,
    ) -> None:
        self._get_store = get_store
        self._get_saver = get_saver
        self._call = call
        self._workflow = workflow
        self.active = active if active is not None else ActiveRuns()
        self._delete_hooks: list[Callable[[str], Awaitable[Any]]] = []

    # ------------------------------------------------------------------ async API

    async def athreads(
        self, workflow: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> list[ThreadInfo]:
        """Threads, most recently updated first."""
        store = await self._get_store()
        rows = await store.list_threads(workflow=workflow, limit=limit, offset=offset)
        return [self._busy(_thread(r)) for r in rows]

    async def acount_threads(self, workflow: str | None = None) -> int:
        """How many threads there are (of ``workflow``, if given)."""
        return await (await self._get_store()).count_threads(workflow=workflow)

    async def athread(self, thread_id: str) -> ThreadInfo | None:
        """One thread's summary, or ``None`` if it has no checkpoints.

        Unlike the listing, this reads the latest checkpoint's pending writes, so
        ``status`` is exact (``idle``, ``interrupted`` or ``error``; ``busy`` while a run
        of this process is in flight) and ``interrupts`` holds the questions still
        waiting for an answer (id, value, node).
        """
        rows = await (await self._get_store()).list_threads(thread_id=thread_id, limit=1)
        if not rows:
            return None
        info = _thread(rows[0])
        saver = await self._get_saver()
        found = await saver.aget_tuple(_config(thread_id, info.last_checkpoint_id))
        if found is None:
            return self._busy(info)
        writes = found.pending_writes or []
        nodes = {}
        if any(channel == "__interrupt__" for _, channel, _ in writes):
            store = await self._get_store()
            nodes = await store.task_nodes(thread_id, info.last_checkpoint_id)
        status, interrupts = pending_status(writes, nodes)
        return self._busy(dataclasses.replace(info, status=status, interrupts=interrupts))

    def _busy(self, info: ThreadInfo) -> ThreadInfo:
        if info.thread_id in self.active:
            return dataclasses.replace(info, status="busy")
        return info

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
        """The state values at a checkpoint (the latest by default); ``{}`` if none.

        When the thread's workflow is loaded these are ``graph.get_state``'s values: every
        channel of the state, including one no node wrote yet (a reducer's empty ``{}``),
        which a checkpoint does not store. Channels the checkpoint holds that the loaded
        graph no longer declares (a reload dropped them) are kept. Without the workflow,
        the checkpoint's stored channels are all there is to show.
        """
        saver = await self._get_saver()
        found = await saver.aget_tuple(_config(thread_id, checkpoint_id))
        if found is None:
            return {}
        values = found.checkpoint.get("channel_values", {})
        visible = visible_channels(values)
        graph = await self._graph(found.metadata.get("workflow"))
        if graph is not None:
            read = (await graph.aget_state(found.config)).values
            if not isinstance(read, dict):
                # An entrypoint: the value it returned, as below; nothing yet while it
                # waits on interrupt() (its values read None then, as before it returns).
                return {"output": read} if "__end__" in values else {}
            return {**{k: v for k, v in visible.items() if k not in read}, **read}
        if not visible and "__end__" in values:
            # A functional-API entrypoint: its state is the value it returned, shown as
            # a RunResult shows it ({"output": value} when it is not a mapping).
            value = values["__end__"]
            return dict(value) if isinstance(value, dict) else {"output": value}
        return visible

    async def _graph(self, name: Any) -> Any:
        """The loaded graph of workflow ``name`` for state reads, or ``None``."""
        from lgp_lab.errors import WorkflowLoadError
        from lgp_lab.runtime.loader import GraphFactory

        loaded = self._workflow(name) if self._workflow and isinstance(name, str) else None
        if loaded is None:
            return None
        graph = loaded.graph
        if not isinstance(graph, GraphFactory):
            return graph
        try:
            return await graph.asample()
        except WorkflowLoadError:
            return None  # a factory that needs a run's config: show what is stored

    async def aparent(self, thread_id: str, checkpoint_id: str) -> str | None:
        """The parent checkpoint id of ``checkpoint_id``."""
        saver = await self._get_saver()
        found = await saver.aget_tuple(_config(thread_id, checkpoint_id))
        if found is None or found.parent_config is None:
            return None
        return found.parent_config["configurable"].get("checkpoint_id")

    async def adiff(self, thread_id: str, checkpoint_id: str) -> list[ChannelDiff]:
        """Per-channel changes of ``checkpoint_id`` against its parent checkpoint."""
        after = await self.astate(thread_id, checkpoint_id)
        parent = await self.aparent(thread_id, checkpoint_id)
        before = await self.astate(thread_id, parent) if parent else {}
        return diff_channels(before, after)

    async def afork(
        self, thread_id: str, checkpoint_id: str, new_thread_id: str | None = None
    ) -> str:
        """Copy a checkpoint (and its pending writes) into a new thread; return its id.

        Running the workflow on the new thread continues from that point, leaving the
        original thread untouched.
        """
        import uuid

        saver = await self._get_saver()
        found = await saver.aget_tuple(_config(thread_id, checkpoint_id))
        if found is None:
            raise KeyError(f"checkpoint {checkpoint_id!r} of thread {thread_id!r} not found")
        new_thread_id = new_thread_id or f"{thread_id}-fork-{uuid.uuid4().hex[:6]}"
        metadata = {
            **found.metadata,
            "source": "fork",
            "forked_from": f"{thread_id}@{checkpoint_id}",
            "thread_id": new_thread_id,
        }
        saved = await saver.aput(
            {"configurable": {"thread_id": new_thread_id, "checkpoint_ns": ""}},
            found.checkpoint,
            metadata,
            found.checkpoint.get("channel_versions", {}),
        )
        by_task: dict[str, list[tuple[str, Any]]] = {}
        for task_id, channel, value in found.pending_writes or []:
            by_task.setdefault(task_id, []).append((channel, value))
        for task_id, writes in by_task.items():
            await saver.aput_writes(saved, writes, task_id)
        return new_thread_id

    def on_delete(self, hook: Callable[[str], Awaitable[Any]]) -> None:
        """Call ``hook(thread_id)`` before a thread is deleted (its runs, its record)."""
        self._delete_hooks.append(hook)

    async def adelete(self, thread_id: str) -> None:
        """Delete ``thread_id``: what :meth:`on_delete` hooks hold of it (runs, the thread
        record), then every checkpoint and pending write."""
        for hook in list(self._delete_hooks):
            await hook(thread_id)
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

    def diff(self, thread_id: str, checkpoint_id: str) -> list[ChannelDiff]:
        """Sync twin of :meth:`adiff`."""
        return self._call(self.adiff(thread_id, checkpoint_id))

    def fork(self, thread_id: str, checkpoint_id: str, new_thread_id: str | None = None) -> str:
        """Sync twin of :meth:`afork`."""
        return self._call(self.afork(thread_id, checkpoint_id, new_thread_id))

    def delete(self, thread_id: str) -> None:
        """Sync twin of :meth:`adelete`."""
        self._call(self.adelete(thread_id))


def pending_status(
    writes: list[tuple[str, str, Any]], nodes: dict[str, str] | None = None
) -> tuple[str, list[PendingInterrupt]]:
    """A thread's status and waiting interrupts from its latest checkpoint's pending writes.

    Follows LangGraph's own reading of the write log (``StateSnapshot.interrupts``): a
    task that recorded an output write has finished, so its interrupts are answered;
    an unfinished task's latest ``__interrupt__`` write is still waiting.
    """
    finished: set[str] = set()
    raised: dict[str, list[Any]] = {}
    failed = False
    for task_id, channel, value in writes:
        if task_id == _NULL_TASK_ID:
            continue
        if channel == "__interrupt__":
            raised.setdefault(task_id, []).extend(
                value if isinstance(value, (list, tuple)) else [value]
            )
        elif channel == "__error__":
            failed = True
        elif channel not in _CONTROL_WRITES:
            finished.add(task_id)
    nodes = nodes or {}
    pending: list[PendingInterrupt] = []
    seen: set[str] = set()
    for task_id, items in raised.items():
        if task_id in finished:
            continue
        for item in items:
            interrupt_id = str(getattr(item, "id", ""))
            if interrupt_id and interrupt_id in seen:
                continue  # an entrypoint re-raises its task's interrupt: one question
            seen.add(interrupt_id)
            pending.append(
                PendingInterrupt(
                    id=interrupt_id, value=getattr(item, "value", item), node=nodes.get(task_id)
                )
            )
    if pending:
        return "interrupted", pending
    return ("error" if failed else "idle"), []


_NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"
_CONTROL_WRITES = frozenset(("__error__", "__interrupt__", "__resume__", "__error_source_node__"))


def visible_channels(values: dict[str, Any]) -> dict[str, Any]:
    """State channels without LangGraph's internal ones (``__start__``, ``branch:…``)."""
    return {
        k: v
        for k, v in values.items()
        if not k.startswith("__") and not k.startswith("branch:") and ":" not in k
    }


def diff_channels(before: dict[str, Any], after: dict[str, Any]) -> list[ChannelDiff]:
    """Per-channel changes from ``before`` to ``after`` (all channels, sorted by name)."""
    diffs = []
    for channel in sorted(set(before) | set(after)):
        if channel not in before:
            diffs.append(
                ChannelDiff(channel, "added", _describe(after[channel]), None, after[channel])
            )
        elif channel not in after:
            diffs.append(ChannelDiff(channel, "removed", "removed", before[channel], None))
        elif before[channel] == after[channel]:
            diffs.append(ChannelDiff(channel, "unchanged", "", before[channel], after[channel]))
        else:
            diffs.append(
                ChannelDiff(
                    channel, "changed", _change(before[channel], after[channel]),
                    before[channel], after[channel],
                )
            )  # fmt: skip
    return diffs


def channel_bytes(state: dict[str, Any]) -> dict[str, int]:
    """Size of each channel as JSON, in bytes (where a thread's state grows)."""
    from lgp_lab.jsonable import dumps

    return {k: len(dumps(v).encode()) for k, v in state.items()}


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return f"{len(value)} items"
    if isinstance(value, dict):
        return f"{len(value)} keys"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _change(before: Any, after: Any) -> str:
    if isinstance(before, list) and isinstance(after, list):
        if after[: len(before)] == before:
            return f"+{len(after) - len(before)} items (now {len(after)})"
        return f"{len(before)} → {len(after)} items, rewritten"
    if isinstance(before, dict) and isinstance(after, dict):
        added = sorted(set(after) - set(before))
        removed = sorted(set(before) - set(after))
        changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
        parts = [f"+{k}" for k in added] + [f"-{k}" for k in removed] + [f"~{k}" for k in changed]
        return "keys " + " ".join(parts)
    return f"{_describe(before)} → {_describe(after)}"


def _config(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


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
        status=row.get("status", "idle"),
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
        nodes=row.get("nodes", []),
    )


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None
