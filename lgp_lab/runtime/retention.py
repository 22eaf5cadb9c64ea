"""Checkpoint retention for a Lab: prune on demand, and the TTL sweeper.

``lab.retention.prune(keep_latest=..., older_than=..., thread_ids=..., dry_run=...)``
removes old checkpoints on either backend (the rules are in
:mod:`lgp_lab.storage.retention`). With a TTL configured (``checkpoint.ttl`` in
``config/<env>.yaml``, or ``checkpointer.ttl`` in ``langgraph.json``) the Lab sweeps in
the background: every ``sweep_interval_minutes`` it finds threads idle for longer than
the TTL (their latest checkpoint and their thread record are older) and, as LangGraph's
server does, deletes them (``strategy: delete``: checkpoints, writes, runs and record)
or prunes each to its latest checkpoint (``keep_latest``). Threads with a run queued or
in flight are left alone, and a thread is checked again once held for the sweep, so a
run that started meanwhile keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lgp_lab.errors import ConfigError

__all__ = ["Retention", "SweepReport", "TtlPolicy", "resolve_ttl"]

log = logging.getLogger("lgp_lab.retention")

_FIRST_SWEEP_MAX_S = 60.0  # a process restarted often still sweeps
_TTL_KEYS = ("strategy", "default_ttl", "sweep_interval_minutes", "sweep_limit")
_STRATEGIES = ("delete", "keep_latest")


@dataclass(frozen=True)
class TtlPolicy:
    """The TTL in force: idle minutes, what happens then, how often and how much.

    Attributes:
        minutes: A thread idle for longer than this expires.
        strategy: ``delete`` (the thread goes) or ``keep_latest`` (its history goes).
        sweep_interval_minutes: Time between two sweeps.
        sweep_limit: At most this many threads per sweep.
        source: Where it was configured (for messages).
    """

    minutes: float
    strategy: Literal["delete", "keep_latest"] = "delete"
    sweep_interval_minutes: float = 5.0
    sweep_limit: int = 1000
    source: str = ""


@dataclass
class SweepReport:
    """One sweep: which threads expired and what was removed."""

    strategy: str
    threads: list[str] = field(default_factory=list)
    checkpoints: int = 0
    skipped: list[str] = field(default_factory=list)
    by_another: bool = False  # another replica held the sweep: this turn did nothing

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data."""
        return asdict(self)


def resolve_ttl(config: Any, project: Any = None) -> TtlPolicy | None:
    """The TTL from ``config.checkpoint`` key by key, else ``langgraph.json``'s
    ``checkpointer.ttl``; ``None`` when neither sets one.

    Raises:
        ConfigError: ``checkpointer.ttl`` in langgraph.json is malformed.
    """
    cp = config.checkpoint
    given = cp.model_fields_set
    spec = _json_ttl(project)
    minutes = cp.ttl if cp.ttl is not None else spec.get("default_ttl")
    if minutes is None:
        return None
    in_config = cp.ttl is not None
    source = str(config.source or "the config") if in_config else str(project.file)
    return TtlPolicy(
        minutes=float(minutes),
        strategy=cp.ttl_strategy if "ttl_strategy" in given else spec.get("strategy", "delete"),
        sweep_interval_minutes=float(
            cp.ttl_sweep_interval_minutes
            if "ttl_sweep_interval_minutes" in given
            else spec.get("sweep_interval_minutes") or cp.ttl_sweep_interval_minutes
        ),
        sweep_limit=int(
            cp.ttl_sweep_limit
            if "ttl_sweep_limit" in given
            else spec.get("sweep_limit") or cp.ttl_sweep_limit
        ),
        source=source,
    )


class Retention:
    """Pruning and the TTL sweeper of one Lab; ``a``-prefixed methods are async twins.

    Args:
        lab: The Lab whose checkpointer, runs and sessions are used.
    """

    def __init__(self, lab: Any) -> None:
        self._lab = lab
        self._task: asyncio.Task[None] | None = None
        self._policy: TtlPolicy | None = None
        self._resolved = False
        self.last_sweep: SweepReport | None = None

    # ------------------------------------------------------------------ pruning

    async def aprune(
        self,
        *,
        keep_latest: int = 1,
        older_than: dt.timedelta | None = None,
        thread_ids: list[str] | tuple[str, ...] | None = None,
        dry_run: bool = False,
        vacuum: str = "auto",
        progress: Any = None,
    ) -> Any:
        """Prune old checkpoints; returns a ``PruneReport`` (counts, sizes before/after).

        Args:
            keep_latest: Newest checkpoints kept per thread and namespace (>= 1).
            older_than: Only checkpoints created longer ago than this go.
            thread_ids: Only these threads (each must have checkpoints).
            dry_run: Count only: nothing is removed.
            vacuum: ``none | incremental | auto | full`` (see ``retention.Vacuum``).
            progress: Called with (threads done, threads to do) as it goes.

        Raises:
            ThreadNotFoundError: A thread of ``thread_ids`` has no checkpoints.
            ValueError: ``keep_latest`` below 1.
        """
        lab = self._lab
        if not lab._on_engine():
            return await lab._hop(
                self.aprune(
                    keep_latest=keep_latest, older_than=older_than, thread_ids=thread_ids,
                    dry_run=dry_run, vacuum=vacuum, progress=progress,
                )
            )  # fmt: skip
        from lgp_lab.storage.retention import PrunePolicy, prune

        policy = PrunePolicy(
            keep_latest=keep_latest,
            older_than=older_than,
            thread_ids=tuple(thread_ids) if thread_ids is not None else None,
        )
        saver = await lab.acheckpointer()
        return await prune(
            saver,
            policy,
            dry_run=dry_run,
            vacuum=vacuum,  # type: ignore[arg-type]
            progress=progress,
        )

    def prune(self, **kwargs: Any) -> Any:
        """Sync twin of :meth:`aprune`."""
        return self._lab._call(self.aprune(**kwargs))

    async def asize(self) -> Any:
        """The database's size on disk (``DatabaseSize``: total bytes and parts)."""
        lab = self._lab
        if not lab._on_engine():
            return await lab._hop(self.asize())
        from lgp_lab.storage.retention import database_size

        return await database_size(await lab.acheckpointer())

    def size(self) -> Any:
        """Sync twin of :meth:`asize`."""
        return self._lab._call(self.asize())

    # ------------------------------------------------------------------ TTL

    @property
    def ttl(self) -> TtlPolicy | None:
        """The TTL in force, or ``None`` (no background sweep)."""
        if not self._resolved:
            self._policy = resolve_ttl(self._lab.config, self._lab.project)
            self._resolved = True
        return self._policy

    def start(self) -> None:
        """Start the sweeper when a TTL is configured (call on the engine loop; once).

        Raises:
            ConfigError: The TTL configuration is malformed.
        """
        policy = self.ttl
        if policy is None or self._task is not None:
            return
        self._task = asyncio.get_running_loop().create_task(
            self._sweep_forever(policy), name="lgp-ttl-sweeper"
        )

    async def aclose(self) -> None:
        """Stop the sweeper (a sweep in progress is cancelled between threads)."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    async def asweep(self) -> SweepReport:
        """Run one TTL sweep now (what the background sweeper does each interval).

        Raises:
            ConfigError: No TTL is configured.
        """
        lab = self._lab
        if not lab._on_engine():
            return await lab._hop(self.asweep())
        policy = self.ttl
        if policy is None:
            raise ConfigError(
                "no checkpoint TTL is configured, so there is nothing to sweep",
                hint="set checkpoint.ttl (minutes) in config/<env>.yaml, or "
                'checkpointer.ttl {"default_ttl": ...} in langgraph.json',
            )
        from lgp_lab.storage.retention import sweep_turn

        saver = await lab.acheckpointer()
        async with sweep_turn(saver) as mine:
            if not mine:
                report = SweepReport(strategy=policy.strategy, by_another=True)
            else:
                report = await self._sweep(saver, policy)
        self.last_sweep = report
        return report

    async def _sweep(self, saver: Any, policy: TtlPolicy) -> SweepReport:
        from lgp_lab.storage.retention import PrunePolicy, prune, stale_threads

        idle = dt.timedelta(minutes=policy.minutes)
        report = SweepReport(strategy=policy.strategy)
        if policy.strategy == "keep_latest":
            found = await stale_threads(saver, idle, limit=policy.sweep_limit, min_checkpoints=2)
            if found:
                pruned = await prune(
                    saver, PrunePolicy(keep_latest=1, thread_ids=tuple(found)), vacuum="incremental"
                )
                report.skipped = pruned.skipped_busy + pruned.skipped_delta + list(pruned.failed)
                report.threads = [t for t in found if t not in set(report.skipped)]
                report.checkpoints = pruned.checkpoints
        else:
            for thread_id in await stale_threads(saver, idle, limit=policy.sweep_limit):
                if await self._delete_if_stale(thread_id, idle):
                    report.threads.append(thread_id)
                else:
                    report.skipped.append(thread_id)
            if report.threads:
                from lgp_lab.storage.retention import vacuum

                await vacuum(saver, "incremental")  # SQLite in incremental mode: cheap
        return report

    def sweep(self) -> SweepReport:
        """Sync twin of :meth:`asweep`."""
        return self._lab._call(self.asweep())

    async def _delete_if_stale(self, thread_id: str, idle: dt.timedelta) -> bool:
        """Delete one expired thread once this process holds it: a run of this process on
        it finishes first, and then keeps it (its checkpoint is new)."""
        lab = self._lab

        async def held() -> bool:
            from lgp_lab.storage.retention import uuid6_floor

            async with lab.runs.exclusive(thread_id):
                saver = await lab.acheckpointer()
                config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
                latest = await saver.aget_tuple(config)
                cutoff = uuid6_floor(_now() - idle.total_seconds())
                if latest is not None and latest.checkpoint["id"] >= cutoff:
                    return False
                # What sessions.adelete does, minus cancelling the thread's runs: this
                # task is the one holding the thread, and nothing else runs on it.
                await lab.thread_records.aforget(thread_id)
                await (await lab.runs.astore()).delete_thread(thread_id)
                await saver.adelete_thread(thread_id)
                return True

        # Its own task: an API run that interrupts the holder cancels it, not the sweep.
        task = asyncio.get_running_loop().create_task(held())
        try:
            deleted = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled() and not _cancelling():
                return False  # a run took the thread over: it is not stale
            task.cancel()
            raise
        if deleted and not lab.runs.inflight(thread_id):
            # Released now: let the runs drop what they cache about the thread (nothing
            # runs on it, so nothing is cancelled).
            await lab.runs.adelete_thread(thread_id)
        return deleted

    async def _sweep_forever(self, policy: TtlPolicy) -> None:
        interval = policy.sweep_interval_minutes * 60.0
        delay = min(interval, _FIRST_SWEEP_MAX_S)
        while True:
            await asyncio.sleep(delay)
            delay = interval
            try:
                report = await self.asweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed sweep is retried next interval
                self._lab.warn(f"checkpoint TTL sweep failed: {type(exc).__name__}: {exc}")
                continue
            if report.threads:
                action = "deleted" if report.strategy == "delete" else "pruned"
                log.info(
                    "TTL sweep: %s %d thread(s) idle for over %g min",
                    action,
                    len(report.threads),
                    policy.minutes,
                )


def _json_ttl(project: Any) -> dict[str, Any]:
    """``checkpointer.ttl`` of langgraph.json, checked; ``{}`` when absent."""
    section = getattr(project, "checkpointer", None) if project is not None else None
    if not section:
        return {}
    file = project.file
    ttl = section.get("ttl") if isinstance(section, dict) else None
    if ttl is None:
        return {}
    example = '"checkpointer": {"ttl": {"strategy": "delete", "default_ttl": 43200}}'
    if not isinstance(ttl, dict):
        raise ConfigError(f"{file}: checkpointer.ttl must be an object, got {ttl!r}", hint=example)
    unknown = sorted(set(ttl) - set(_TTL_KEYS))
    if unknown:
        raise ConfigError(
            f"{file}: checkpointer.ttl has unknown key {unknown[0]!r} "
            f"(known: {', '.join(_TTL_KEYS)})",
            hint=example,
        )
    strategy = ttl.get("strategy", "delete")
    if strategy not in _STRATEGIES:
        raise ConfigError(
            f"{file}: checkpointer.ttl.strategy must be one of {', '.join(_STRATEGIES)}, "
            f"got {strategy!r}",
            hint=example,
        )
    for key in ("default_ttl", "sweep_interval_minutes", "sweep_limit"):
        value = ttl.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(
                f"{file}: checkpointer.ttl.{key} must be a positive number (minutes for "
                f"the times, threads for sweep_limit), got {value!r}",
                hint=example,
            )
    return ttl


def _now() -> float:
    import time

    return time.time()


def _cancelling() -> bool:
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())
