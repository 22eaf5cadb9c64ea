"""What a storage backend implements: one protocol per stored resource.

Each backend sub-package (:mod:`.sqlite`, :mod:`.postgres`) has one class per resource,
and both classes of a resource implement its protocol here with the same signatures:

- :class:`ThreadStore`: thread records (``lgp_threads``) and the thread-level checkpoint
  queries beside them (``Backend.threads``).
- :class:`RunStore`: run records (``lgp_runs``), their ownership and leases
  (``Backend.runs``).
- :class:`AssistantStore`: custom assistants and their versions (``Backend.assistants``).
- :class:`SessionStore`: session queries over LangGraph's checkpoint tables
  (``Backend.sessions``).
- :class:`TraceStore`: the local trace store, a tracing exporter with queries.
- :class:`RetentionBackend`: the statements behind :mod:`lgp_lab.storage.retention`.

A protocol lists what callers use and both backends have; a backend may have more (the
PostgreSQL run store's event relay, called only when ``distributed``). The conformance
suite (tests/test_backends.py) checks each backend's classes against these, signature by
signature. Rows are plain dicts: the domain's record types are built from them above.

This module imports nothing of the package but the base layer: the domain imports it.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "AssistantStore",
    "RetentionBackend",
    "RunStore",
    "SessionStore",
    "ThreadStore",
    "TraceStore",
]


@runtime_checkable
class ThreadStore(Protocol):
    """Thread records as plain dicts (times are epoch seconds), and the thread-level
    checkpoint queries the domain (:mod:`lgp_lab.runtime.threads`) builds threads from."""

    @staticmethod
    def sql_filterable(metadata: dict[str, Any]) -> bool:
        """Whether :meth:`search` decides this metadata filter alone."""
        ...

    async def search(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        ids: list[str] | None = None,
        flag: str | None = None,
        sort_by: str = "updated_at",
        descending: bool = True,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Threads (records, checkpoints or both) matching the filters, sorted, one page."""
        ...

    async def count(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        ids: list[str] | None = None,
    ) -> int:
        """How many threads :meth:`search` finds with these metadata values."""
        ...

    async def get(self, thread_id: str) -> dict[str, Any] | None:
        """The record of ``thread_id``, or ``None``."""
        ...

    async def insert(self, thread_id: str, metadata: dict[str, Any], now: float) -> bool:
        """Add a record; False when ``thread_id`` already has one."""
        ...

    async def touch(
        self,
        thread_id: str,
        now: float,
        *,
        metadata: dict[str, Any] | None = None,
        status: str | None = None,
        replace: bool = False,
        owner: str | None = None,
    ) -> dict[str, Any]:
        """Create the record if missing, merge (or ``replace``) metadata, set status; return it."""
        ...

    async def delete(self, thread_id: str) -> bool:
        """Remove the record; False if there was none."""
        ...

    async def has_checkpoints(self, thread_id: str) -> bool:
        """Whether ``thread_id`` has any checkpoint."""
        ...

    async def checkpoint_threads(self, thread_id: str | None = None) -> list[tuple[Any, ...]]:
        """``(thread_id, first_checkpoint_id, last_checkpoint_id, workflow)`` per thread."""
        ...

    async def copy_checkpoints(self, source: str, target: str) -> int:
        """Copy every checkpoint and pending write of ``source`` to ``target``; how many."""
        ...


@runtime_checkable
class RunStore(Protocol):
    """Where run records persist, as plain dicts (``kwargs``, ``metadata`` decoded).

    ``distributed``: whether several processes share the table (PostgreSQL replicas:
    runs are claimed, leases renewed, cancels and event relays go through the database).
    """

    distributed: bool

    async def put(self, row: dict[str, Any]) -> None:
        """Insert a new run."""
        ...

    async def set_status(
        self,
        run_id: str,
        status: str,
        updated_at: str,
        attempt: int | None = None,
        *,
        owner: str | None = None,
    ) -> bool:
        """Record a run's new status (fenced on ``owner`` when given); whether it was made."""
        ...

    async def get(self, thread_id: str | None, run_id: str) -> dict[str, Any] | None:
        """One run (of ``thread_id`` when given), or ``None``."""
        ...

    async def list(
        self, thread_id: str, *, limit: int, offset: int, status: str | None = None
    ) -> list[dict[str, Any]]:
        """A thread's runs, newest first."""
        ...

    async def delete(self, run_id: str) -> bool:
        """Delete one run record; whether it existed."""
        ...

    async def delete_thread(self, thread_id: str) -> int:
        """Delete every run record of a thread; how many."""
        ...

    async def delete_checkpoints_of_run(self, thread_id: str, run_id: str) -> int:
        """Delete the checkpoints (and their pending writes) a run wrote; how many."""
        ...

    async def claim_run(self, run_id: str, thread_id: str, owner: str, lease_until: float) -> bool:
        """Take ``run_id`` to execute it now; False while its thread is busy elsewhere."""
        ...

    async def stale(self, owner: str, now: float) -> list[dict[str, Any]]:
        """Open runs of other owners that may be adoptable, oldest first."""
        ...

    async def adopt(
        self, run_id: str, previous: str | None, owner: str, lease_until: float, attempt: int
    ) -> bool:
        """Move an open run from ``previous`` (gone) to ``owner``; False if taken first."""
        ...

    async def run_checkpointed(self, thread_id: str, run_id: str) -> bool:
        """Whether the run wrote any checkpoint to its thread (it had started)."""
        ...

    async def renew(self, owner: str, lease_until: float) -> dict[str, str]:
        """Extend ``owner``'s leases; the cancel requests written for its runs."""
        ...

    async def lost(self, owner: str, run_ids: list[str]) -> dict[str, str | None]:
        """Of ``run_ids``, those another process has taken since, with their new owner."""
        ...

    async def cancel_requests(self, owner: str) -> dict[str, str]:
        """The cancel requests other processes wrote for ``owner``'s open runs."""
        ...

    async def relay_requests(self, owner: str) -> list[str]:
        """``owner``'s open runs whose events another process asked for."""
        ...

    async def request_cancel(self, run_id: str, action: str) -> bool:
        """Ask the owner of an open run to cancel it (``interrupt`` or ``rollback``)."""
        ...


@runtime_checkable
class AssistantStore(Protocol):
    """Custom assistants and their versions, as plain dicts."""

    async def get(self, assistant_id: str) -> dict[str, Any] | None:
        """The current version of an assistant, or ``None``."""
        ...

    async def all(self) -> list[dict[str, Any]]:
        """Every assistant's current version."""
        ...

    async def versions(self, assistant_id: str) -> list[dict[str, Any]]:
        """Every version of an assistant, newest first."""
        ...

    async def insert(self, assistant: dict[str, Any], now: float) -> bool:
        """Add version 1 of a new assistant; False if the id is taken."""
        ...

    async def update(self, assistant_id: str, changes: dict[str, Any], now: float) -> bool:
        """Make a new version from the current one with ``changes``; False if none."""
        ...

    async def set_latest(self, assistant_id: str, version: int, now: float) -> bool:
        """Make ``version`` the current one; False if it does not exist."""
        ...

    async def delete(self, assistant_id: str) -> bool:
        """Delete an assistant and its versions; False if there was none."""
        ...


@runtime_checkable
class SessionStore(Protocol):
    """Session queries over LangGraph's checkpoint tables, as plain dicts."""

    async def list_threads(
        self,
        *,
        workflow: str | None = None,
        thread_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Threads, newest activity first, with counts and latest metadata."""
        ...

    async def count_threads(self, *, workflow: str | None = None) -> int:
        """How many threads (optionally of one workflow) the database holds."""
        ...

    async def list_checkpoints(
        self, thread_id: str, *, limit: int = 20, before: str | None = None
    ) -> list[dict[str, Any]]:
        """One page of a thread's checkpoints, newest first, metadata only."""
        ...

    async def count_checkpoints(self, thread_id: str) -> int:
        """The number of checkpoints of one thread."""
        ...

    async def task_nodes(self, thread_id: str, checkpoint_id: str | None) -> dict[str, str]:
        """The node of each task that wrote against one checkpoint, by task id."""
        ...


@runtime_checkable
class TraceStore(Protocol):
    """The local trace store: a tracing exporter (``name`` ``local``; the hooks take the
    observability layer's ``RunTrace`` / ``SpanRecord``) and the queries over its rows."""

    name: str

    async def setup(self) -> None:
        """Make the tables ready (SQLite creates them; PostgreSQL's migrations did)."""
        ...

    def on_run_start(self, run: Any) -> None:
        """A run's trace began."""
        ...

    def on_node_start(self, run: Any, span: Any) -> None:
        """A node of the run started."""
        ...

    def on_node_end(self, run: Any, span: Any) -> None:
        """A node of the run ended."""
        ...

    def on_run_end(self, run: Any) -> None:
        """Queue the finished trace for writing (in the background)."""
        ...

    async def aclose(self, timeout: float) -> None:
        """Flush pending writes (bounded by ``timeout`` seconds)."""
        ...

    async def count_since(self, since: float) -> int:
        """Runs recorded since ``since`` (epoch seconds)."""
        ...

    async def list_traces(
        self,
        *,
        workflow: str | None = None,
        thread_id: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Traces, newest first, without payloads."""
        ...

    async def get_trace(self, trace_id: str) -> dict[str, Any] | None:
        """One trace with its payloads and spans (a unique id prefix works), or ``None``."""
        ...


@runtime_checkable
class RetentionBackend(Protocol):
    """Prune, size and vacuum one database's checkpoint tables. ``policy`` is a
    :class:`~lgp_lab.storage.retention_plan.PrunePolicy`; :meth:`size` returns a
    :class:`~lgp_lab.storage.retention_plan.DatabaseSize`."""

    name: str

    def describe(self) -> str:
        """The database, for messages (never a password)."""
        ...

    async def size(self) -> Any:
        """The bytes the checkpoint data takes (a ``DatabaseSize``)."""
        ...

    async def missing_threads(self, thread_ids: list[str]) -> list[str]:
        """Of ``thread_ids``, those without any checkpoint."""
        ...

    async def candidate_threads(self, policy: Any, cutoff_id: str | None) -> list[str]:
        """Threads a prune with ``policy`` can change."""
        ...

    async def busy_threads(self, thread_ids: list[str]) -> list[str]:
        """Of ``thread_ids``, those with a run queued or in flight."""
        ...

    async def delta_threads(self, thread_ids: list[str]) -> list[str]:
        """Of ``thread_ids``, those using a ``DeltaChannel`` (never pruned)."""
        ...

    async def prune_thread(
        self, thread_id: str, policy: Any, cutoff_id: str | None, *, dry_run: bool
    ) -> tuple[int, int, int, int]:
        """Prune one thread; (checkpoints, writes, blobs, bytes of the rows) removed."""
        ...

    async def stale_threads(
        self, cutoff: float, cutoff_id: str, limit: int, min_checkpoints: int
    ) -> list[str]:
        """Threads untouched since ``cutoff``, oldest activity first (at most ``limit``)."""
        ...

    def sweep_lock(self) -> contextlib.AbstractAsyncContextManager[bool]:
        """Whether this process may sweep now, held for the sweep."""
        ...

    async def vacuum(self, mode: str) -> str:
        """Give freed space back; what was done."""
        ...
