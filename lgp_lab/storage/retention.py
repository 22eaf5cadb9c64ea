"""Checkpoint retention: prune a thread's old checkpoints, on SQLite and PostgreSQL.

LangGraph's open-source savers keep every checkpoint forever (langgraph#8531). Pruning
here follows the rules of LangGraph's own ``keep_latest`` (``AsyncPostgresSaver.aprune``
in langgraph-checkpoint-postgres 3.2), generalised to "keep the newest N" and "keep
what is newer than a cutoff", on both backends:

- Per thread and checkpoint namespace, the newest ``keep_latest`` checkpoints (at least
  one) and, with ``older_than``, every checkpoint newer than the cutoff are kept; the
  others are deleted with their writes. The latest checkpoint of a namespace is never
  deleted, so neither are the pending writes hanging off it (an interrupted thread's
  ``__interrupt__``, a failed run's ``__error__``, a step half done).
- PostgreSQL only: the latest checkpoint's parent is kept too when the latest predates
  checkpoint format v4 and has pending sends there (the saver reads them from it).
- A subgraph call's namespace (``node:<task id>``) goes with the root checkpoint the call
  started from, once that one is saved and is being deleted; a ``checkpointer=True``
  subgraph's namespace (no task id) keeps its newest checkpoints like the root.
- A kept checkpoint whose parent is deleted is left with no parent, so history lists what
  is left and ends there.
- PostgreSQL: blobs that only deleted checkpoints referenced are deleted.
- Threads that use a ``DeltaChannel`` (beta: it rebuilds values from older checkpoints)
  and threads with a run queued or in flight are skipped, and reported.

Each thread is pruned in its own transaction. A dry run executes the same statements and
rolls each transaction back, so its counts are exactly what a real prune removes. The
bytes the deleted rows hold are summed in the same statements (``deleted_bytes``): what
a dry run can say about the space a prune frees, since sizes on disk change only once a
real prune deletes and vacuums.
Afterwards the space is given back: SQLite's file shrinks (``VACUUM``, or an incremental
vacuum once the file is switched to it), PostgreSQL's tables are vacuumed.

Checkpoint ids are LangGraph's uuid6 strings, which sort by creation time; "older than"
compares ids with the uuid6 of the cutoff.

This module runs a prune on the saver's backend; what to prune (the policy, a thread's
plan, the records) is :mod:`lgp_lab.storage.retention_plan`, re-exported here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from lgp_lab.storage.retention_plan import (
    DatabaseSize,
    PrunePolicy,
    PruneReport,
    ThreadNotFoundError,
    Vacuum,
    _DeltaThread,
    parse_age,
    uuid6_floor,
)

__all__ = [
    "DatabaseSize",
    "PrunePolicy",
    "PruneReport",
    "ThreadNotFoundError",
    "Vacuum",
    "backend_of",
    "database_size",
    "parse_age",
    "prune",
    "stale_threads",
    "sweep_turn",
    "uuid6_floor",
    "vacuum",
]


async def prune(
    saver: Any,
    policy: PrunePolicy,
    *,
    dry_run: bool = False,
    vacuum: Vacuum = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> PruneReport:
    """Prune old checkpoints from the database ``saver`` writes (see the module doc).

    Args:
        saver: The Lab's checkpointer (``AsyncSqliteSaver`` or ``AsyncPostgresSaver``).
        policy: What to keep.
        dry_run: Count only; every transaction is rolled back.
        vacuum: How space is given back afterwards (:data:`Vacuum`).
        progress: Called with (threads done, threads to do) as the prune goes.

    Raises:
        ThreadNotFoundError: A thread of ``policy.thread_ids`` has no checkpoints.
    """
    backend = _backend(saver)
    started = time.perf_counter()
    cutoff_id = policy.cutoff_id()  # "older than" as of when the prune was asked for
    report = PruneReport(backend=backend.name, dry_run=dry_run)
    report.size_before = (await backend.size()).total
    if policy.thread_ids is not None:
        missing = await backend.missing_threads(list(policy.thread_ids))
        if missing:
            raise ThreadNotFoundError(
                f"thread {missing[0]!r} has no checkpoints in {backend.describe()}",
                hint="lgp-lab db prune without --thread prunes every thread; "
                "the sessions widget or GET /threads lists them",
            )
    threads = await backend.candidate_threads(policy, cutoff_id)
    report.threads_scanned = len(threads)
    busy = set(await backend.busy_threads(threads))
    delta = set(await backend.delta_threads([t for t in threads if t not in busy]))
    report.skipped_busy = sorted(busy)
    report.skipped_delta = sorted(delta)
    todo = [t for t in threads if t not in busy and t not in delta]
    for done, thread_id in enumerate(todo, 1):
        try:
            counts = await backend.prune_thread(thread_id, policy, cutoff_id, dry_run=dry_run)
        except _DeltaThread:
            report.skipped_delta.append(thread_id)
            continue
        except Exception as exc:  # one thread's failure must not stop the others
            report.failed[thread_id] = f"{type(exc).__name__}: {exc}"
            continue
        if counts[0]:
            report.threads_pruned += 1
        report.checkpoints += counts[0]
        report.writes += counts[1]
        report.blobs += counts[2]
        report.deleted_bytes += counts[3]
        if progress is not None:
            progress(done, len(todo))
    if report.checkpoints and not dry_run and vacuum != "none":
        report.vacuum = await backend.vacuum(vacuum)
    report.size_after = (await backend.size()).total
    report.seconds = time.perf_counter() - started
    return report


async def stale_threads(
    saver: Any, idle: dt.timedelta, *, limit: int = 1000, min_checkpoints: int = 0
) -> list[str]:
    """Threads idle for longer than ``idle``: their latest root checkpoint and their
    thread record (if any) are both older. Threads with a run queued or in flight are
    left out.

    Args:
        saver: The Lab's checkpointer.
        idle: How long a thread must have been untouched.
        limit: At most this many (oldest activity first).
        min_checkpoints: Only threads with at least this many root checkpoints (0 also
            finds threads that have a record and no checkpoints).
    """
    backend = _backend(saver)
    cutoff = time.time() - idle.total_seconds()
    found = await backend.stale_threads(cutoff, uuid6_floor(cutoff), limit, min_checkpoints)
    busy = set(await backend.busy_threads(found))
    return [t for t in found if t not in busy]


@contextlib.asynccontextmanager
async def sweep_turn(saver: Any) -> AsyncIterator[bool]:
    """Whether this process may sweep now: on PostgreSQL one replica at a time (an
    advisory lock held for the sweep; the others skip this turn). SQLite: always."""
    async with _backend(saver).sweep_lock() as mine:
        yield mine


async def vacuum(saver: Any, mode: Vacuum = "incremental") -> str:
    """Give freed space back (see :data:`Vacuum`); what was done."""
    if mode == "none":
        return "none"
    return await _backend(saver).vacuum(mode)


async def database_size(saver: Any) -> DatabaseSize:
    """The bytes the database behind ``saver`` takes (see :class:`DatabaseSize`)."""
    return await _backend(saver).size()


def backend_of(saver: Any) -> Literal["sqlite", "postgres"]:
    """Which backend ``saver`` writes to."""
    return _backend(saver).name  # type: ignore[return-value]


# ---------------------------------------------------------------------- helpers


def _backend(saver: Any) -> Any:
    names = {f"{c.__module__}.{c.__name__}" for c in type(saver).__mro__}
    if any(n.startswith("langgraph.checkpoint.sqlite.") for n in names):
        from lgp_lab.storage.sqlite.retention import SqliteRetention

        return SqliteRetention(saver)
    if any(n.startswith("langgraph.checkpoint.postgres.") for n in names):
        from lgp_lab.storage.postgres.retention import PostgresRetention

        return PostgresRetention(saver)
    raise TypeError(
        f"pruning needs a SQLite or PostgreSQL checkpointer, got {type(saver).__name__}"
    )
