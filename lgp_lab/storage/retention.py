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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lgp_lab.errors import LgpError

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

Vacuum = Literal["none", "incremental", "auto", "full"]
"""How space is given back after a prune: ``none``; ``incremental`` (SQLite files already
in incremental auto-vacuum mode only, PostgreSQL nothing: what a background sweep does);
``auto`` (SQLite: an incremental vacuum, or a one-time ``VACUUM`` that switches the file
to incremental mode; PostgreSQL: ``VACUUM (ANALYZE)``, space reused by later writes);
``full`` (SQLite ``VACUUM``; PostgreSQL ``VACUUM FULL``, which locks the tables while it
rewrites them)."""

_DAY = 86400.0
_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_UNIT_S = {"w": 7 * _DAY, "d": _DAY, "h": 3600.0, "m": 60.0, "s": 1.0}
# 100-ns intervals between the UUID epoch (1582-10-15) and the Unix epoch.
_UUID_EPOCH = 0x01B21DD213814000


class ThreadNotFoundError(LgpError):
    """A thread named for pruning has no checkpoints."""


@dataclass(frozen=True)
class PrunePolicy:
    """What a prune keeps.

    Attributes:
        keep_latest: The newest checkpoints kept per thread and namespace (at least 1).
        older_than: Only checkpoints created longer ago than this are deleted.
        thread_ids: Only these threads (default: every thread).
    """

    keep_latest: int = 1
    older_than: dt.timedelta | None = None
    thread_ids: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.keep_latest < 1:
            raise ValueError(
                f"keep_latest must be at least 1 (a thread's latest checkpoint is its "
                f"state), got {self.keep_latest}"
            )
        if self.older_than is not None and self.older_than.total_seconds() < 0:
            raise ValueError(f"older_than must not be negative, got {self.older_than}")

    def cutoff_id(self, now: float | None = None) -> str | None:
        """The uuid6 of the cutoff time: ids below it are older (``None``: no cutoff)."""
        if self.older_than is None:
            return None
        return uuid6_floor((time.time() if now is None else now) - self.older_than.total_seconds())


@dataclass
class PruneReport:
    """What a prune removed (or, dry, would remove)."""

    backend: str
    dry_run: bool
    threads_scanned: int = 0
    threads_pruned: int = 0
    checkpoints: int = 0
    writes: int = 0
    blobs: int = 0
    deleted_bytes: int = 0
    """The byte size of the removed (dry: the removable) rows, summed in SQL: an estimate
    of the space freed; the file or tables shrink by about this once vacuumed."""
    skipped_busy: list[str] = field(default_factory=list)
    skipped_delta: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    size_before: int | None = None
    size_after: int | None = None
    vacuum: str = "none"
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (the CLI's ``--json`` document)."""
        return asdict(self)


@dataclass
class DatabaseSize:
    """Bytes on disk: the SQLite file (with its WAL) or PostgreSQL's checkpoint tables."""

    total: int
    parts: dict[str, int]


@dataclass
class ThreadRows:
    """One thread's checkpoints as a backend reads them for planning.

    Attributes:
        ids: Checkpoint ids per namespace, newest first.
        call_roots: For each subgraph call namespace, the root checkpoint its latest
            checkpoint's call started from (``metadata.parents[""]``), if known.
        extra_keep: Checkpoints a backend must keep besides the rule (per namespace).
    """

    ids: dict[str, list[str]]
    call_roots: dict[str, str | None] = field(default_factory=dict)
    extra_keep: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ThreadPlan:
    """What to delete from one thread: checkpoints per namespace, whole call namespaces,
    and what stays (to re-link parents and find unreferenced blobs)."""

    delete: dict[str, list[str]]
    calls: list[str]
    kept: dict[str, list[str]]

    @property
    def empty(self) -> bool:
        return not self.calls and not any(self.delete.values())


def plan_thread(rows: ThreadRows, policy: PrunePolicy, cutoff_id: str | None) -> ThreadPlan:
    """Apply the retention rules (module docstring) to one thread's checkpoints."""
    kept: dict[str, list[str]] = {}
    delete: dict[str, list[str]] = {}
    for ns, ids in rows.ids.items():
        keep = set(ids[: policy.keep_latest]) | set(rows.extra_keep.get(ns, ()))
        if cutoff_id is not None:
            keep |= {i for i in ids if i >= cutoff_id}
        kept[ns] = [i for i in ids if i in keep]
        delete[ns] = [i for i in ids if i not in keep]
    root_ids = set(rows.ids.get("", ()))
    root_kept = set(kept.get("", ()))
    calls = sorted(
        ns
        for ns, root in rows.call_roots.items()
        if ":" in ns and root is not None and root in root_ids and root not in root_kept
    )
    for ns in calls:
        delete.pop(ns, None)
        kept.pop(ns, None)
    return ThreadPlan(delete=delete, calls=calls, kept=kept)


# ---------------------------------------------------------------------- entry points


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


def parse_age(text: str) -> dt.timedelta:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s`` or a sum such as ``1d12h``.

    Raises:
        ValueError: Not such a duration (the message says how to write one).
    """
    compact = text.strip().replace(" ", "")
    parts = _AGE.findall(compact)
    if not compact or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise ValueError(
            f"{text!r} is not an age; write a number and a unit: 30d, 12h, 90m, 2w, "
            "45s (or a sum such as 1d12h)"
        )
    return dt.timedelta(seconds=sum(float(n) * _UNIT_S[u.lower()] for n, u in parts))


def uuid6_floor(epoch_s: float) -> str:
    """The smallest uuid6 string of time ``epoch_s``: LangGraph's checkpoint ids made
    before that time sort below it, ids made at or after it do not."""
    ticks = max(0, int(epoch_s * 10_000_000) + _UUID_EPOCH)
    value = ((ticks >> 12) & 0xFFFFFFFFFFFF) << 80
    value |= (0x6000 | (ticks & 0x0FFF)) << 64
    value |= 0x8000 << 48  # the RFC 4122 variant; clock sequence and node zero
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def owner_alive(owner: str | None) -> bool:
    """Whether the process a ``busy`` thread record names (``host:pid``) still runs.

    A mark from another host, or one naming no process, is taken as alive: this
    process cannot tell (as the thread records themselves read it).
    """
    host, _, pid = (owner or "").rpartition(":")
    if not pid.isdigit():
        return True
    if host and host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _DeltaThread(Exception):
    """Raised inside a thread's transaction when it turns out to use a DeltaChannel."""


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


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    """``items`` in lists of at most ``size`` (bounded statement parameters)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
