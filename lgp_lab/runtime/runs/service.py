"""The runs of one Lab (``lab.runs``): LangGraph Agent Server runs, in the domain layer.

:class:`Runs` holds the state of this process's runs and opens their store; what it
does is composed from one mixin per concept, each in its own module:

- :mod:`~lgp_lab.runtime.runs.create`: checking a request and making its run;
- :mod:`~lgp_lab.runtime.runs.lanes`: a thread's lane, the multitask strategies, queueing;
- :mod:`~lgp_lab.runtime.runs.execution`: a run's task, from its turn to its recorded end;
- :mod:`~lgp_lab.runtime.runs.drive`: one attempt (the graph, its events, its trace);
- :mod:`~lgp_lab.runtime.runs.retries`: another attempt after a node raised;
- :mod:`~lgp_lab.runtime.runs.streams`: following a run's events, joining its outcome;
- :mod:`~lgp_lab.runtime.runs.relay`: the same across replicas, through the database;
- :mod:`~lgp_lab.runtime.runs.cancellation`: cancelling runs, deleting records;
- :mod:`~lgp_lab.runtime.runs.ownership`: leases, adoption of dead processes' runs;
- :mod:`~lgp_lab.runtime.runs.threads`: the threads runs execute on.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from typing import Any

from lgp_lab.runtime.runs.cancellation import _Cancelling
from lgp_lab.runtime.runs.create import _Creating
from lgp_lab.runtime.runs.drive import _Driving
from lgp_lab.runtime.runs.execution import _Executing
from lgp_lab.runtime.runs.lanes import _Gate, _Lanes
from lgp_lab.runtime.runs.live import _Live
from lgp_lab.runtime.runs.ownership import Ownership, _Owning, new_owner_id
from lgp_lab.runtime.runs.records import Run, RunStore
from lgp_lab.runtime.runs.relay import _Relaying
from lgp_lab.runtime.runs.retries import _Retrying
from lgp_lab.runtime.runs.streams import _Streaming
from lgp_lab.runtime.runs.threads import _Threads

__all__ = ["Runs"]


class Runs(
    _Creating,
    _Lanes,
    _Executing,
    _Driving,
    _Retrying,
    _Streaming,
    _Relaying,
    _Cancelling,
    _Owning,
    _Threads,
):
    """The runs of one Lab (``lab.runs``): create, stream, join, cancel, list, delete.

    Every method runs on the Lab's engine loop (called from elsewhere it hops there).
    """

    def __init__(self, lab: Any) -> None:
        # The state every part shares (the mixins read and write it through ``self``).
        self._lab = lab
        self._store: Any = None
        self._threads_table: Any = None
        self._live: dict[str, _Live] = {}  # this process's runs not yet ended, by id
        self._lanes: dict[str, collections.deque[_Live | _Gate]] = {}  # by thread
        self._workers: dict[str, asyncio.Task[None]] = {}  # one per lane
        self._finished: collections.OrderedDict[str, _Live] = collections.OrderedDict()
        # What this process last wrote to a thread's record: (graph_id, assistant_id, status).
        self._stamped: collections.OrderedDict[str, tuple[str, str, str]] = (
            collections.OrderedDict()
        )
        self._closing = False
        self.owner = new_owner_id()
        self._ownership: Ownership | None = None
        self._relays: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ store

    async def astore(self) -> RunStore:
        """The run store of the configured backend, beside the checkpoints. Opening it
        starts this process's lease keeper, which first adopts the open runs of dead
        processes (see :mod:`lgp_lab.runtime.runs.ownership`)."""
        if self._store is None:
            from lgp_lab.storage import run_store_for

            store = run_store_for(await self._lab.acheckpointer())
            if self._store is None:
                self._store = store
                self._ownership = Ownership(
                    store, self.owner, self._lab.config.runs,
                    adopt=self._adopt, owned=self._owned, cancel=self._remote_cancel,
                    lose=self._lose, relay=self._start_relay, warn=self._lab.warn,
                )  # fmt: skip
                if not self._closing:
                    self._ownership.start()
        return self._store

    async def astart(self) -> None:
        """Open the store now and adopt the runs dead processes left (a server calls
        this on start, so they resume before the first request)."""
        if not self._lab._on_engine():
            return await self._lab._hop(self.astart())
        await self.astore()
        assert self._ownership is not None
        await self._ownership.adopt_now()

    # ------------------------------------------------------------------ read

    async def aget(self, thread_id: str | None, run_id: str) -> Run | None:
        """One run of ``thread_id`` (any thread when ``None``), or ``None``."""
        if not self._lab._on_engine():
            return await self._lab._hop(self.aget(thread_id, run_id))
        live = self._live.get(run_id) or self._finished.get(run_id)
        if live is not None:
            if live.run.status == "deleted":
                return None  # rolled back
            if thread_id is None or live.run.thread_id == thread_id:
                return dataclasses.replace(live.run)
            return None
        row = await (await self.astore()).get(thread_id, run_id)
        return Run._from_row(row) if row else None

    async def alist(
        self, thread_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None
    ) -> list[Run]:
        """A thread's runs, newest first."""
        if not self._lab._on_engine():
            return await self._lab._hop(
                self.alist(thread_id, limit=limit, offset=offset, status=status)
            )
        rows = await (await self.astore()).list(
            thread_id, limit=limit, offset=offset, status=status
        )
        runs = []
        for row in rows:
            live = self._live.get(row["run_id"])
            if live is not None and live.run.status == "deleted":
                continue
            runs.append(dataclasses.replace(live.run) if live is not None else Run._from_row(row))
        return runs

    # ------------------------------------------------------------------ close

    async def aclose(self, timeout: float = 2.0) -> None:
        """Cancel every run in flight (they end ``interrupted``), bounded by ``timeout``."""
        self._closing = True
        if self._ownership is not None:
            await self._ownership.aclose()
        lives = [live for live in self._live.values() if not live.finished]
        for live in lives:
            self._cancel_live(live, "interrupt")
        tasks = [t for t in self._workers.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
