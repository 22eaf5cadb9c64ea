"""A thread's lane: its runs one at a time, in the order they were accepted.

A thread has **one active run at a time**; a new run on a busy thread follows its
``multitask_strategy`` exactly as LangGraph's Agent Server defines it:

- ``reject``: refused (:class:`RunConflictError`, a 409 over HTTP);
- ``enqueue``: waits its turn (FIFO) and then runs on the state the previous run left;
- ``interrupt``: the in-flight run is cancelled (status ``interrupted``, its
  checkpoints stay) and the new run starts from there;
- ``rollback``: the in-flight run is cancelled, its checkpoints and its record are
  deleted, and the new run starts from the state before it.

Each busy thread has a lane (a deque of entries) and a worker task that executes them
in turn. Runs made outside the API (``Lab.run``) hold the thread through the same lane
(:meth:`_Lanes.exclusive`), so the two kinds queue behind each other.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

from lgp_lab.runtime.runs.live import _Live, _Request
from lgp_lab.runtime.runs.records import Run, RunConflictError


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


class _Lanes:
    """The lanes part of :class:`~lgp_lab.runtime.runs.Runs`: admission per strategy,
    the runs in flight, holding a thread, and each lane's worker (``_lanes``,
    ``_workers``)."""

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

    def _admit(
        self, run: Run, request: _Request, resumable: bool, strategy: str
    ) -> tuple[_Live, list[_Live | _Gate]]:
        """Put a new run in its thread's lane as its strategy says; the run and the
        entries that were in flight before it.

        No await here: the check for a run in flight and the insert of this one are one
        step on the engine loop.
        """
        thread_id = run.thread_id
        lane = self._lanes.setdefault(thread_id, collections.deque())
        inflight = [other for other in lane if not other.finished]
        if inflight and strategy == "reject":
            if not lane:
                self._lanes.pop(thread_id, None)
            raise _conflict(thread_id, _describe(inflight[0]))
        live = _Live(run, request, resumable)
        self._live[run.run_id] = live
        lane.append(live)
        if strategy in ("interrupt", "rollback"):
            for other in inflight:
                self._cancel_live(other, strategy)
        self._ensure_worker(thread_id)
        return live, inflight

    async def _record_admitted(self, live: _Live, strategy: str, inflight: list[Any]) -> list[Any]:
        """Write an admitted run's record; what was in flight on its thread before it,
        here and, with replicas, on the others."""
        run = live.run
        store = await self.astore()
        row = {**run._row(), "owner": self.owner, "lease_until": self._lease_until()}
        if not store.distributed:
            await store.put(row)
            return inflight
        # Other replicas' runs of the thread (whatever runs here), checked and acted on
        # in the same step as the insert.
        others = await store.put_checked(row, strategy, set(self._live))
        if others and strategy == "reject":
            raise _conflict(run.thread_id, f"run {others[0]['run_id']} on another replica")
        return [*inflight, *others]

    def _ensure_worker(self, thread_id: str) -> None:
        if thread_id not in self._workers:
            self._workers[thread_id] = asyncio.get_running_loop().create_task(
                self._work(thread_id), name=f"lgp-runs-{thread_id}"
            )

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


def _describe(entry: _Live | _Gate) -> str:
    if isinstance(entry, _Live):
        return f"run {entry.run.run_id}"
    return "a run started in this process outside the API (Lab.run)"


def _conflict(thread_id: str, holder: str) -> RunConflictError:
    """The ``reject`` strategy's refusal: ``holder`` is what keeps the thread busy."""
    return RunConflictError(
        f"thread {thread_id!r} is already running a task ({holder}); "
        "wait for it to finish or choose a different multitask strategy",
        hint='pass multitask_strategy="enqueue" to queue behind it, "interrupt" or '
        '"rollback" to replace it',
    )
