"""Following a run: its events as they come, and its outcome once it ends.

Every run's events go to an in-memory buffer in the Agent Server's SSE vocabulary
(``metadata``, ``values``, ``updates``, ``messages``, ``messages/partial`` ...,
``error``, ``end``), numbered so a client can rejoin with ``Last-Event-ID``. A resumable
run keeps every event, and stays replayable for a while after it ends. A run another
replica executes is followed through the database (:mod:`lgp_lab.runtime.runs.relay`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from lgp_lab.runtime.runs.live import _Live
from lgp_lab.runtime.runs.records import _ACTIVE, Run, RunNotFoundError, _on

# Finished resumable runs whose events stay replayable (Last-Event-ID), and for how long.
_KEEP_FINISHED = 256
_KEEP_FINISHED_S = 900.0


class _Streaming:
    """The stream and join part of :class:`~lgp_lab.runtime.runs.Runs` (``_live``, and
    ``_finished``: the ended runs kept for a replay)."""

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
                # of them for a resumable run) through the database (runs.relay).
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

    def _keep_replayable(self, live: _Live) -> None:
        """Keep an ended resumable run's events for a rejoin, within the bounds above."""
        self._finished[live.run.run_id] = live
        deadline = time.monotonic() - _KEEP_FINISHED_S
        while self._finished:
            run_id, oldest = next(iter(self._finished.items()))
            if len(self._finished) <= _KEEP_FINISHED and oldest.finished_at >= deadline:
                break
            self._finished.pop(run_id)


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
