"""Threads: create, read, search, copy and delete them; read and write their state.

Thread records come from :mod:`lgp_lab.runtime.threads`. State is read and written by
the workflow that wrote the thread (its checkpoints say which; a new thread's
``graph_id`` metadata otherwise), so values, ``next``, tasks and interrupts are exactly
what ``graph.aget_state`` gives in a notebook.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from langgraph.errors import InvalidUpdateError
from pydantic import BaseModel, ConfigDict, Field

from lgp_lab.jsonable import json_bytes, to_jsonable
from lgp_lab.runtime.threads import ThreadExistsError
from lgp_lab.server.agent_api._common import ApiError, graph_for, workflow_for
from lgp_lab.server.models import THREAD_ID_PATTERN

__all__ = ["build_threads_router", "checkpoint_of", "thread_state"]

# The checkpointer's own rule for metadata filter keys (langgraph-checkpoint-sqlite).
_FILTER_KEY = re.compile(r"[A-Za-z0-9_.\-]+")

ThreadId = Annotated[str, Path(pattern=THREAD_ID_PATTERN, description="The thread id")]
_STATUS = Literal["idle", "busy", "interrupted", "error"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Update(_Body):
    values: Any = None
    command: dict[str, Any] | None = None
    as_node: str | None = None


class _Superstep(_Body):
    updates: list[_Update]


class ThreadCreate(_Body):
    """``POST /threads``."""

    thread_id: str | None = Field(default=None, pattern=THREAD_ID_PATTERN)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] | None = None
    supersteps: list[_Superstep] | None = None
    ttl: Any = None


class ThreadPatch(_Body):
    """``PATCH /threads/{thread_id}``."""

    metadata: dict[str, Any] | None = None
    ttl: Any = None


class ThreadSearch(_Body):
    """``POST /threads/search`` (and ``/count``)."""

    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: _STATUS | None = None
    limit: int = Field(default=10, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    sort_by: Literal["thread_id", "status", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None
    extract: dict[str, str] | None = None


class ThreadPrune(_Body):
    """``POST /threads/prune``."""

    thread_ids: list[Annotated[str, Field(pattern=THREAD_ID_PATTERN)]] = Field(max_length=1000)
    strategy: Literal["delete", "keep_latest"] = "delete"


class StateAt(_Body):
    """``POST /threads/{thread_id}/state/checkpoint``."""

    checkpoint: dict[str, Any]
    subgraphs: bool = False


class StateUpdate(_Body):
    """``POST /threads/{thread_id}/state``: ``graph.update_state`` (``as_node`` may be
    ``__copy__``, ``__input__`` or a node)."""

    values: Any = None
    as_node: str | None = None
    checkpoint_id: str | None = None
    checkpoint: dict[str, Any] | None = None


class HistoryQuery(_Body):
    """``POST /threads/{thread_id}/history``."""

    limit: int = Field(default=10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


def build_threads_router(lab: Any, served: Mapping[str, Any], **options: Any) -> APIRouter:
    """The ``/threads`` routes (runs are in ``agent_api.runs``); ``options`` go to the
    ``APIRouter``."""
    router = APIRouter(prefix="/threads", tags=["threads"], **options)
    records = lab.thread_records

    async def existing(thread_id: str) -> dict[str, Any]:
        thread = await records.aget(thread_id)
        if thread is None:
            raise ApiError(404, f"thread {thread_id!r} not found")
        return thread

    async def summary(thread_id: str) -> dict[str, Any]:
        found = await records.asummary(thread_id)
        if found is None:
            raise ApiError(404, f"thread {thread_id!r} not found")
        return found

    async def writer(thread_id: str, thread: dict[str, Any], *, required: bool) -> Any:
        """The Workflow whose graph reads and writes this thread's state: the one that
        wrote its latest checkpoint, else its ``graph_id`` metadata."""
        name = thread["workflow"] or thread["metadata"].get("graph_id")
        if not name:
            if not required:
                return None
            raise ApiError(
                409,
                f"thread {thread_id!r} has no graph: no run wrote it and its metadata has "
                "no graph_id",
                hint="create it with graph_id (client.threads.create(graph_id=...)), set "
                "metadata.graph_id with PATCH, or start a run on it",
            )
        try:
            return await workflow_for(lab, served, name)
        except ApiError as exc:
            # The thread exists; its graph is what is missing here.
            raise ApiError(
                409, f"thread {thread_id!r} belongs to graph {name!r}: {exc.message}",
                hint=exc.hint,
            ) from None  # fmt: skip

    async def read_state(
        thread_id: str, configurable: dict[str, Any], subgraphs: bool
    ) -> dict[str, Any]:
        thread = await summary(thread_id)
        workflow = await writer(thread_id, thread, required=False)
        config = {"configurable": {"checkpoint_ns": "", **configurable, "thread_id": thread_id}}
        if workflow is None:
            return _empty_state()
        async with graph_for(workflow, config) as graph:
            snapshot = await graph.aget_state(config, subgraphs=subgraphs)
        if configurable.get("checkpoint_id") and snapshot.created_at is None:
            raise ApiError(
                404, f"checkpoint {configurable['checkpoint_id']!r} of thread {thread_id!r} "
                "not found"
            )  # fmt: skip
        return thread_state(snapshot)

    # ------------------------------------------------------------------ threads

    @router.post("")
    async def create(body: ThreadCreate | None = None) -> dict[str, Any]:
        """Create a thread (``if_exists``: ``raise`` (409) or ``do_nothing``)."""
        body = body or ThreadCreate()
        _no_ttl(body.ttl)
        try:
            thread = await records.acreate(
                body.thread_id, metadata=body.metadata, if_exists=body.if_exists or "raise"
            )
        except ThreadExistsError as exc:
            raise ApiError(409, exc.message, hint=exc.hint) from None
        if body.supersteps:
            await apply_supersteps(thread, body.supersteps)
            thread = await existing(thread["thread_id"])
        return to_jsonable(thread)

    async def apply_supersteps(thread: dict[str, Any], supersteps: list[_Superstep]) -> None:
        from langgraph.types import StateUpdate as Update

        thread_id = thread["thread_id"]
        workflow = await writer(thread_id, await summary(thread_id), required=True)
        steps = []
        for step in supersteps:
            updates = []
            for update in step.updates:
                if update.command is not None:
                    raise ApiError(
                        422,
                        "supersteps with a command are not supported here",
                        hint="give each update values and as_node",
                    )
                updates.append(Update(update.values, update.as_node))
            steps.append(updates)
        config = _write_config(lab, workflow, thread_id, {})
        async with graph_for(workflow, config) as graph:
            try:
                await graph.abulk_update_state(config, steps)
            except (InvalidUpdateError, ValueError, KeyError, TypeError) as exc:
                raise ApiError(
                    422, f"supersteps do not fit graph {workflow.name!r}: {exc}"
                ) from None

    @router.post("/search")
    async def search(response: Response, body: ThreadSearch | None = None) -> list[dict]:
        """Threads whose metadata/values contain the given ones, of ``status``; newest
        update first unless ``sort_by``/``sort_order`` say otherwise."""
        body = body or ThreadSearch()
        if body.extract and len(body.extract) > 10:
            raise ApiError(422, f"extract takes at most 10 paths, got {len(body.extract)}")
        paths = {alias: _path(text) for alias, text in (body.extract or {}).items()}
        found = await records.asearch(
            metadata=body.metadata, values=body.values, status=body.status, ids=body.ids,
            limit=body.limit, offset=body.offset, sort_by=body.sort_by,
            sort_order=body.sort_order,
        )  # fmt: skip
        if len(found) == body.limit:
            response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
        if paths:
            for thread in found:
                thread["extracted"] = {a: _follow(thread, p) for a, p in paths.items()}
        if body.select:
            keep = [*body.select, *(["extracted"] if paths else [])]
            found = [{k: t[k] for k in keep if k in t} for t in found]
        return to_jsonable(found)

    @router.post("/prune")
    async def prune(body: ThreadPrune) -> dict[str, int]:
        """``delete`` the threads (their runs cancelled first), or ``keep_latest``: drop
        their history, keeping the latest state. Unknown ids and busy threads (for
        ``keep_latest``) are skipped; returns ``pruned_count``."""
        runs = getattr(lab, "runs", None)
        pruned = 0
        for thread_id in dict.fromkeys(body.thread_ids):
            if body.strategy == "delete":
                if runs is not None and await records.asummary(thread_id) is not None:
                    await runs.adelete_thread(thread_id)
                pruned += await records.adelete(thread_id)
            elif not (runs is not None and runs.active(thread_id) is not None):
                pruned += await records.aprune(thread_id)
        return {"pruned_count": pruned}

    @router.post("/count")
    async def count(body: ThreadSearch | None = None) -> int:
        """How many threads match the filters."""
        body = body or ThreadSearch()
        return await records.acount(metadata=body.metadata, values=body.values, status=body.status)

    @router.get("/{thread_id}")
    async def get(thread_id: ThreadId) -> dict[str, Any]:
        """One thread: metadata, status, latest values and pending interrupts."""
        return to_jsonable(await existing(thread_id))

    @router.patch("/{thread_id}")
    async def patch(thread_id: ThreadId, body: ThreadPatch) -> dict[str, Any]:
        """Merge ``metadata`` into the thread's."""
        _no_ttl(body.ttl)
        thread = await records.aupdate(thread_id, metadata=body.metadata or {})
        if thread is None:
            raise ApiError(404, f"thread {thread_id!r} not found")
        return to_jsonable(thread)

    @router.delete("/{thread_id}", status_code=204)
    async def delete(thread_id: ThreadId) -> Response:
        """Delete the thread with all its checkpoints (its runs are cancelled first)."""
        runs = getattr(lab, "runs", None)
        if runs is not None and await records.aget(thread_id) is not None:
            await runs.adelete_thread(thread_id)
        if not await records.adelete(thread_id):
            raise ApiError(404, f"thread {thread_id!r} not found")
        return Response(status_code=204)

    @router.post("/{thread_id}/copy")
    async def copy(thread_id: ThreadId) -> dict[str, Any]:
        """A new thread with this one's metadata and whole checkpoint history."""
        thread = await records.acopy(thread_id)
        if thread is None:
            raise ApiError(404, f"thread {thread_id!r} not found")
        return to_jsonable(thread)

    # ------------------------------------------------------------------ state

    @router.get("/{thread_id}/state")
    async def state(thread_id: ThreadId, subgraphs: bool = False) -> dict[str, Any]:
        """The latest state (values, next, tasks with interrupts, checkpoint, metadata)."""
        return to_jsonable(await read_state(thread_id, {}, subgraphs))

    @router.get("/{thread_id}/state/{checkpoint_id}")
    async def state_at(thread_id: ThreadId, checkpoint_id: str, subgraphs: bool = False) -> dict:
        """The state at one checkpoint."""
        return to_jsonable(await read_state(thread_id, {"checkpoint_id": checkpoint_id}, subgraphs))

    @router.post("/{thread_id}/state/checkpoint")
    async def state_at_checkpoint(thread_id: ThreadId, body: StateAt) -> dict[str, Any]:
        """The state at a checkpoint given as ``{checkpoint_id, checkpoint_ns, ...}``."""
        configurable = {k: v for k, v in body.checkpoint.items() if v is not None}
        return to_jsonable(await read_state(thread_id, configurable, body.subgraphs))

    @router.post("/{thread_id}/state")
    async def update_state(thread_id: ThreadId, body: StateUpdate) -> dict[str, Any]:
        """``graph.update_state``: write ``values`` as ``as_node`` did (``__copy__``
        copies the checkpoint); returns the new checkpoint."""
        thread = await summary(thread_id)
        workflow = await writer(thread_id, thread, required=True)
        at = {k: v for k, v in (body.checkpoint or {}).items() if v is not None}
        if body.checkpoint_id:
            at["checkpoint_id"] = body.checkpoint_id
        config = _write_config(lab, workflow, thread_id, at)
        async with graph_for(workflow, config) as graph:
            try:
                saved = await graph.aupdate_state(config, body.values, as_node=body.as_node)
            except (InvalidUpdateError, ValueError, KeyError, TypeError) as exc:
                # An unknown or ambiguous as_node, values a reducer refuses.
                raise ApiError(
                    422, f"update does not fit graph {workflow.name!r}: {exc}",
                    hint="name the node with as_node, and give values of the state's keys",
                ) from None  # fmt: skip
        stamp = {} if thread["metadata"].get("graph_id") else {"graph_id": workflow.name}
        await records.atouch(thread_id, metadata=stamp)
        return {"checkpoint": to_jsonable(checkpoint_of(saved))}

    @router.post("/{thread_id}/history")
    async def history(thread_id: ThreadId, body: HistoryQuery | None = None) -> list[dict]:
        """Past states, newest first (``limit``, ``before`` a checkpoint, ``metadata``
        filter, ``checkpoint`` namespace)."""
        body = body or HistoryQuery()
        thread = await summary(thread_id)
        workflow = await writer(thread_id, thread, required=False)
        if workflow is None:
            return []
        at = {k: v for k, v in (body.checkpoint or {}).items() if v is not None}
        config = {"configurable": {"checkpoint_ns": "", **at, "thread_id": thread_id}}
        before = body.before
        if isinstance(before, str):
            before = {"configurable": {"checkpoint_id": before}}
        elif isinstance(before, dict):
            before = {"configurable": before.get("configurable", before)}
        bad = [k for k in (body.metadata or {}) if not _FILTER_KEY.fullmatch(str(k))]
        if bad:
            raise ApiError(
                422,
                f"metadata filter key {bad[0]!r} is not valid: use letters, digits, '_', '.' "
                'or \'-\' (e.g. {"source": "loop"})',
            )
        async with graph_for(workflow, config) as graph:
            states = [
                thread_state(s)
                async for s in graph.aget_state_history(
                    config, limit=body.limit, before=before, filter=body.metadata or None
                )
            ]
        # Encoded off the engine loop: a long history of large states is tens of
        # milliseconds of pure CPU that would stall every other run and stream.
        encoded = await asyncio.to_thread(lambda: json_bytes(to_jsonable(states)))
        return Response(encoded, media_type="application/json")

    return router


def thread_state(snapshot: Any) -> dict[str, Any]:
    """A LangGraph ``StateSnapshot`` in the SDK's ``ThreadState`` shape."""
    from langgraph.types import StateSnapshot

    checkpoint = checkpoint_of(snapshot.config)
    parent = checkpoint_of(snapshot.parent_config)
    tasks = []
    for task in snapshot.tasks:
        sub = task.state
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path) if task.path else [],
                "error": _error_text(task.error),
                "interrupts": list(task.interrupts),
                # A subgraph task points at its namespace (its state is read with it).
                "checkpoint": _task_checkpoint(
                    sub.config if isinstance(sub, StateSnapshot) else sub
                ),
                "state": thread_state(sub) if isinstance(sub, StateSnapshot) else None,
                "result": task.result,
            }
        )
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": snapshot.metadata or {},
        "created_at": snapshot.created_at,
        "checkpoint": checkpoint,
        "parent_checkpoint": parent,
        "interrupts": list(snapshot.interrupts),
        "checkpoint_id": checkpoint["checkpoint_id"] if checkpoint else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def checkpoint_of(config: Any) -> dict[str, Any] | None:
    """``{thread_id, checkpoint_ns, checkpoint_id, checkpoint_map}`` of a config, or
    ``None`` when it names no checkpoint."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("checkpoint_id"):
        return None
    return {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns") or "",
        "checkpoint_id": configurable["checkpoint_id"],
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


_STEP = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def _path(text: str) -> list[str | int]:
    """``values.messages[-1].content`` -> ``["values", "messages", -1, "content"]``."""
    steps: list[str | int] = []
    position = 0
    for match in _STEP.finditer(text):
        gap = text[position : match.start()]
        if gap not in ("", "."):
            break
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not steps or position != len(text) or steps[0] not in _EXTRACTABLE:
        raise ApiError(
            422,
            f"extract path {text!r} is not valid",
            hint="start with values, metadata, interrupts, thread_id, status, created_at or "
            "updated_at; use dots for keys and [n] for list items, e.g. values.messages[-1]",
        )
    return steps


_EXTRACTABLE = frozenset(
    ("values", "metadata", "interrupts", "thread_id", "status", "created_at", "updated_at")
)


def _follow(value: Any, steps: list[str | int]) -> Any:
    for step in steps:
        if not isinstance(value, (dict, list)):
            value = to_jsonable(value)
        if isinstance(step, int) != isinstance(value, list):
            return None  # a key into a list, an index into an object or a scalar
        try:
            value = value[step]  # type: ignore[index]
        except (IndexError, KeyError, TypeError):
            return None
    return value


def _task_checkpoint(config: Any) -> dict[str, Any] | None:
    if not isinstance(config, dict) or not config.get("configurable"):
        return None
    configurable = config["configurable"]
    return {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns") or "",
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def _empty_state() -> dict[str, Any]:
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "metadata": {},
        "created_at": None,
        "checkpoint": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }


def _write_config(lab: Any, workflow: Any, thread_id: str, at: dict[str, Any]) -> dict:
    # The same checkpoint metadata a run writes: the thread keeps naming its workflow.
    return {
        "configurable": {"checkpoint_ns": "", **at, "thread_id": thread_id},
        "metadata": {
            "workflow": workflow.name,
            "workflow_version": workflow.version,
            "environment": lab.environment,
        },
    }


def _error_text(error: Any) -> str | None:
    if error is None:
        return None
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def _no_ttl(ttl: Any) -> None:
    if ttl is not None:
        raise ApiError(
            422,
            "thread ttl is not supported by lgp_lab (threads are kept until deleted)",
            hint="omit ttl; delete a thread with DELETE /threads/{thread_id}",
        )
