"""Runs: LangGraph Agent Server runs, in the domain layer.

A run is a record (id, thread, assistant, status, multitask strategy, attempt, times,
kwargs, metadata) stored in the project's database beside the checkpoints, executed in
the background on the Lab's engine loop. A thread has **one active run at a time**; a
new run on a busy thread follows its ``multitask_strategy`` exactly as LangGraph's
Agent Server defines it:

- ``reject``: refused (:class:`RunConflictError`, a 409 over HTTP);
- ``enqueue``: waits its turn (FIFO) and then runs on the state the previous run left;
- ``interrupt``: the in-flight run is cancelled (status ``interrupted``, its
  checkpoints stay) and the new run starts from there;
- ``rollback``: the in-flight run is cancelled, its checkpoints and its record are
  deleted, and the new run starts from the state before it.

Every run's events go to an in-memory buffer in the Agent Server's SSE vocabulary
(``metadata``, ``values``, ``updates``, ``messages``, ``messages/partial`` ...,
``error``, ``end``), numbered so a client can rejoin with ``Last-Event-ID``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import dataclasses
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from lgp_lab.errors import LgpError, format_exception_only
from lgp_lab.jsonable import to_jsonable
from lgp_lab.observability.tokens import with_token_relay
from lgp_lab.runtime import run_requests as checks
from lgp_lab.runtime.run_events import RunEmitter, encode_event
from lgp_lab.runtime.run_owner import Ownership, new_owner_id
from lgp_lab.runtime.run_relay import follow, relay
from lgp_lab.runtime.run_requests import MULTITASK_STRATEGIES, STREAM_MODES

__all__ = [
    "MULTITASK_STRATEGIES",
    "STREAM_MODES",
    "Run",
    "RunConflictError",
    "RunNotFoundError",
    "RunStore",
    "Runs",
]

_ACTIVE = ("pending", "running")
# Finished resumable runs whose events stay replayable (Last-Event-ID), and for how long.
_KEEP_FINISHED = 256
_KEEP_FINISHED_S = 900.0
# Threads remembered as stamped with their graph (skips a write per run).
_STAMPED_MAX = 10_000
# The LangGraph modes every run streams for itself (final state, interrupts).
_ALWAYS = ("values", "updates")


class RunConflictError(LgpError):
    """The thread already has a run in flight and the new run's strategy is ``reject``."""


class RunNotFoundError(LgpError):
    """No such run (or no such thread for a run that needs one)."""


class RunStore(Protocol):
    """Where run records persist. :class:`~lgp_lab.storage.sqlite.runs.SqliteRunStore`
    is the SQLite one; a PostgreSQL store implements the same methods."""

    async def put(self, row: dict[str, Any]) -> None: ...
    async def set_status(
        self,
        run_id: str,
        status: str,
        updated_at: str,
        attempt: int | None = None,
        *,
        owner: str | None = None,
    ) -> bool: ...
    async def get(self, thread_id: str | None, run_id: str) -> dict[str, Any] | None: ...
    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: str | None = None
    ) -> list[dict[str, Any]]: ...
    async def delete(self, run_id: str) -> bool: ...
    async def delete_thread(self, thread_id: str) -> int: ...
    async def delete_checkpoints_of_run(self, thread_id: str, run_id: str) -> int: ...


@dataclass
class Run:
    """One run, as the Agent Server API returns it (``langgraph_sdk.schema.Run``)."""

    run_id: str
    thread_id: str
    assistant_id: str
    status: str
    multitask_strategy: str
    attempt: int
    created_at: dt.datetime
    updated_at: dt.datetime
    kwargs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The SDK's ``Run`` shape (ISO-8601 times)."""
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "status": self.status,
            "metadata": self.metadata,
            "kwargs": self.kwargs,
            "multitask_strategy": self.multitask_strategy,
            "attempt": self.attempt,
        }

    def _row(self) -> dict[str, Any]:
        return {
            **self.to_dict(),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def _from_row(cls, row: dict[str, Any]) -> Run:
        return cls(
            run_id=row["run_id"],
            thread_id=row["thread_id"],
            assistant_id=row["assistant_id"],
            status=row["status"],
            multitask_strategy=row["multitask_strategy"],
            attempt=int(row["attempt"]),
            created_at=dt.datetime.fromisoformat(row["created_at"]),
            updated_at=dt.datetime.fromisoformat(row["updated_at"]),
            kwargs=row.get("kwargs") or {},
            metadata=row.get("metadata") or {},
        )


@dataclass
class _Request:
    """What a run executes (Python values, not the JSON record)."""

    workflow: Any
    graph_id: str
    input: Any
    command: dict[str, Any] | None
    config: dict[str, Any]
    context: Any
    stream_mode: list[str]
    subgraphs: bool
    interrupt_before: Any
    interrupt_after: Any
    checkpoint: dict[str, Any] | None
    durability: str | None
    temporary: bool
    resume: bool = False  # adopted after its process died: continue from its checkpoint


class _Live:
    """A run of this process: its task, its event buffer and who waits on it."""

    def __init__(self, run: Run, request: _Request, resumable: bool) -> None:
        loop = asyncio.get_running_loop()
        self.run = run
        self.request = request
        self.resumable = resumable
        self.events: list[tuple[int, str, bytes]] = []
        self.seq = 0
        self.subscribers = 0
        self.changed = asyncio.Event()
        self.closed = False
        self.stored: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[Any] = loop.create_future()
        self.task: asyncio.Task[None] | None = None
        self.cancel_action: str | None = None
        self.values: Any = None
        self.waiting = False  # it stopped at an interrupt()
        self.recording: asyncio.Task[None] | None = None  # a cancelled queued run's write
        self.relaying = False  # its events are copied for a replica joining its stream
        self.lost_to: str | None = None  # the replica that took it over (lease ran out)
        self.finished_at = 0.0

    @property
    def finished(self) -> bool:
        # A run whose record could not be written (refused, e.g. a `reject` conflict)
        # never runs: finished, even before the lane's worker has dropped it.
        stored = self.stored
        return (
            self.closed
            or self.done.done()
            or (stored.done() and not stored.cancelled() and stored.exception() is not None)
        )

    def publish(self, event: str, data: Any) -> None:
        self.seq += 1
        if self.subscribers or self.resumable:
            self.events.append((self.seq, event, encode_event(data)))
            self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class _Gate:
    """A lane entry for a run outside this API (``Lab.run``, ``/workflows/...``): it holds
    the thread as a run does, so the two kinds queue behind each other."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.admitted: asyncio.Future[None] = loop.create_future()
        self.released: asyncio.Future[None] = loop.create_future()
        self.task = asyncio.current_task()
        self.cancel_action: str | None = None

    @property
    def finished(self) -> bool:
        return self.released.done()

    def release(self) -> None:
        if not self.released.done():
            self.released.set_result(None)


# The thread of the run the current task belongs to: a node that runs its own thread
# again (Lab.run inside a run) must not queue behind itself.
_RUNNING: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "lgp_run_thread", default=None
)


class Runs:
    """The runs of one Lab (``lab.runs``): create, stream, join, cancel, list, delete.

    Every method runs on the Lab's engine loop (called from elsewhere it hops there).
    """

    def __init__(self, lab: Any) -> None:
        self._lab = lab
        self._store: Any = None
        self._threads_table: Any = None
        self._live: dict[str, _Live] = {}
        self._lanes: dict[str, collections.deque[_Live | _Gate]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._finished: collections.OrderedDict[str, _Live] = collections.OrderedDict()
        # What this process last wrote to a thread's record: (graph_id, assistant_id, status).
        self._stamped: collections.OrderedDict[str, tuple[str, str, str]] = (
            collections.OrderedDict()
        )
        self._closing = False
        self.owner = new_owner_id()
        self._ownership: Ownership | None = None
        self._relays: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ store

    async def astore(self) -> RunStore:
        """The run store of the configured backend, beside the checkpoints. Opening it
        starts this process's lease keeper, which first adopts the open runs of dead
        processes (see :mod:`lgp_lab.runtime.run_owner`)."""
        if self._store is None:
            from lgp_lab.storage import run_store_for

            store = run_store_for(await self._lab.acheckpointer())
            if self._store is None:
                self._store = store
                self._ownership = Ownership(
                    store, self.owner, self._lab.config.runs,
                    adopt=self._adopt, owned=self._owned, cancel=self._remote_cancel,
                    lose=self._lose, relay=self._start_relay, warn=self._lab.warn,
                )  # fmt: skip
                if not self._closing:
                    self._ownership.start()
        return self._store

    async def astart(self) -> None:
        """Open the store now and adopt the runs dead processes left (a server calls
        this on start, so they resume before the first request)."""
        if not self._lab._on_engine():
            return await self._lab._hop(self.astart())
        await self.astore()
        assert self._ownership is not None
        await self._ownership.adopt_now()

    # ------------------------------------------------------------------ create

    async def acreate(
        self,
        *,
        thread_id: str | None,
        assistant_id: str,
        graph_id: Any,
        input: Any = None,
        command: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        context: Any = None,
        metadata: dict[str, Any] | None = None,
        stream_mode: str | Iterable[str] | None = ("values",),
        stream_subgraphs: bool = False,
        stream_resumable: bool = False,
        multitask_strategy: str | None = "reject",
        if_not_exists: str | None = "reject",
        checkpoint_id: str | None = None,
        checkpoint: dict[str, Any] | None = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        on_disconnect: str | None = "cancel",
        on_completion: str | None = None,
        durability: str | None = None,
    ) -> Run:
        """Create a run and start it in the background (or queue it behind the thread's
        run in flight, per ``multitask_strategy``).

        ``thread_id=None`` is a stateless run: a temporary thread, deleted when the run
        ends unless ``on_completion="keep"``. ``graph_id`` is anything
        :meth:`Lab.aload` takes (a served workflow's name, a Workflow).

        Raises:
            WorkflowInputError: A field has a value the API does not define (nothing
                was created).
            RunNotFoundError: The thread does not exist and ``if_not_exists`` is
                ``reject``.
            RunConflictError: The thread is busy and the strategy is ``reject``.
        """
        lab = self._lab
        lab._check_open()
        if not lab._on_engine():
            return await lab._hop(
                self.acreate(
                    thread_id=thread_id, assistant_id=assistant_id, graph_id=graph_id,
                    input=input, command=command, config=config, context=context,
                    metadata=metadata, stream_mode=stream_mode,
                    stream_subgraphs=stream_subgraphs, stream_resumable=stream_resumable,
                    multitask_strategy=multitask_strategy, if_not_exists=if_not_exists,
                    checkpoint_id=checkpoint_id, checkpoint=checkpoint,
                    interrupt_before=interrupt_before, interrupt_after=interrupt_after,
                    on_disconnect=on_disconnect, on_completion=on_completion,
                    durability=durability,
                )
            )  # fmt: skip
        strategy = checks.choice(
            "multitask_strategy", multitask_strategy or "reject", MULTITASK_STRATEGIES
        )
        checks.choice("if_not_exists", if_not_exists or "reject", checks.IF_NOT_EXISTS)
        checks.choice("on_disconnect", on_disconnect or "cancel", checks.ON_DISCONNECT)
        checks.choice("on_completion", on_completion or "delete", checks.ON_COMPLETION)
        if durability is not None:
            checks.choice("durability", durability, checks.DURABILITY)
        modes = checks.stream_modes(stream_mode)
        command = checks.check_command(command, input)
        fork = checks.fork_of(checkpoint_id, checkpoint)
        user_config = checks.check_config(config)
        for name, nodes in (
            ("interrupt_before", interrupt_before),
            ("interrupt_after", interrupt_after),
        ):
            checks.check_nodes(name, nodes)
        workflow = await lab.aload(graph_id)
        if command is None and input is not None and not isinstance(input, str):
            checks.check_input_fits(workflow, input)

        temporary = thread_id is None and (on_completion or "delete") == "delete"
        new_thread = thread_id is None
        if thread_id is None:
            thread_id = str(uuid.uuid4())
        elif not await self._thread_exists(thread_id):
            if (if_not_exists or "reject") != "create":
                raise RunNotFoundError(
                    f"thread {thread_id!r} not found",
                    hint="create it first (POST /threads, client.threads.create) or pass "
                    'if_not_exists="create"',
                )
            new_thread = True
        if fork is not None and not await self._thread_exists(thread_id):
            raise RunNotFoundError(
                f"checkpoint {fork.get('checkpoint_id')!r} not found: thread {thread_id!r} "
                "has no checkpoints",
                hint="fork from a checkpoint_id listed by the thread's history",
            )

        now = _now()
        run_id = str(uuid.uuid4())
        graph_name = workflow.name
        run_metadata = dict(metadata or {})
        kwargs = {
            "input": input,
            "command": command,
            "config": {
                **user_config,
                "configurable": {
                    **(user_config.get("configurable") or {}),
                    "run_id": run_id,
                    "thread_id": thread_id,
                    "graph_id": graph_name,
                    "assistant_id": assistant_id,
                    **(fork or {}),
                },
            },
            "context": context,
            "stream_mode": modes,
            "subgraphs": bool(stream_subgraphs),
            "resumable": bool(stream_resumable),
            "interrupt_before": interrupt_before,
            "interrupt_after": interrupt_after,
            "on_disconnect": on_disconnect or "cancel",
            "temporary": temporary,
            "durability": durability,
        }
        run = Run(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant_id,
            status="pending",
            multitask_strategy=strategy,
            attempt=1,
            created_at=now,
            updated_at=now,
            kwargs=to_jsonable(kwargs),
            metadata=to_jsonable(run_metadata),
        )
        request = _Request(
            workflow=workflow,
            graph_id=graph_name,
            input=input,
            command=command,
            config=user_config,
            context=context,
            stream_mode=modes,
            subgraphs=bool(stream_subgraphs),
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            checkpoint=fork,
            durability=durability,
            temporary=temporary,
        )

        # From here to the end of the lane update there is no await: the check for a
        # run in flight and the insert of this one are one step on the engine loop.
        lane = self._lanes.setdefault(thread_id, collections.deque())
        inflight = [other for other in lane if not other.finished]
        if inflight and strategy == "reject":
            if not lane:
                self._lanes.pop(thread_id, None)
            raise RunConflictError(
                f"thread {thread_id!r} is already running a task ({_describe(inflight[0])}); "
                "wait for it to finish or choose a different multitask strategy",
                hint='pass multitask_strategy="enqueue" to queue behind it, "interrupt" or '
                '"rollback" to replace it',
            )
        live = _Live(run, request, bool(stream_resumable))
        self._live[run_id] = live
        lane.append(live)
        if strategy in ("interrupt", "rollback"):
            for other in inflight:
                self._cancel_live(other, strategy)
        self._ensure_worker(thread_id)
        try:
            store = await self.astore()
            row = {**run._row(), "owner": self.owner, "lease_until": self._lease_until()}
            if store.distributed:
                # Other replicas' runs of the thread (whatever runs here), checked and
                # acted on in the same step as the insert.
                others = await store.put_checked(row, strategy, set(self._live))
                if others and strategy == "reject":
                    raise RunConflictError(
                        f"thread {thread_id!r} is already running a task (run "
                        f"{others[0]['run_id']} on another replica); wait for it to finish "
                        "or choose a different multitask strategy",
                        hint='pass multitask_strategy="enqueue" to queue behind it, '
                        '"interrupt" or "rollback" to replace it',
                    )
                inflight = [*inflight, *others]
            else:
                await store.put(row)
            if not temporary and (inflight or new_thread):
                # Queued: the thread reads `busy` until its turn. A thread made for this run
                # is created now, as the reference server creates it with the run: until
                # its first checkpoint nothing else says it exists (GET /threads/{id}
                # would 404). A run that starts at once on an existing thread needs no
                # write here: it reads `busy` while in flight (sessions.active), and its
                # end stamps the graph and the outcome in one write.
                await self._touch(
                    thread_id,
                    metadata={"graph_id": graph_name, "assistant_id": assistant_id},
                    status="busy",
                )
                self._stamp(thread_id, (graph_name, assistant_id, "busy"))
        except BaseException as exc:
            live.stored.set_exception(exc if isinstance(exc, Exception) else LgpError("cancelled"))
            raise
        live.stored.set_result(None)
        return dataclasses.replace(run)  # a snapshot: the live record keeps changing

    # ------------------------------------------------------------------ read

    async def aget(self, thread_id: str | None, run_id: str) -> Run | None:
        """One run of ``thread_id`` (any thread when ``None``), or ``None``."""
        if not self._lab._on_engine():
            return await self._lab._hop(self.aget(thread_id, run_id))
        live = self._live.get(run_id) or self._finished.get(run_id)
        if live is not None:
            if live.run.status == "deleted":
                return None  # rolled back
            if thread_id is None or live.run.thread_id == thread_id:
                return dataclasses.replace(live.run)
            return None
        row = await (await self.astore()).get(thread_id, run_id)
        return Run._from_row(row) if row else None

    async def alist(
        self, thread_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None
    ) -> list[Run]:
        """A thread's runs, newest first."""
        if not self._lab._on_engine():
            return await self._lab._hop(
                self.alist(thread_id, limit=limit, offset=offset, status=status)
            )
        rows = await (await self.astore()).list(
            thread_id, limit=limit, offset=offset, status=status
        )
        runs = []
        for row in rows:
            live = self._live.get(row["run_id"])
            if live is not None and live.run.status == "deleted":
                continue
            runs.append(dataclasses.replace(live.run) if live is not None else Run._from_row(row))
        return runs

    def active(self, thread_id: str) -> Run | None:
        """The run in flight on ``thread_id`` in this process, if any."""
        lane = self._lanes.get(thread_id) or ()
        for live in lane:
            if isinstance(live, _Live) and not live.finished:
                return dataclasses.replace(live.run)
        return None

    def inflight(self, thread_id: str | None = None) -> list[Run]:
        """The pending and running runs of this process (of ``thread_id`` when given),
        in the order they will run."""
        lanes = [self._lanes.get(thread_id) or ()] if thread_id else list(self._lanes.values())
        return [
            dataclasses.replace(live.run)
            for lane in lanes
            for live in lane
            if isinstance(live, _Live) and not live.finished
        ]

    @contextlib.asynccontextmanager
    async def exclusive(self, thread_id: str | None) -> AsyncIterator[None]:
        """Hold ``thread_id`` for a run made outside this API (``Lab.run``): it waits for
        the thread's runs in flight and queued (as ``enqueue``), and while it is held, API
        runs on the thread are refused (``reject``), queued, or cancel it (``interrupt``,
        ``rollback``: the holding task is cancelled). A new thread (``None``), or the
        thread of the run this code is part of, is not held.

        Call it on the engine loop.
        """
        if thread_id is None or self._closing or _RUNNING.get() == thread_id:
            yield
            return
        gate = _Gate()
        lane = self._lanes.setdefault(thread_id, collections.deque())
        if not lane:
            gate.admitted.set_result(None)  # an idle thread: no wait for the worker
        lane.append(gate)
        self._ensure_worker(thread_id)
        try:
            await gate.admitted
            token = _RUNNING.set(thread_id)
            try:
                yield
            finally:
                _RUNNING.reset(token)
        finally:
            gate.release()

    # ------------------------------------------------------------------ stream / join

    async def astream(
        self,
        run_id: str,
        *,
        thread_id: str | None = None,
        last_event_id: str | None = None,
        heartbeat_s: float | None = None,
    ) -> AsyncIterator[tuple[str, str, bytes]]:
        """The run's events as ``(event_id, event, json_bytes)``.

        From the start when ``last_event_id`` is ``"-1"`` (the run's creator), after
        that event when it names one (a rejoin; resumable runs keep every event),
        else from now on. With ``heartbeat_s``, an idle stream yields
        ``("", "", b"")`` that often, for the caller to send a keep-alive.

        Raises:
            RunNotFoundError: No such run (of ``thread_id``).
        """
        live = self._live.get(run_id) or self._finished.get(run_id)
        if live is None or (thread_id is not None and live.run.thread_id != thread_id):
            run = await self.aget(thread_id, run_id)
            if run is None:
                raise RunNotFoundError(f"run {run_id!r} not found" + _on(thread_id))
            if run.status in _ACTIVE and (await self.astore()).distributed:
                # Another replica executes it: it relays the events from now on (all
                # of them for a resumable run) through the database (runtime.run_relay).
                async for item in self._follow_remote(run, heartbeat_s):
                    yield item
            return  # finished before this process kept its events: nothing to replay
        position = _position(live, last_event_id)
        live.subscribers += 1
        try:
            while True:
                while position < len(live.events):
                    seq, event, data = live.events[position]
                    position += 1
                    yield str(seq), event, data
                if live.closed:
                    return
                waiter = live.changed
                if heartbeat_s is None:
                    await waiter.wait()
                else:
                    try:
                        await asyncio.wait_for(waiter.wait(), heartbeat_s)
                    except TimeoutError:
                        yield "", "", b""
        finally:
            live.subscribers -= 1

    def subscribe(self, run_id: str) -> None:
        """Start buffering a just-created run's events for a reader that attaches next
        (its creator's stream), so none is missed before it reads."""
        live = self._live.get(run_id)
        if live is not None:
            live.subscribers += 1

    def unsubscribe(self, run_id: str) -> None:
        """Undo :meth:`subscribe`."""
        live = self._live.get(run_id) or self._finished.get(run_id)
        if live is not None:
            live.subscribers = max(0, live.subscribers - 1)

    async def ajoin(self, thread_id: str | None, run_id: str) -> Any:
        """Wait for the run to finish; its final state values (with ``__interrupt__``
        when it stopped on one), or ``{"__error__": {"error", "message"}}``.

        Raises:
            RunNotFoundError: No such run.
        """
        if not self._lab._on_engine():
            return await self._lab._hop(self.ajoin(thread_id, run_id))
        live = self._live.get(run_id) or self._finished.get(run_id)
        if live is not None and (thread_id is None or live.run.thread_id == thread_id):
            result = await asyncio.shield(live.done)
            if result is not None:
                return result
            if live.lost_to is None:
                return await self._thread_values(live.run.thread_id)  # it never ran
        run = await self.aget(thread_id, run_id)
        if run is None:
            raise RunNotFoundError(f"run {run_id!r} not found" + _on(thread_id))
        if run.status in _ACTIVE and (await self.astore()).distributed:
            run = await self._await_remote(thread_id, run_id)  # on another replica
        return await self._thread_values(run.thread_id)

    # ------------------------------------------------------------------ cancel / delete

    async def acancel(
        self, thread_id: str | None, run_id: str, *, wait: bool = False, action: str = "interrupt"
    ) -> None:
        """Cancel a pending or running run.

        ``interrupt`` stops it and keeps what it checkpointed (status ``interrupted``);
        ``rollback`` stops it and deletes its checkpoints and its record. A run that
        already finished is left as it is.

        Raises:
            RunNotFoundError: No such run.
            WorkflowInputError: An action other than ``interrupt`` / ``rollback``.
        """
        if not self._lab._on_engine():
            return await self._lab._hop(self.acancel(thread_id, run_id, wait=wait, action=action))
        checks.choice("action", action, checks.CANCEL_ACTIONS)
        live = self._live.get(run_id)
        if live is None or (thread_id is not None and live.run.thread_id != thread_id):
            run = await self.aget(thread_id, run_id)
            if run is None:
                raise RunNotFoundError(f"run {run_id!r} not found" + _on(thread_id))
            store = await self.astore()
            if run.status in _ACTIVE and store.distributed:
                # Its owner (another replica) polls for the request and stops it.
                await store.request_cancel(run_id, action)
                if wait:
                    await self._await_remote(thread_id, run_id)
            return
        self._cancel_live(live, action)
        if wait:
            await asyncio.shield(live.done)

    async def adelete(self, thread_id: str | None, run_id: str) -> None:
        """Delete a finished run's record (a run in flight is cancelled first).

        Raises:
            RunNotFoundError: No such run.
        """
        if not self._lab._on_engine():
            return await self._lab._hop(self.adelete(thread_id, run_id))
        run = await self.aget(thread_id, run_id)
        if run is None:
            raise RunNotFoundError(f"run {run_id!r} not found" + _on(thread_id))
        live = self._live.get(run_id)
        if live is not None and not live.finished:
            self._cancel_live(live, "interrupt")
            await asyncio.shield(live.done)
        await (await self.astore()).delete(run_id)
        self._finished.pop(run_id, None)

    async def adelete_thread(self, thread_id: str) -> None:
        """Cancel a thread's runs and delete their records (the thread is going away)."""
        if not self._lab._on_engine():
            return await self._lab._hop(self.adelete_thread(thread_id))
        self._stamped.pop(thread_id, None)
        lane = list(self._lanes.get(thread_id) or ())
        for live in lane:
            self._cancel_live(live, "interrupt")
        for live in lane:
            with contextlib.suppress(Exception):
                await asyncio.shield(live.done if isinstance(live, _Live) else live.released)
        await (await self.astore()).delete_thread(thread_id)

    async def aclose(self, timeout: float = 2.0) -> None:
        """Cancel every run in flight (they end ``interrupted``), bounded by ``timeout``."""
        self._closing = True
        if self._ownership is not None:
            await self._ownership.aclose()
        lives = [live for live in self._live.values() if not live.finished]
        for live in lives:
            self._cancel_live(live, "interrupt")
        tasks = [t for t in self._workers.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    # ------------------------------------------------------------------ execution

    def _ensure_worker(self, thread_id: str) -> None:
        if thread_id not in self._workers:
            self._workers[thread_id] = asyncio.get_running_loop().create_task(
                self._work(thread_id), name=f"lgp-runs-{thread_id}"
            )

    def _cancel_live(self, live: _Live | _Gate, action: str) -> None:
        if live.finished:
            return
        live.cancel_action = action
        if isinstance(live, _Gate):
            # A Lab.run holding the thread: stopped (its checkpoints stay; they carry no
            # run id to roll back by).
            if live.task is not None and not live.task.done():
                live.task.cancel()
            return
        if live.task is not None and not live.task.done():
            live.task.cancel()
        elif live.task is None:
            # Not started yet: it never runs. A rollback leaves no trace of it. The run
            # stays readable here until its record says so too.
            live.run.status = "interrupted"
            live.run.updated_at = _now()
            self._finish(live, None, deleted=action == "rollback", forget=False)
            live.recording = asyncio.get_running_loop().create_task(self._record_unstarted(live))

    async def _work(self, thread_id: str) -> None:
        """Run a thread's runs one after the other, in the order they were accepted."""
        lane = self._lanes[thread_id]
        try:
            while lane:
                live = lane[0]
                if isinstance(live, _Gate):
                    if not live.finished:
                        if not live.admitted.done():
                            live.admitted.set_result(None)
                        await asyncio.wait({live.released})
                    lane.popleft()
                    continue
                with contextlib.suppress(Exception):
                    await asyncio.shield(live.stored)
                if live.stored.exception() is not None:
                    self._finish(live, None, deleted=True)  # never recorded: never ran
                elif live.finished:
                    if live.recording is not None:  # cancelled while it waited
                        await asyncio.wait({live.recording})
                else:
                    live.task = asyncio.get_running_loop().create_task(
                        self._execute(live), name=f"lgp-run-{live.run.run_id}"
                    )
                    await asyncio.wait({live.task})
                lane.popleft()
        except asyncio.CancelledError:
            for live in lane:
                self._cancel_live(live, "interrupt")
                if isinstance(live, _Gate):
                    live.release()
            raise
        finally:
            if not lane:
                self._lanes.pop(thread_id, None)
            self._workers.pop(thread_id, None)
            if lane and not self._closing:  # a run arrived while this worker was exiting
                self._ensure_worker(thread_id)

    async def _record_unstarted(self, live: _Live) -> None:
        with contextlib.suppress(Exception):
            await asyncio.shield(live.stored)
        store = await self.astore()
        try:
            if live.stored.exception() is not None:
                pass  # never recorded: nothing to update
            elif live.cancel_action == "rollback":
                await store.delete(live.run.run_id)
            else:
                await store.set_status(
                    live.run.run_id, live.run.status, live.run.updated_at.isoformat()
                )
        except Exception as exc:
            self._lab.warn(f"run {live.run.run_id}: recording its cancellation failed: {exc}")
        finally:
            if self._live.get(live.run.run_id) is live:
                self._live.pop(live.run.run_id)

    async def _execute(self, live: _Live) -> None:
        run = live.run
        _RUNNING.set(run.thread_id)  # this task's context: nodes that run the thread again
        store = await self.astore()
        result: Any = None
        status = "error"
        error: BaseException | None = None
        try:
            await self._take_turn(live, store)
            # On SQLite "running" lives in memory only: the row is written when the run
            # is created and when it ends (one write fewer per run). A distributed
            # store wrote it in the claim.
            run.status = "running"
            run.updated_at = _now()
            interrupts = await self._drive_retried(live, store)
            # As the Agent Server: a run that stops at interrupt() succeeded; its thread
            # is the one `interrupted` (waiting for a Command(resume=...)).
            status = "success"
            live.waiting = live.waiting or bool(interrupts)
            result = _final_values(live.values, interrupts)
        except asyncio.CancelledError:
            status = "interrupted"
            if live.cancel_action is None:
                live.cancel_action = "interrupt"
        except Exception as exc:
            error = exc
            result = {"__error__": _error_body(exc)}
            live.publish("error", result["__error__"])
        if live.lost_to is not None:
            # Another replica resumes it from its last checkpoint: that one records the
            # end. Joiners here follow the run there (ajoin), streams are told to rejoin.
            live.publish("error", _lost_error(run, live.lost_to))
            self._finish(live, None, forget=True)
            return
        run.status = status
        run.updated_at = _now()
        deleted = live.cancel_action == "rollback"
        try:
            if deleted:
                await store.delete_checkpoints_of_run(run.thread_id, run.run_id)
                await store.delete(run.run_id)
            elif not await store.set_status(
                run.run_id, status, run.updated_at.isoformat(), owner=self.owner
            ):
                self._lab.warn(
                    f"run {run.run_id}: ended {status} here, but another replica had taken "
                    "it over (this one's lease ran out); its record is that replica's"
                )
            if live.cancel_action is not None:
                result = await self._thread_values(run.thread_id)
            await self._after_run(live, status, error)
        except Exception as exc:  # the bookkeeping must not leave joiners waiting
            self._lab.warn(f"run {run.run_id}: recording its end failed: {exc}")
        self._finish(live, result, deleted=deleted)

    def _finish(
        self, live: _Live, result: Any, *, deleted: bool = False, forget: bool = True
    ) -> None:
        run = live.run
        if deleted:
            run.status = "deleted" if run.status in _ACTIVE else run.status
        if not live.closed:
            live.publish("end", {"run_id": run.run_id, "status": run.status})
        if not live.done.done():
            live.done.set_result(result)
        live.close()
        live.finished_at = time.monotonic()
        if forget:
            self._live.pop(run.run_id, None)
        if deleted:
            run.status = "deleted"
            return
        if live.resumable:
            self._finished[run.run_id] = live
            self._trim_finished()

    def _stamp(self, thread_id: str, stamp: tuple[str, str, str]) -> None:
        self._stamped[thread_id] = stamp
        self._stamped.move_to_end(thread_id)
        while len(self._stamped) > _STAMPED_MAX:
            self._stamped.popitem(last=False)

    def _trim_finished(self) -> None:
        deadline = time.monotonic() - _KEEP_FINISHED_S
        while self._finished:
            run_id, oldest = next(iter(self._finished.items()))
            if len(self._finished) <= _KEEP_FINISHED and oldest.finished_at >= deadline:
                break
            self._finished.pop(run_id)

    async def _after_run(self, live: _Live, status: str, error: BaseException | None) -> None:
        run = live.run
        request = live.request
        if request.temporary:
            await self._drop_thread(run.thread_id)
            return
        lane = self._lanes.get(run.thread_id) or ()
        if any(other is not live and not other.finished for other in lane):
            return  # the next run keeps the thread busy
        thread_status = "error" if status == "error" else "idle"
        if live.waiting:
            thread_status = "interrupted"
        if live.cancel_action is not None:
            thread_status = "idle"
        recorded = (request.graph_id, run.assistant_id, thread_status)
        if thread_status == "idle" and self._stamped.get(run.thread_id) == recorded:
            return  # the record already says so (the common case: one write fewer per run)
        await self._touch(
            run.thread_id,
            metadata={"graph_id": request.graph_id, "assistant_id": run.assistant_id},
            status=thread_status,
        )
        self._stamp(run.thread_id, recorded)

    async def _drive(self, live: _Live) -> list[Any]:
        """Execute the run's graph, publishing its events; the interrupts it stopped on."""
        from lgp_lab.run_context import set_current_lab
        from lgp_lab.runtime.loader import GraphFactory
        from lgp_lab.runtime.runner import run_config

        lab = self._lab
        request = live.request
        run = live.run
        workflow = request.workflow
        graph, version = workflow.live
        set_current_lab(lab)
        live.publish("metadata", {"run_id": run.run_id, "attempt": run.attempt})
        metadata = {
            **run.metadata,
            "run_id": run.run_id,
            "graph_id": request.graph_id,
            "assistant_id": run.assistant_id,
            "run_attempt": run.attempt,
        }
        config = run_config(
            workflow, version, run.thread_id, lab.environment, metadata, request.config
        )
        config["configurable"].update(
            {"run_id": run.run_id, "graph_id": request.graph_id, "assistant_id": run.assistant_id}
        )
        if request.checkpoint:
            config["configurable"].update(request.checkpoint)
        if isinstance(graph, GraphFactory):
            async with graph.instance(config) as built:
                return await self._drive_graph(live, built, version, config)
        return await self._drive_graph(live, graph, version, config)

    async def _drive_graph(
        self, live: _Live, graph: Any, version: int, config: dict[str, Any]
    ) -> list[Any]:
        from lgp_lab.run_context import run_recorder
        from lgp_lab.runtime.inputs import default_context
        from lgp_lab.runtime.runner import (
            _result,
            check_payload,
            run_error,
            stopped_at_breakpoint,
        )
        from lgp_lab.storage.sqlite.checkpoints import RunCapture, current_run

        lab = self._lab
        request = live.request
        run = live.run
        workflow = request.workflow
        thread_id = run.thread_id
        if request.resume:
            finished = await self._resume_point(live, graph, config)
            if finished is not None:  # it had run to its end; only its record was lost
                live.values = finished
                live.publish("values", finished)
                return []
        payload = await self._payload(graph, request, thread_id)
        context = request.context if request.context is not None else default_context(graph)
        tracing = await lab.atracing()
        trace = None
        if tracing is not None:
            trace = await tracing.start(
                workflow=workflow.name,
                version=version,
                thread_id=thread_id,
                environment=lab.environment,
                input=payload if request.command is None else {"command": request.command},
            )
            config["metadata"]["trace_id"] = trace.trace_id
        try:
            await check_payload(graph, payload, config, workflow.name)
        except Exception as exc:
            if trace is not None:
                tracing.end(trace, status="error", error=getattr(exc, "message", str(exc)))
            raise
        config = with_token_relay(config, tracing, trace)  # while a live view shows tokens

        user_modes = set(request.stream_mode)
        lib_modes = set(user_modes) - {"events", "messages-tuple", *checks.QUIET_MODES}
        if "messages-tuple" in user_modes:
            lib_modes.add("messages")
        lib_modes.update(_ALWAYS)
        if trace is not None:
            lib_modes.add("tasks")
        options: dict[str, Any] = {
            "context": context,
            "stream_mode": sorted(lib_modes),
            "subgraphs": request.subgraphs,
        }
        if request.interrupt_before is not None:
            options["interrupt_before"] = request.interrupt_before
        if request.interrupt_after is not None:
            options["interrupt_after"] = request.interrupt_after
        if request.durability is not None:
            options["durability"] = request.durability

        busy = lab.sessions.active.running(thread_id)
        busy.__enter__()
        capture = RunCapture(thread_id)
        token = current_run.set(capture)
        recorder_token = run_recorder.set(
            (lambda child: tracing.child(trace, child)) if trace is not None else None
        )
        emitter = RunEmitter(live, user_modes, request.subgraphs, tracing, trace)
        started = time.perf_counter()
        status, error = "error", None
        try:
            if "events" in user_modes:
                root = uuid.uuid4()
                config["run_id"] = root
                async for event in graph.astream_events(payload, config, version="v2", **options):
                    if event.get("event") == "on_chain_stream" and event.get("run_id") == str(root):
                        emitter.chunk(event["data"]["chunk"])
                    else:
                        live.publish("events", event)
            else:
                async for item in graph.astream(payload, config, **options):
                    emitter.chunk(item)
            paused = not emitter.interrupts and await stopped_at_breakpoint(
                graph,
                {**config, "_lgp_breakpoints": bool(
                    request.interrupt_before or request.interrupt_after
                )},
            )  # fmt: skip
            live.waiting = paused  # the thread waits to be continued, as on interrupt()
            status = "interrupted" if emitter.interrupts or paused else "complete"
        except asyncio.CancelledError:
            status, error = "cancelled", "cancelled"
            raise
        except Exception as exc:
            failure = run_error(exc, workflow.name, thread_id)
            error = failure.message
            raise failure from exc
        finally:
            busy.__exit__(None, None, None)
            current_run.reset(token)
            run_recorder.reset(recorder_token)
            duration = time.perf_counter() - started
            if trace is not None and status not in ("complete", "interrupted"):
                tracing.end(
                    trace, status=status, output=live.values, error=error,
                    checkpoint_id=capture.checkpoint_id, duration_ms=duration * 1000,
                )  # fmt: skip
        state = dict(live.values) if isinstance(live.values, dict) else {"output": live.values}
        if emitter.interrupts:
            state["__interrupt__"] = emitter.interrupts
        result = _result(
            workflow, version, thread_id, capture.checkpoint_id, state, duration,
            lab.environment, False, trace, paused=status == "interrupted",
        )  # fmt: skip
        if trace is not None:
            tracing.end(
                trace, status=result.status, output=result.state,
                checkpoint_id=result.checkpoint_id, duration_ms=duration * 1000,
            )  # fmt: skip
        with contextlib.suppress(Exception):
            lab._notify(result)
        return emitter.interrupts

    async def _resume_point(self, live: _Live, graph: Any, config: dict[str, Any]) -> Any:
        """For an adopted run: continue from its last checkpoint if it wrote one with
        work left (``request.resume`` stays set: the input is ``None``); return the final
        values if it had finished; start over with its input if it wrote nothing."""
        state = await graph.aget_state(
            {**config, "configurable": {**config["configurable"], "checkpoint_id": None}}
        )
        if (state.metadata or {}).get("run_id") != live.run.run_id:
            live.request.resume = False  # it never checkpointed: run it as it was asked
            return None
        if state.next:
            return None
        return to_jsonable(state.values)

    async def _payload(self, graph: Any, request: _Request, thread_id: str) -> Any:
        from lgp_lab.runtime.inputs import default_input, text_input

        if request.resume:
            return None  # continue from the run's last checkpoint: done nodes stay done
        if request.command is not None:
            return checks.to_command(request.command)
        if isinstance(request.input, str):
            return text_input(graph, request.input)
        if (
            request.input is None
            and request.checkpoint is None
            and not await self._has_checkpoints(thread_id)
        ):
            return default_input(graph)  # nothing to continue: as Lab.run does
        return request.input

    async def _drive_retried(self, live: _Live, store: Any) -> list[Any]:
        """:meth:`_drive`, tried again from the run's last checkpoint after a node
        raised when ``runs.retry_on_error`` is set (up to ``runs.max_attempts``, with the
        backoff): nodes that completed are not run again. A node's own ``RetryPolicy``
        is LangGraph's and acts first, inside one attempt."""
        from lgp_lab.errors import WorkflowInputError

        settings = self._lab.config.runs
        run = live.run
        while True:
            try:
                return await self._drive(live)
            except WorkflowInputError:
                raise  # the request itself is wrong: another try fails the same way
            except Exception as exc:
                if not settings.retry_on_error or run.attempt >= settings.max_attempts:
                    raise
                run.attempt += 1
                run.updated_at = _now()
                self._lab.warn(
                    f"run {run.run_id} on thread {run.thread_id} failed "
                    f"({type(exc).__name__}); retrying from its last checkpoint, "
                    f"attempt {run.attempt} of {settings.max_attempts}"
                )
                await store.set_status(
                    run.run_id, "running", run.updated_at.isoformat(), attempt=run.attempt,
                    owner=self.owner,
                )  # fmt: skip
                live.request.resume = True
                if settings.retry_backoff_seconds:
                    await asyncio.sleep(settings.retry_backoff_seconds * 2 ** (run.attempt - 2))

    # ------------------------------------------------------------------ ownership

    def _lease_until(self) -> float:
        return time.time() + self._lab.config.runs.lease_seconds

    def _owned(self) -> list[str]:
        return [run_id for run_id, live in self._live.items() if not live.finished]

    def _start_relay(self, run_id: str) -> None:
        """Copy a run's events to the database for a replica that joins its stream."""
        live = self._live.get(run_id)
        if live is None or live.finished or live.relaying or self._store is None:
            return
        live.relaying = True
        live.subscribers += 1  # buffer its events from now on
        task = asyncio.get_running_loop().create_task(relay(self._store, live))
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)

    def _lose(self, run_id: str, taker: str | None) -> None:
        """Stop executing a run another replica took over (this process's lease on it
        ran out, e.g. its loop was stuck): the other replica resumes it from its last
        checkpoint, so going on here would run its nodes twice."""
        live = self._live.get(run_id)
        if live is None or live.finished:
            return
        live.lost_to = taker or "another replica"
        self._lab.warn(
            f"run {run_id} on thread {live.run.thread_id}: its lease ran out and "
            f"{live.lost_to} took it over; stopped here"
        )
        if live.task is None:  # queued here, not started: nothing to stop, nothing to write
            live.publish("error", _lost_error(live.run, live.lost_to))
            self._finish(live, None)
            return
        live.cancel_action = "interrupt"
        if not live.task.done():
            live.task.cancel()

    def _remote_cancel(self, run_id: str, action: str) -> None:
        live = self._live.get(run_id)
        if live is not None and not live.finished:
            self._cancel_live(live, action if action in checks.CANCEL_ACTIONS else "interrupt")

    async def _take_turn(self, live: _Live, store: Any) -> None:
        """Wait until the run may execute: its claim (no run of its thread running on
        another replica; bounded per try, retried while the run is wanted) and, for a
        retried run, the backoff."""
        run = live.run
        settings = self._lab.config.runs
        if store.distributed:
            while not await store.claim_run(
                run.run_id, run.thread_id, self.owner, self._lease_until()
            ):
                await asyncio.sleep(settings.poll_seconds)
        if run.attempt > 1 and settings.retry_backoff_seconds:
            await asyncio.sleep(settings.retry_backoff_seconds * 2 ** (run.attempt - 2))

    async def _adopt(self, row: dict[str, Any]) -> None:
        """Queue a run adopted from a dead process: resumed from its last checkpoint
        when it had started, else run as it was asked."""
        run = Run._from_row(row)
        kwargs = row.get("kwargs") or {}
        config = dict(kwargs.get("config") or {})
        configurable = dict(config.get("configurable") or {})
        graph_id = configurable.get("graph_id") or ""
        fork = {k: configurable[k] for k in ("checkpoint_id",) if configurable.get(k)}
        for key in checks.RESERVED_CONFIGURABLE:
            configurable.pop(key, None)
        config["configurable"] = configurable
        try:
            # The workflow this process serves under that name, else what it names.
            workflow = self._lab._workflows.get(graph_id) or await self._lab.aload(graph_id)
        except Exception as exc:
            self._lab.warn(f"run {run.run_id}: cannot resume it here: {exc}")
            await (await self.astore()).set_status(run.run_id, "error", _now().isoformat())
            return
        started = bool(row.get("started"))
        request = _Request(
            workflow=workflow,
            graph_id=workflow.name,
            input=kwargs.get("input"),
            command=kwargs.get("command"),
            config=config,
            context=kwargs.get("context"),
            stream_mode=list(kwargs.get("stream_mode") or ["values"]),
            subgraphs=bool(kwargs.get("subgraphs")),
            interrupt_before=kwargs.get("interrupt_before"),
            interrupt_after=kwargs.get("interrupt_after"),
            checkpoint=None if started else (fork or None),
            durability=kwargs.get("durability"),
            temporary=bool(kwargs.get("temporary")),
            resume=started,
        )
        run.status = "pending"
        live = _Live(run, request, bool(kwargs.get("resumable")))
        live.stored.set_result(None)
        self._live[run.run_id] = live
        # With replicas the database orders a thread's runs (claims go oldest first); an
        # adopted run is older than any this process queued on the thread since, so it
        # must not wait behind them in the thread's lane: it gets a lane of its own.
        lane = run.thread_id
        if (await self.astore()).distributed:
            lane = f"{run.thread_id}\x00{run.run_id}"
        self._lanes.setdefault(lane, collections.deque()).append(live)
        self._ensure_worker(lane)

    async def _await_remote(self, thread_id: str | None, run_id: str) -> Run:
        """Wait for a run another replica executes to end (polling its row)."""
        store = await self.astore()
        poll = self._lab.config.runs.poll_seconds
        while True:
            row = await store.get(thread_id, run_id)
            if row is None:
                raise RunNotFoundError(f"run {run_id!r} not found" + _on(thread_id))
            if row["status"] not in _ACTIVE:
                return Run._from_row(row)
            await asyncio.sleep(poll)

    async def _follow_remote(
        self, run: Run, heartbeat_s: float | None
    ) -> AsyncIterator[tuple[str, str, bytes]]:
        store = await self.astore()

        async def finished() -> bool:
            row = await store.get(run.thread_id, run.run_id)
            return row is None or row["status"] not in _ACTIVE

        async for item in follow(store, run.run_id, finished=finished, heartbeat_s=heartbeat_s):
            yield item

    # ------------------------------------------------------------------ threads

    async def athread_exists(self, thread_id: str) -> bool:
        """Whether ``thread_id`` exists: a run of it here, checkpoints, or a record."""
        if not self._lab._on_engine():
            return await self._lab._hop(self.athread_exists(thread_id))
        return await self._thread_exists(thread_id)

    async def _thread_exists(self, thread_id: str) -> bool:
        records = getattr(self._lab, "thread_records", None)
        if thread_id in self._lanes or (records is not None and records.seen(thread_id)):
            return True
        if await self._has_checkpoints(thread_id):
            return True
        if records is None:
            return False
        summary = getattr(records, "asummary", None)  # no state read, unlike aget
        found = await (summary(thread_id) if summary is not None else records.aget(thread_id))
        return found is not None

    async def _has_checkpoints(self, thread_id: str) -> bool:
        from lgp_lab.storage import thread_store_for

        saver = await self._lab.acheckpointer()
        if self._threads_table is None or self._threads_table.saver is not saver:
            self._threads_table = thread_store_for(saver)
        return await self._threads_table.has_checkpoints(thread_id)

    async def _thread_values(self, thread_id: str) -> Any:
        return to_jsonable(await self._lab.sessions.astate(thread_id))

    async def _touch(self, thread_id: str, **changes: Any) -> None:
        records = getattr(self._lab, "thread_records", None)
        touch = getattr(records, "atouch", None)
        if touch is not None:
            await touch(thread_id, **changes)

    async def _drop_thread(self, thread_id: str) -> None:
        self._stamped.pop(thread_id, None)
        records = getattr(self._lab, "thread_records", None)
        store = await self.astore()
        await store.delete_thread(thread_id)
        # Not through sessions.adelete: its hooks cancel the thread's runs and wait for
        # them — this one included, which is still finishing here.
        if records is not None:
            with contextlib.suppress(Exception):
                await records.aforget(thread_id)
        saver = await self._lab.acheckpointer()
        await saver.adelete_thread(thread_id)


# --------------------------------------------------------------------------- helpers


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _describe(entry: _Live | _Gate) -> str:
    if isinstance(entry, _Live):
        return f"run {entry.run.run_id}"
    return "a run started in this process outside the API (Lab.run)"


def _on(thread_id: str | None) -> str:
    return f" on thread {thread_id!r}" if thread_id is not None else ""


def _position(live: _Live, last_event_id: str | None) -> int:
    """Index in the buffer of the first event after ``last_event_id``."""
    if last_event_id is None:
        return len(live.events)
    try:
        after = int(last_event_id)
    except ValueError:
        return 0
    for index, (seq, _event, _data) in enumerate(live.events):
        if seq > after:
            return index
    return len(live.events)


def _final_values(values: Any, interrupts: list[Any]) -> Any:
    out = to_jsonable(values) if values is not None else {}
    if not isinstance(out, dict):
        out = {"output": out}
    if interrupts:
        out["__interrupt__"] = to_jsonable(interrupts)
    return out


def _lost_error(run: Run, taker: str) -> dict[str, Any]:
    """The stream event telling a client here that the run moved to another replica."""
    return {
        "error": "RunMovedError",
        "message": f"run {run.run_id} is now executed by {taker} (this replica's lease on "
        "it ran out); join it again to follow it: GET /threads/"
        f"{run.thread_id}/runs/{run.run_id}/stream",
    }


def _error_body(exc: BaseException) -> dict[str, Any]:
    original = getattr(exc, "original", None) or exc.__cause__ or exc
    message = getattr(exc, "message", None) or format_exception_only(exc)
    return {"error": type(original).__name__, "message": message}
