"""A run's stream, joined from a replica that does not execute it.

Events live in the memory of the process that runs the run. ``join_stream`` on another
replica asks for them (``request_relay`` on the run's row); the owner notices on its
next poll (:mod:`lgp_lab.runtime.runs.ownership`), and from then on appends the run's
events to the database (``lgp_run_events``) in small batches, ending with an end
marker. The joining replica reads them back in order. A resumable run relays every
event from its start; any other run from the moment the owner noticed, as a joiner on
the owner itself would see. If the owner dies, the replica that adopts the run keeps
relaying (the request stays on the row).

:func:`relay` and :func:`follow` are the two sides over the database; :class:`_Relaying`
is where :class:`~lgp_lab.runtime.runs.Runs` starts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from lgp_lab.runtime.runs.records import _ACTIVE, Run

__all__ = ["END_EVENT", "follow", "relay"]

END_EVENT = "__lgp_end__"
_BATCH_S = 0.02  # how long the owner gathers events before one insert
_FOLLOW_POLL_S = 0.05  # how often the joiner reads new ones
_CHECK_S = 0.5  # how often an idle joiner checks whether the run has ended


async def relay(store: Any, live: Any) -> None:
    """Copy ``live``'s events to the database until the run closes (owner side)."""
    position = 0
    try:
        while True:
            closed = live.closed
            if position < len(live.events):
                batch = live.events[position:]
                position += len(batch)
                await store.put_events(live.run.run_id, batch)
            if closed:
                break
            waiter = live.changed
            await waiter.wait()
            await asyncio.sleep(_BATCH_S)
    finally:
        live.subscribers = max(0, live.subscribers - 1)
        # Even when cancelled: the joiner must not wait for events that never come (if
        # this fails too, the joiner stops a grace period after the run ends).
        with contextlib.suppress(Exception):
            await asyncio.shield(store.put_events(live.run.run_id, [(0, END_EVENT, b"")]))


async def follow(
    store: Any,
    run_id: str,
    *,
    finished: Any,
    heartbeat_s: float | None,
    grace_s: float = 2.0,
) -> AsyncIterator[tuple[str, str, bytes]]:
    """The events another replica relays for ``run_id`` (joiner side), as
    ``(event_id, event, data)``; ends at the owner's end marker, or ``grace_s`` after
    ``finished()`` says the run ended when no marker comes (its owner died before it
    could write one). Yields ``("", "", b"")`` every ``heartbeat_s`` while idle."""
    await store.request_relay(run_id)
    after = 0
    idle_since = checked = time.monotonic()
    ended_at: float | None = None
    while True:
        rows = await store.events_after(run_id, after)
        for event_id, event, data in rows:
            after = event_id
            if event == END_EVENT:
                return
            yield str(event_id), event, bytes(data)
        now = time.monotonic()
        if rows:
            idle_since = now
        elif heartbeat_s is not None and now - idle_since >= heartbeat_s:
            idle_since = now
            yield "", "", b""
        if ended_at is None and not rows and now - checked >= _CHECK_S:
            checked = now
            if await finished():
                ended_at = now
        if ended_at is not None and now - ended_at >= grace_s:
            return
        await asyncio.sleep(_FOLLOW_POLL_S)


class _Relaying:
    """The relay part of :class:`~lgp_lab.runtime.runs.Runs`: the owner side for a run
    of this process, the joiner side for a run of another replica."""

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

    async def _follow_remote(
        self, run: Run, heartbeat_s: float | None
    ) -> AsyncIterator[tuple[str, str, bytes]]:
        store = await self.astore()

        async def finished() -> bool:
            row = await store.get(run.thread_id, run.run_id)
            return row is None or row["status"] not in _ACTIVE

        async for item in follow(store, run.run_id, finished=finished, heartbeat_s=heartbeat_s):
            yield item
