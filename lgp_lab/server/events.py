"""Server-sent events for a run: the run drives itself in one task; the response reads.

A run's async generator must start and finish in one task: its trace enters context
(OpenTelemetry, contextvars) when it starts and leaves it when it ends, and a context
entered in one task cannot be left from another ("Failed to detach context"). Starlette
pulls a streaming body from a task of its own, so the route would otherwise start the
run in the request's task and finish it in the response's. Here a dedicated task runs
the generator from first to last event and hands events over a bounded queue; when the
client goes away the response cancels that task, so the run (and its trace) ends as
cancelled instead of running on, or waiting forever, with nobody listening.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from lgp_lab.errors import LgpError, WorkflowInputError, WorkflowRunError

__all__ = ["EventStream", "RunEvents"]

# Events buffered ahead of a slow client before the run waits for it.
_QUEUE_SIZE = 64
# How long a cancelled run may take to unwind (its node's finally blocks, trace end).
_STOP_TIMEOUT_S = 5.0
_DONE = object()
_log = logging.getLogger("lgp_lab.server")


class RunEvents:
    """``lab.astream(...)`` driven to the end in a task of its own.

    Args:
        events: The run's ``(event, data)`` async generator; it is not started yet.
    """

    def __init__(self, events: AsyncIterator[tuple[str, Any]]) -> None:
        self._events = events
        self._queue: asyncio.Queue[Any] = asyncio.Queue(_QUEUE_SIZE)
        self._task = asyncio.get_running_loop().create_task(self._pump(), name="lgp-stream-run")

    @property
    def done(self) -> bool:
        """Whether the run's task has finished (completed, failed or cancelled)."""
        return self._task.done()

    async def _pump(self) -> None:
        try:
            async for item in self._events:
                await self._queue.put(item)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await self._queue.put(exc)
        else:
            await self._queue.put(_DONE)
        finally:
            # Close in the task that ran it (a no-op once it finished or raised).
            with contextlib.suppress(Exception):
                await self._events.aclose()  # type: ignore[attr-defined]

    async def next(self) -> tuple[str, Any] | None:
        """The next event; ``None`` at the end. A failure of the run is raised here."""
        item = await self._queue.get()
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item

    async def first(self) -> tuple[str, Any]:
        """The first event (``metadata``); input errors are raised before it."""
        item = await self.next()
        if item is None:
            raise LgpError("the run ended before it started")
        return item

    async def aclose(self) -> None:
        """Cancel the run if it is still going and wait (bounded) for it to unwind."""
        if not self._task.done():
            self._task.cancel()
        done, _ = await asyncio.wait({self._task}, timeout=_STOP_TIMEOUT_S)
        if not done:
            _log.warning("a cancelled streaming run did not stop within %ss", _STOP_TIMEOUT_S)
        elif not self._task.cancelled() and self._task.exception() is not None:
            _log.error("streaming run failed", exc_info=self._task.exception())


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response over a :class:`RunEvents`.

    Whatever ends the response (the last event, a client disconnect, a server
    shutdown), the run is closed before the response returns.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        run: RunEvents | None = None,
        first: tuple[str, Any] | None = None,
        *,
        encode: Callable[[str, Any], bytes] | None = None,
        status_of: Callable[[LgpError], int] | None = None,
        status_code: int = 200,
    ) -> None:
        self._run = run
        if run is None or first is None or encode is None:
            raise TypeError("EventStream needs the run, its first event and an encoder")
        super().__init__(
            _events(run, first, encode, status_of or _default_status),
            status_code=status_code,
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            media_type=self.media_type,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._run is not None:
                await self._run.aclose()


def _default_status(exc: LgpError) -> int:
    return 422 if isinstance(exc, WorkflowInputError) else 500


async def _events(
    run: RunEvents,
    first: tuple[str, Any],
    encode: Callable[[str, Any], bytes],
    status_of: Callable[[LgpError], int],
) -> AsyncIterator[bytes]:
    yield encode(*first)
    while True:
        try:
            item = await run.next()
        except LgpError as exc:
            # As over /invoke: 422 when the request caused it (input, its own limits).
            node = exc.node if isinstance(exc, WorkflowRunError) else None
            yield encode("error", {"error": exc.message, "status": status_of(exc), "node": node})
            return
        except Exception:
            _log.exception("streaming run failed")
            yield encode("error", {"error": "Internal server error", "status": 500, "node": None})
            return
        if item is None:
            return
        yield encode(*item)
