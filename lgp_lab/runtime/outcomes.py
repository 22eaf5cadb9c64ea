"""Every run's outcome (workflow, version, status, duration), from every front end.

The Lab's tracer already sees each run start and end — ``%lgp_run``, ``lab.run``, the
``/workflows`` routes and the Agent Server runs alike — so :class:`RunOutcomes` plugs in
as one more tracer exporter and fans each finished run out to its subscribers (the
``/metrics`` collector, the anomaly watcher). One instance per Lab: :func:`outcomes_for`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["RunOutcome", "RunOutcomes", "aoutcomes_for", "outcomes_for"]

_log = logging.getLogger("lgp_lab.promotion")
_BY_LAB: weakref.WeakKeyDictionary[Any, RunOutcomes] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
# Statuses that count as failed runs (an interrupt() is a success: the thread waits).
FAILED = frozenset({"error"})


@dataclass(frozen=True)
class RunOutcome:
    """One finished run."""

    workflow: str
    version: int
    status: str  # complete | interrupted | error | cancelled
    duration_s: float
    error: str | None = None
    thread_id: str | None = None

    @property
    def failed(self) -> bool:
        """Whether the run ended in an error."""
        return self.status in FAILED


Subscriber = Callable[[RunOutcome], None]


class RunOutcomes:
    """A tracer exporter that turns run ends into :class:`RunOutcome` notifications."""

    name = "outcomes"

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._active: dict[str, int] = {}

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber(outcome)`` after every run; returns an unsubscribe."""
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(subscriber)

        return unsubscribe

    def active(self) -> dict[str, int]:
        """Runs in flight by workflow."""
        return {k: v for k, v in self._active.items() if v > 0}

    # ---------------------------------------------------------------- exporter hooks

    def on_run_start(self, run: Any) -> None:
        self._active[run.workflow] = self._active.get(run.workflow, 0) + 1

    def on_run_end(self, run: Any) -> None:
        self._active[run.workflow] = max(0, self._active.get(run.workflow, 0) - 1)
        outcome = RunOutcome(
            workflow=run.workflow,
            version=int(run.workflow_version or 0),
            status=str(run.status),
            duration_s=(run.duration_ms or 0.0) / 1000,
            error=run.error,
            thread_id=run.thread_id,
        )
        for subscriber in list(self._subscribers):
            try:
                subscriber(outcome)
            except Exception:  # one broken subscriber must not silence the others
                _log.exception("run outcome subscriber %r failed", subscriber)

    def on_node_start(self, run: Any, span: Any) -> None:
        pass

    def on_node_end(self, run: Any, span: Any) -> None:
        pass

    def on_child(self, run: Any, span: Any) -> None:
        pass

    async def aclose(self, timeout: float) -> None:
        pass


async def aoutcomes_for(lab: Any) -> RunOutcomes:
    """The Lab's :class:`RunOutcomes`, attached to its tracer on first use (one with no
    exporters when every trace exporter is off: runs are seen all the same)."""
    with _LOCK:
        found = _BY_LAB.get(lab)
    if found is not None:
        return found
    tracing = await lab.awatched_tracing()
    with _LOCK:
        found = _BY_LAB.get(lab)
        if found is None:
            found = _BY_LAB[lab] = RunOutcomes()
            tracing.add_exporter(found)
    return found


def outcomes_for(lab: Any) -> RunOutcomes:
    """Sync twin of :func:`aoutcomes_for`."""
    return lab.engine.call(aoutcomes_for(lab))
