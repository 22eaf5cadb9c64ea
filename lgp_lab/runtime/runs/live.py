"""A run of this process in memory: what it executes (:class:`_Request`) and its task,
event buffer and waiters (:class:`_Live`).

The record (:class:`~lgp_lab.runtime.runs.records.Run`) is what the API returns and the
database keeps; a ``_Live`` exists only while this process queues, executes or replays
the run. Every other module of the package reads and writes it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from lgp_lab.runtime.runs.events import encode_event
from lgp_lab.runtime.runs.records import Run


@dataclass
class _Request:
    """What a run executes (Python values, not the JSON record)."""

    workflow: Any
    graph_id: str
    input: Any
    command: dict[str, Any] | None
    config: dict[str, Any]
    context: Any
    stream_mode: list[str]
    subgraphs: bool
    interrupt_before: Any
    interrupt_after: Any
    checkpoint: dict[str, Any] | None
    durability: str | None
    temporary: bool
    resume: bool = False  # adopted after its process died: continue from its checkpoint


class _Live:
    """A run of this process: its task, its event buffer and who waits on it."""

    def __init__(self, run: Run, request: _Request, resumable: bool) -> None:
        loop = asyncio.get_running_loop()
        self.run = run
        self.request = request
        self.resumable = resumable
        self.events: list[tuple[int, str, bytes]] = []
        self.seq = 0
        self.subscribers = 0
        self.changed = asyncio.Event()
        self.closed = False
        self.stored: asyncio.Future[None] = loop.create_future()
        self.done: asyncio.Future[Any] = loop.create_future()
        self.task: asyncio.Task[None] | None = None
        self.cancel_action: str | None = None
        self.values: Any = None
        self.waiting = False  # it stopped at an interrupt()
        self.recording: asyncio.Task[None] | None = None  # a cancelled queued run's write
        self.relaying = False  # its events are copied for a replica joining its stream
        self.lost_to: str | None = None  # the replica that took it over (lease ran out)
        self.finished_at = 0.0

    @property
    def finished(self) -> bool:
        # A run whose record could not be written (refused, e.g. a `reject` conflict)
        # never runs: finished, even before the lane's worker has dropped it.
        stored = self.stored
        return (
            self.closed
            or self.done.done()
            or (stored.done() and not stored.cancelled() and stored.exception() is not None)
        )

    def publish(self, event: str, data: Any) -> None:
        # Numbered even when nobody reads (event ids stay the run's own), kept only for
        # a reader or a possible rejoin (resumable).
        self.seq += 1
        if self.subscribers or self.resumable:
            self.events.append((self.seq, event, encode_event(data)))
            self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()
