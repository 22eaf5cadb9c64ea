"""Retries: a run tried again from its last checkpoint after a node raised.

With ``runs.retry_on_error`` set, a failed attempt is retried up to
``runs.max_attempts`` times, after a backoff that doubles from
``runs.retry_backoff_seconds``. Nodes that completed are not run again (the next attempt
resumes from the run's last checkpoint). A node's own ``RetryPolicy`` is LangGraph's and
acts first, inside one attempt. A run adopted from a dead process is a new attempt too
and waits the same backoff before it starts (:mod:`lgp_lab.runtime.runs.execution`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from lgp_lab.runtime.runs.live import _Live
from lgp_lab.runtime.runs.records import _now


class _Retrying:
    """The retry part of :class:`~lgp_lab.runtime.runs.Runs`."""

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
                    await asyncio.sleep(_backoff_s(settings, run.attempt))


def _backoff_s(settings: Any, attempt: int) -> float:
    """The wait before ``attempt`` (2, 3, ...): ``retry_backoff_seconds``, doubling."""
    return settings.retry_backoff_seconds * 2 ** (attempt - 2)
