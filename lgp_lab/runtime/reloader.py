"""The reload engine: watch a workflow's files and swap in each good save.

One watcher per workflow runs as a task on the Lab's engine loop. It watches the
workflow file and the local modules it imports (``watchfiles``, Rust notify
underneath), groups an editor's save burst into one change, re-imports and compiles
the new code completely, and swaps it into the workflow handle in one assignment. A
broken save is reported with file and line and changes nothing; the watcher keeps
going and the next good save recovers. The checkpointer is never touched, so threads
continue across versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgp_lab.errors import LgpError, WorkflowLoadError
from lgp_lab.runtime.workflow import Workflow

__all__ = ["ReloadEvent", "WatchHandle", "watch_loop"]

# Latency budget: inotify reports at once; `step` is how long a burst may stay quiet
# before it is yielded, `debounce` caps how long one burst is grouped.
DEFAULT_STEP_MS = 20
DEFAULT_DEBOUNCE_MS = 400


@dataclass(frozen=True)
class ReloadEvent:
    """What one reload attempt did.

    Attributes:
        workflow: The workflow's name.
        ok: Whether the new code is live.
        version: The live version after the attempt (unchanged when ``ok`` is False).
        changed: The files whose change triggered it.
        detected_s: Seconds from the newest file write to its detection.
        reload_s: Seconds spent importing and compiling.
        error: What broke, with file and line, when ``ok`` is False.
    """

    workflow: str
    ok: bool
    version: int
    changed: tuple[Path, ...]
    detected_s: float
    reload_s: float
    error: LgpError | None = None
    at: float = field(default_factory=time.time)


ReloadCallback = Callable[[ReloadEvent], Any]


class WatchHandle:
    """A running watch on one workflow; :meth:`stop` ends it."""

    def __init__(self, workflow: Workflow, loop: asyncio.AbstractEventLoop) -> None:
        self.workflow = workflow
        self.events: list[ReloadEvent] = []
        self.attempts = 0
        self._callbacks: list[ReloadCallback] = []
        self._loop = loop
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready = threading.Event()
        self._on_stop: list[Callable[[], None]] = []

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "watching"
        return f"<WatchHandle {self.workflow.name} v{self.workflow.version} {state}>"

    @property
    def stopped(self) -> bool:
        """Whether the watcher has ended."""
        return self._task is not None and self._task.done()

    @property
    def files(self) -> list[Path]:
        """The files being watched."""
        return self.workflow.files

    def subscribe(self, callback: ReloadCallback) -> Callable[[], None]:
        """Call ``callback(event)`` after each reload attempt; returns an unsubscribe.

        Callbacks run on the engine loop: keep them short (print, enqueue, update a
        display); a coroutine callback is awaited.
        """
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Block until the file watcher is armed (changes after this are seen)."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop watching (thread-safe, bounded, idempotent)."""
        if self._task is None or self._task.done() or self._loop.is_closed():
            self._finish()
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        on_loop = False
        with contextlib.suppress(RuntimeError):
            on_loop = asyncio.get_running_loop() is self._loop
        if not on_loop:
            done = threading.Event()
            self._loop.call_soon_threadsafe(
                lambda: self._task.add_done_callback(lambda _t: done.set())  # type: ignore[union-attr]
            )
            done.wait(timeout)
        self._finish()

    def _start(self, coro: Awaitable[None]) -> None:
        self._task = asyncio.ensure_future(coro)

    def _finish(self) -> None:
        self.workflow.watched = False
        callbacks, self._on_stop = self._on_stop, []
        for callback in callbacks:
            with contextlib.suppress(Exception):
                callback()

    async def settle(self, timeout: float = 1.0) -> None:
        """Wait (bounded) until a save seen on disk has been reloaded or reported."""
        start = self.attempts
        deadline = time.monotonic() + timeout
        while (
            self.workflow.is_stale()
            and self.attempts == start
            and not self.stopped
            and time.monotonic() < deadline
        ):
            await asyncio.sleep(0.01)

    async def _emit(self, event: ReloadEvent) -> None:
        self.attempts += 1
        self.events.append(event)
        del self.events[:-100]  # keep the recent history only
        for callback in list(self._callbacks):
            try:
                result = callback(event)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # a display error must not kill the watcher
                pass


async def watch_loop(
    handle: WatchHandle,
    reload: Callable[[Workflow], Awaitable[int]],
    *,
    step_ms: int = DEFAULT_STEP_MS,
    debounce_ms: int = DEFAULT_DEBOUNCE_MS,
) -> None:
    """Watch ``handle.workflow``'s files until ``handle`` is stopped.

    ``reload(workflow)`` imports, compiles and swaps (``Lab.areload``), returning the
    new version or raising an :class:`LgpError` that leaves the old version live.
    """
    from watchfiles import awatch

    workflow = handle.workflow
    workflow.watched = True
    try:
        while not handle._stop.is_set():
            files = {str(p) for p in workflow.files}
            directories = sorted({os.path.dirname(f) for f in files})
            # Editors save via temp file + rename; match by final path, not by inode.
            watcher = awatch(
                *directories,
                watch_filter=lambda _change, path, files=files: path in files,
                step=step_ms,
                debounce=debounce_ms,
                stop_event=handle._stop,
                recursive=False,
                rust_timeout=1000,
                yield_on_timeout=True,
            )
            pending = asyncio.ensure_future(watcher.__anext__())
            await asyncio.sleep(0)  # the generator starts its Rust watcher before awaiting
            handle._ready.set()
            if workflow.is_stale():  # saved while we were (re)arming: do not miss it
                await _attempt(handle, reload, tuple(workflow.files), time.time())
            try:
                while True:
                    try:
                        changes = await pending
                    except StopAsyncIteration:
                        return  # stop requested
                    if changes:
                        changed = tuple(sorted({Path(path) for _change, path in changes}))
                        await _attempt(handle, reload, changed, time.time())
                        if {str(p) for p in workflow.files} != files:
                            break  # the set of local modules changed: re-arm on the new set
                    pending = asyncio.ensure_future(watcher.__anext__())
            finally:
                if not pending.done():
                    pending.cancel()
                    with contextlib.suppress(BaseException):
                        await pending
                await watcher.aclose()
    finally:
        workflow.watched = False
        handle._ready.set()


async def _attempt(
    handle: WatchHandle,
    reload: Callable[[Workflow], Awaitable[int]],
    changed: tuple[Path, ...],
    detected: float,
) -> None:
    workflow = handle.workflow
    newest = max((_mtime(p) for p in changed), default=detected)
    started = time.perf_counter()
    error: LgpError | None = None
    try:
        version = await reload(workflow)
    except LgpError as exc:
        error, version = exc, workflow.version
    except Exception as exc:  # never let an unexpected error end the watch
        error = WorkflowLoadError(f"reload failed: {type(exc).__name__}: {exc}")
        version = workflow.version
    await handle._emit(
        ReloadEvent(
            workflow.name,
            error is None,
            version,
            changed,
            max(0.0, detected - newest),
            time.perf_counter() - started,
            error,
        )
    )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()
