"""Cancelling runs, and deleting their records.

``interrupt`` stops a run and keeps what it checkpointed (status ``interrupted``);
``rollback`` stops it and deletes its checkpoints and its record. A run not started yet
never runs. A run another replica executes is cancelled through its row: its owner
polls for the request (:mod:`lgp_lab.runtime.runs.ownership`) and stops it there.
"""

from __future__ import annotations

import asyncio
import contextlib

from lgp_lab.runtime.runs import requests as checks
from lgp_lab.runtime.runs.lanes import _Gate
from lgp_lab.runtime.runs.live import _Live
from lgp_lab.runtime.runs.records import _ACTIVE, RunNotFoundError, _now, _on


class _Cancelling:
    """The cancel and delete part of :class:`~lgp_lab.runtime.runs.Runs`."""

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

    def _remote_cancel(self, run_id: str, action: str) -> None:
        """A cancel request another replica wrote on a run this process executes."""
        live = self._live.get(run_id)
        if live is not None and not live.finished:
            self._cancel_live(live, action if action in checks.CANCEL_ACTIONS else "interrupt")
