"""What retention prunes, decided without SQL: the policy, a thread's plan, the records
both backends report with, and the helpers they share.

:mod:`lgp_lab.storage.retention` runs a plan on a backend (:mod:`.sqlite.retention`,
:mod:`.postgres.retention`); both backends import this module, not that one.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from lgp_lab.errors import LgpError

__all__ = [
    "DatabaseSize",
    "PrunePolicy",
    "PruneReport",
    "ThreadNotFoundError",
    "ThreadPlan",
    "ThreadRows",
    "Vacuum",
    "chunks",
    "owner_alive",
    "parse_age",
    "plan_thread",
    "uuid6_floor",
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


def chunks(items: Sequence[str], size: int) -> list[list[str]]:
    """``items`` in lists of at most ``size`` (bounded statement parameters)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
