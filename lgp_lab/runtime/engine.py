"""The engine loop: one asyncio event loop in a daemon thread, owned by a Lab.

Executions, the async checkpointer, file watchers and a served API all live on this
loop, so every front end shares one checkpointer connection. Sync callers submit
coroutines and wait; an interrupt in the caller cancels the submitted task.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["EngineLoop"]

T = TypeVar("T")


class EngineLoop:
    """An event loop running forever in a daemon thread, started on first use."""

    def __init__(
        self,
        name: str = "lgp-engine",
        *,
        loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
    ) -> None:
        self._name = name
        self._loop_factory = loop_factory or asyncio.new_event_loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the loop thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started if it is not yet running."""
        with self._lock:
            if self._loop is None:
                self._start()
            assert self._loop is not None
            return self._loop

    def in_loop_thread(self) -> bool:
        """Whether the caller runs on the engine loop's own thread."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop and return a thread-safe future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result.

        A ``KeyboardInterrupt`` while waiting (Ctrl-C, a kernel interrupt) cancels
        the task, waits briefly for the cancellation to land, and re-raises.
        """
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("EngineLoop.call() would deadlock: use the async API on the loop")
        future = self.submit(coro)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # Wait in slices: a simulated or deferred interrupt (IPython, interrupt_main)
            # is only delivered when this thread runs Python code again.
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise concurrent.futures.TimeoutError
                try:
                    return future.result(0.05 if remaining is None else min(0.05, remaining))
                except concurrent.futures.TimeoutError:
                    if future.done():  # the coroutine itself raised TimeoutError
                        raise
                    continue
        except KeyboardInterrupt:
            future.cancel()
            # Let the task unwind (close its checkpointer writes) before we return.
            concurrent.futures.wait([future], timeout=2.0)
            raise
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def stop(self, timeout: float = 2.0) -> None:
        """Cancel pending tasks, stop the loop and join its thread (bounded)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if thread.is_alive():

            async def _cancel_all() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                if tasks:
                    await asyncio.wait(tasks, timeout=timeout / 2)

            with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
                asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        if not loop.is_running():
            loop.close()

    def _start(self) -> None:
        loop = self._loop_factory()
        ready = threading.Event()

        def _run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        thread = threading.Thread(target=_run, name=self._name, daemon=True)
        thread.start()
        ready.wait(5.0)
        self._loop, self._thread = loop, thread


def fast_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when uvloop is installed (the ``server`` extra pulls it in),
    else ``None`` (asyncio's). The served API spends much of each request in the loop's
    own machinery (socket reads, hops to the database thread); uvloop's is libuv in C.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
