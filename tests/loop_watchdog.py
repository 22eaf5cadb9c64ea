"""A pytest plugin that fails a test when a Lab's engine loop is blocked for too long.

A watchdog thread pings every engine loop started during the test with
``call_soon_threadsafe`` and measures how long the ping waits. When a ping is overdue
by more than the limit, it samples the loop thread's stack: a loop that is idle in its
selector is merely not scheduled by the OS (a busy machine), anything else is a
callback that holds the loop — a blocking call — and is recorded with its stack.

Switch it on for a test with ``@pytest.mark.loop_watchdog`` (or
``@pytest.mark.loop_watchdog(limit_ms=250)``), or for whole modules by listing their
names in ``WATCHED_MODULES`` (``test_server`` is); ``loop_watchdog(enabled=False)``
exempts one test of such a module. The fixture ``loop_watchdog`` gives the test the
watchdog itself (``.violations``, ``.max_lag_ms``) for tests that assert on it.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

__all__ = ["LoopWatchdog", "Violation", "loop_watchdog", "loop_watchdog_guard"]

LIMIT_MS = 100.0
PING_INTERVAL_S = 0.02
# Test modules whose tests run under the guard without a marker (the server's tests);
# ``LOOP_WATCHDOG_MODULES=test_server,test_lab`` adds more for one pytest run.
WATCHED_MODULES: set[str] = {"test_server", "test_server_edges", "test_server_projects"} | set(
    filter(None, os.environ.get("LOOP_WATCHDOG_MODULES", "").split(","))
)


@dataclass
class Violation:
    """The engine loop was held for ``lag_ms`` by the code at ``stack``."""

    lag_ms: float
    stack: str


@dataclass
class _Watched:
    loop: asyncio.AbstractEventLoop
    thread_id: int | None = None
    sent: float | None = None
    sampled: bool = False
    stacks: list[str] = field(default_factory=list)


class LoopWatchdog:
    """Pings event loops from a thread and records the times they were blocked."""

    def __init__(self, limit_ms: float = LIMIT_MS) -> None:
        self.limit_ms = limit_ms
        self.violations: list[Violation] = []
        self.max_lag_ms = 0.0
        self.pings = 0
        self._watched: list[_Watched] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lgp-loop-watchdog", daemon=True)

    def start(self) -> LoopWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def watch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Watch ``loop`` (a loop already watched is ignored)."""
        with self._lock:
            if not any(w.loop is loop for w in self._watched):
                self._watched.append(_Watched(loop))

    def report(self) -> str:
        lines = [
            f"the engine loop was blocked {len(self.violations)} time(s) for more than "
            f"{self.limit_ms:.0f} ms (worst {max(v.lag_ms for v in self.violations):.0f} ms); "
            "move blocking calls off the loop (asyncio.to_thread, an async client):"
        ]
        for v in self.violations[:3]:
            lines.append(f"--- blocked {v.lag_ms:.0f} ms at:\n{v.stack}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ private

    def _run(self) -> None:
        while not self._stop.wait(PING_INTERVAL_S / 2):
            with self._lock:
                watched = list(self._watched)
            now = time.perf_counter()
            for w in watched:
                if w.loop.is_closed() or not w.loop.is_running():
                    w.sent = None
                    continue
                if w.sent is None:
                    self._ping(w, now)
                    continue
                lag_ms = (now - w.sent) * 1000
                if lag_ms > self.limit_ms and not w.sampled:
                    stack = self._blocking_stack(w)
                    w.sampled = True
                    if stack is not None:
                        w.stacks.append(stack)

    def _ping(self, w: _Watched, now: float) -> None:
        w.sent, w.sampled = now, False
        w.stacks = []

        def pong(sent: float = now) -> None:
            w.thread_id = threading.get_ident()
            lag_ms = (time.perf_counter() - sent) * 1000
            self.pings += 1
            self.max_lag_ms = max(self.max_lag_ms, lag_ms)
            if lag_ms > self.limit_ms and w.stacks:
                self.violations.append(Violation(lag_ms, w.stacks[0]))
            w.sent = None

        try:
            w.loop.call_soon_threadsafe(pong)
        except RuntimeError:  # closed between the check and the call
            w.sent = None

    def _blocking_stack(self, w: _Watched) -> str | None:
        """The loop thread's stack, or None when it is idle in its selector."""
        if w.thread_id is None:
            return None
        frame = sys._current_frames().get(w.thread_id)
        if frame is None:
            return None
        entries = traceback.extract_stack(frame)
        if (
            entries
            and entries[-1].name in ("select", "poll", "_run_once")
            and any(e.name == "_run_once" for e in entries[-2:])
        ):
            return None  # waiting for I/O: the loop is free, the OS did not run it yet
        ours = [e for e in entries if "/lgp_lab/" in e.filename]
        where = f"(in lgp_lab at {ours[-1].filename}:{ours[-1].lineno})\n" if ours else ""
        return where + "".join(traceback.format_list(entries[-12:]))


@pytest.fixture
def loop_watchdog(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A running watchdog attached to every engine loop the test starts."""
    marker = request.node.get_closest_marker("loop_watchdog")
    limit = float(marker.kwargs.get("limit_ms", LIMIT_MS)) if marker else LIMIT_MS
    dog = LoopWatchdog(limit).start()
    from lgp_lab.runtime.engine import EngineLoop

    original = EngineLoop.loop

    def watched_loop(self: EngineLoop) -> asyncio.AbstractEventLoop:
        loop = original.fget(self)  # type: ignore[union-attr]
        dog.watch(loop)
        return loop

    monkeypatch.setattr(EngineLoop, "loop", property(watched_loop))
    try:
        yield dog
    finally:
        dog.stop()


@pytest.fixture(autouse=True)
def loop_watchdog_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail marked tests (and tests of ``WATCHED_MODULES``) whose engine loop was blocked."""
    module = request.node.module.__name__.rsplit(".", 1)[-1] if request.node.module else ""
    marker = request.node.get_closest_marker("loop_watchdog")
    wanted = module in WATCHED_MODULES if marker is None else marker.kwargs.get("enabled", True)
    if not wanted:
        yield
        return
    dog = request.getfixturevalue("loop_watchdog")
    yield
    if dog.violations:
        pytest.fail(dog.report(), pytrace=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "loop_watchdog(limit_ms=100, enabled=True): fail when a Lab's engine loop is "
        "blocked longer than limit_ms (see tests/loop_watchdog.py)",
    )
