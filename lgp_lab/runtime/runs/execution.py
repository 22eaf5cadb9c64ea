"""Executing a run: from its turn in the lane to its recorded end.

A run's task waits for its turn (with replicas, its claim on the thread; for a retried
run, the backoff), drives its graph (:mod:`lgp_lab.runtime.runs.drive`, with
:mod:`lgp_lab.runtime.runs.retries`), then records how it ended: its status, the
thread's status, and the final values its joiners get.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from lgp_lab.errors import format_exception_only
from lgp_lab.jsonable import to_jsonable
from lgp_lab.runtime.runs.lanes import _RUNNING
from lgp_lab.runtime.runs.live import _Live
from lgp_lab.runtime.runs.ownership import _lost_error
from lgp_lab.runtime.runs.records import _ACTIVE, _now
from lgp_lab.runtime.runs.retries import _backoff_s


class _Executing:
    """The execution part of :class:`~lgp_lab.runtime.runs.Runs`: a run's task
    (:meth:`_execute`, started by its lane's worker) and its end (:meth:`_finish`)."""

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
            await asyncio.sleep(_backoff_s(settings, run.attempt))

    def _finish(
        self, live: _Live, result: Any, *, deleted: bool = False, forget: bool = True
    ) -> None:
        """End a run here: its ``end`` event, its joiners' result; a resumable run's
        events stay replayable for a while."""
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
            self._keep_replayable(live)

    async def _after_run(self, live: _Live, status: str, error: BaseException | None) -> None:
        """The thread after its run: deleted (a stateless run's temporary thread), else
        its status (``idle``, ``interrupted``, ``error``) unless the next run keeps it
        busy."""
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


def _final_values(values: Any, interrupts: list[Any]) -> Any:
    out = to_jsonable(values) if values is not None else {}
    if not isinstance(out, dict):
        out = {"output": out}
    if interrupts:
        out["__interrupt__"] = to_jsonable(interrupts)
    return out


def _error_body(exc: BaseException) -> dict[str, Any]:
    original = getattr(exc, "original", None) or exc.__cause__ or exc
    message = getattr(exc, "message", None) or format_exception_only(exc)
    return {"error": type(original).__name__, "message": message}
