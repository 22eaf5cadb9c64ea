"""Who executes a run, and what happens when that process dies.

Every run row names its owner — this process, ``host:pid:token`` — and carries a lease
(``runs.lease_seconds``). :class:`Ownership` keeps this process's side of that
contract on the engine loop:

- it renews the leases of its open runs every third of a lease, and picks up cancel
  and stream-relay requests other replicas wrote for them (a distributed backend
  only: PostgreSQL); a run another replica took over meanwhile (this process was
  stuck past its lease) is stopped here, and its end is not written from here;
- it adopts open runs whose owner is gone — on this machine as soon as the process is
  gone, elsewhere when the lease has run out — and hands them to the runs subsystem,
  which resumes each from its last checkpoint (completed nodes are not run again);
- it gives up on a run after ``runs.max_attempts`` tries: the run ends ``error``.

The adoption is a compare-and-set on the row (``owner`` still the dead one), so with
several replicas exactly one adopts a run. :class:`_Owning` is the runs subsystem's side:
it queues what :class:`Ownership` adopts and stops what another replica took over.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from lgp_lab.runtime.runs import requests as checks
from lgp_lab.runtime.runs.live import _Live, _Request
from lgp_lab.runtime.runs.records import Run, _now

__all__ = ["Ownership", "new_owner_id", "owner_gone"]


def new_owner_id() -> str:
    """``host:pid:token`` naming this process (the token tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_gone(owner: str | None, *, host: str | None = None) -> bool | None:
    """Whether ``owner``'s process is gone: True/False when it ran on this machine (or
    the row has no owner: True), ``None`` when only its lease can tell."""
    if not owner:
        return True
    name, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if name != (host or socket.gethostname()) or not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this process, with another Lab: that Lab's own business
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


class Ownership:
    """The lease keeper and adopter of one Lab's runs (see the module docstring).

    Args:
        store: The run store (``renew``, ``stale``, ``adopt``, ``set_status``).
        owner: This process's owner id.
        settings: The ``runs`` config section.
        adopt: Called with each adopted row and whether it had started; schedules it.
        owned: The run ids this process holds open now.
        cancel: Called with ``(run_id, action)`` for each cancel request found.
        lose: Called with ``(run_id, new_owner)`` for each run another replica took.
        relay: Called with each run id whose events another replica asked for.
        warn: Where notes go (``Resuming from checkpoint: <thread>``).
    """

    def __init__(
        self,
        store: Any,
        owner: str,
        settings: Any,
        *,
        adopt: Callable[[dict[str, Any]], Awaitable[None]],
        owned: Callable[[], list[str]],
        cancel: Callable[[str, str], None],
        lose: Callable[[str, str | None], None],
        relay: Callable[[str], None],
        warn: Callable[[str], None],
    ) -> None:
        self.store = store
        self.owner = owner
        self.settings = settings
        self._adopt = adopt
        self._owned = owned
        self._cancel = cancel
        self._lose = lose
        self._relay = relay
        self._warn = warn
        self._task: asyncio.Task[None] | None = None
        self._adopting: asyncio.Lock | None = None  # made on the engine loop
        self._host = socket.gethostname()
        self.adopted = 0

    def lease_until(self) -> float:
        """The lease end of a run taken now (epoch seconds)."""
        return time.time() + self.settings.lease_seconds

    def start(self) -> None:
        """Adopt what dead owners left, then keep leases (a task on the running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._loop(), name="lgp-runs-ownership"
            )

    async def aclose(self) -> None:
        """Stop the task (bounded)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 2.0)

    async def adopt_now(self) -> int:
        """One adoption pass: every open run of a gone owner; how many were adopted.
        Passes run one at a time: a caller returns once any pass in progress is done."""
        if self._adopting is None:
            self._adopting = asyncio.Lock()
        async with self._adopting:
            return await self._adopt_pass()

    async def _adopt_pass(self) -> int:
        now = time.time()
        count = 0
        for row in await self.store.stale(self.owner, now):
            gone = owner_gone(row.get("owner"), host=self._host)
            lease = row.get("lease_until")
            expired = lease is not None and float(lease) < now
            # With replicas the lease decides: an owner that stopped renewing it (stuck,
            # or killed and not yet reaped) has lost its runs even if its pid is there.
            # One SQLite server renews no lease: there the process decides.
            if self.store.distributed:
                if gone is not True and not expired:
                    continue
            elif gone is False or (gone is None and not expired):
                continue
            if await self._take(row):
                count += 1
        self.adopted += count
        return count

    async def _take(self, row: dict[str, Any]) -> bool:
        started = await self._started(row)
        attempt = int(row.get("attempt") or 1) + (1 if started else 0)
        if not await self.store.adopt(
            row["run_id"], row.get("owner"), self.owner, self.lease_until(), attempt
        ):
            return False  # another replica was first
        row = {**row, "attempt": attempt, "owner": self.owner, "started": started}
        if attempt > self.settings.max_attempts:
            self._warn(
                f"run {row['run_id']} on thread {row['thread_id']}: given up after "
                f"{attempt - 1} attempts (its process was lost each time)"
            )
            await self.store.set_status(row["run_id"], "error", _now().isoformat())
            return True
        if started:
            self._warn(
                f"Resuming from checkpoint: {row['thread_id']} (run {row['run_id']}, "
                f"attempt {attempt} of {self.settings.max_attempts}; its process "
                f"{row.get('owner') or '?'} is gone)"
            )
        await self._adopt(row)
        return True

    async def _started(self, row: dict[str, Any]) -> bool:
        """Whether the run wrote a checkpoint (then it resumes from there, else starts)."""
        if row.get("status") == "running":
            return True
        checker = getattr(self.store, "run_checkpointed", None)
        return bool(checker is not None and await checker(row["thread_id"], row["run_id"]))

    async def _loop(self) -> None:
        settings = self.settings
        renew_every = settings.lease_seconds / 3
        adopt_every = settings.lease_seconds / 2
        last_renew = last_adopt = 0.0
        while True:
            now = time.monotonic()
            try:
                if now - last_adopt >= adopt_every:
                    last_adopt = now
                    await self.adopt_now()
                if self.store.distributed and self._owned():
                    if now - last_renew >= renew_every:
                        last_renew = now
                        requests = await self.store.renew(self.owner, self.lease_until())
                        lost = await self.store.lost(self.owner, self._owned())
                        for run_id, taker in lost.items():
                            self._lose(run_id, taker)
                    else:
                        requests = await self.store.cancel_requests(self.owner)
                    for run_id, action in requests.items():
                        self._cancel(run_id, action)
                    for run_id in await self.store.relay_requests(self.owner):
                        self._relay(run_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database hiccup: try again next round
                self._warn(f"runs: keeping leases failed ({type(exc).__name__}: {exc})")
            # Only a distributed backend has other replicas to hear from between passes.
            await asyncio.sleep(settings.poll_seconds if self.store.distributed else adopt_every)


class _Owning:
    """The ownership part of :class:`~lgp_lab.runtime.runs.Runs`: the callbacks its
    :class:`Ownership` calls (``_adopt``, ``_owned``, ``_lose``) and the lease a run
    is written with."""

    def _lease_until(self) -> float:
        return time.time() + self._lab.config.runs.lease_seconds

    def _owned(self) -> list[str]:
        return [run_id for run_id, live in self._live.items() if not live.finished]

    def _lose(self, run_id: str, taker: str | None) -> None:
        """Stop executing a run another replica took over (this process's lease on it
        ran out, e.g. its loop was stuck): the other replica resumes it from its last
        checkpoint, so going on here would run its nodes twice."""
        live = self._live.get(run_id)
        if live is None or live.finished:
            return
        live.lost_to = taker or "another replica"
        self._lab.warn(
            f"run {run_id} on thread {live.run.thread_id}: its lease ran out and "
            f"{live.lost_to} took it over; stopped here"
        )
        if live.task is None:  # queued here, not started: nothing to stop, nothing to write
            live.publish("error", _lost_error(live.run, live.lost_to))
            self._finish(live, None)
            return
        live.cancel_action = "interrupt"
        if not live.task.done():
            live.task.cancel()

    async def _adopt(self, row: dict[str, Any]) -> None:
        """Queue a run adopted from a dead process: resumed from its last checkpoint
        when it had started, else run as it was asked."""
        run = Run._from_row(row)
        kwargs = row.get("kwargs") or {}
        config = dict(kwargs.get("config") or {})
        configurable = dict(config.get("configurable") or {})
        graph_id = configurable.get("graph_id") or ""
        fork = {k: configurable[k] for k in ("checkpoint_id",) if configurable.get(k)}
        for key in checks.RESERVED_CONFIGURABLE:
            configurable.pop(key, None)
        config["configurable"] = configurable
        try:
            # The workflow this process serves under that name, else what it names.
            workflow = self._lab._workflows.get(graph_id) or await self._lab.aload(graph_id)
        except Exception as exc:
            self._lab.warn(f"run {run.run_id}: cannot resume it here: {exc}")
            await (await self.astore()).set_status(run.run_id, "error", _now().isoformat())
            return
        started = bool(row.get("started"))
        request = _Request(
            workflow=workflow,
            graph_id=workflow.name,
            input=kwargs.get("input"),
            command=kwargs.get("command"),
            config=config,
            context=kwargs.get("context"),
            stream_mode=list(kwargs.get("stream_mode") or ["values"]),
            subgraphs=bool(kwargs.get("subgraphs")),
            interrupt_before=kwargs.get("interrupt_before"),
            interrupt_after=kwargs.get("interrupt_after"),
            checkpoint=None if started else (fork or None),
            durability=kwargs.get("durability"),
            temporary=bool(kwargs.get("temporary")),
            resume=started,
        )
        run.status = "pending"
        live = _Live(run, request, bool(kwargs.get("resumable")))
        live.stored.set_result(None)
        self._live[run.run_id] = live
        # With replicas the database orders a thread's runs (claims go oldest first); an
        # adopted run is older than any this process queued on the thread since, so it
        # must not wait behind them in the thread's lane: it gets a lane of its own.
        lane = run.thread_id
        if (await self.astore()).distributed:
            lane = f"{run.thread_id}\x00{run.run_id}"
        self._lanes.setdefault(lane, collections.deque()).append(live)
        self._ensure_worker(lane)


def _lost_error(run: Run, taker: str) -> dict[str, Any]:
    """The stream event telling a client here that the run moved to another replica."""
    return {
        "error": "RunMovedError",
        "message": f"run {run.run_id} is now executed by {taker} (this replica's lease on "
        "it ran out); join it again to follow it: GET /threads/"
        f"{run.thread_id}/runs/{run.run_id}/stream",
    }
