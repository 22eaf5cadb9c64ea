"""How a Lab's methods reach its engine loop: sync calls, and async calls from other loops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from lgp_lab.errors import LabClosedError

__all__ = ["EngineCallsMixin"]

T = TypeVar("T")


class EngineCallsMixin:
    """Submitting to the engine loop for :class:`~lgp_lab.lab.Lab`."""

    _closed: bool
    engine: Any

    def _check_open(self) -> None:
        if self._closed:
            raise LabClosedError(
                "this Lab is closed", hint="create a new Lab() (or lgp_lab.get_lab())"
            )

    def _call(self, coro: Awaitable[T]) -> T:
        if self._closed:
            if hasattr(coro, "close"):
                coro.close()
            self._check_open()
        return self.engine.call(coro)  # type: ignore[arg-type]

    def _on_engine(self) -> bool:
        """Whether the caller runs on this Lab's engine loop."""
        return self.engine.in_loop_thread()

    async def _hop(self, coro: Any) -> Any:
        """Await ``coro`` on the engine loop from another loop: resources stay bound to
        the engine loop, so sync calls, ``%lgp_run`` and the server can share them.
        Cancelling the caller cancels the run."""
        self._check_open()
        future = self.engine.submit(coro)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def _hop_stream(self, agen: Any) -> AsyncIterator[Any]:
        """Iterate an async generator on the engine loop, relaying its items here."""
        self._check_open()
        here = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for item in agen:
                    here.call_soon_threadsafe(queue.put_nowait, ("item", item))
            except BaseException as exc:
                here.call_soon_threadsafe(queue.put_nowait, ("error", exc))
                if not isinstance(exc, Exception):
                    raise
            else:
                here.call_soon_threadsafe(queue.put_nowait, ("done", None))

        future = self.engine.submit(pump())
        try:
            while True:
                kind, value = await queue.get()
                if kind == "item":
                    yield value
                elif kind == "error":
                    raise value
                else:
                    return
        finally:
            future.cancel()
