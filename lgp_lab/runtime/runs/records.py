"""Run records: the :class:`Run` the Agent Server API returns, the errors of the runs
subsystem, and the :class:`RunStore` protocol the records persist through (defined
with the other storage protocols in :mod:`lgp_lab.storage.protocols`, re-exported here).

The small helpers every part of the subsystem shares (:func:`_now`, ...) live here too:
this module imports nothing else of the package, so each of the others can build on it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from lgp_lab.errors import LgpError
from lgp_lab.storage.protocols import RunStore

__all__ = ["Run", "RunConflictError", "RunNotFoundError", "RunStore"]

# The statuses of a run that has not ended: queued, or executing.
_ACTIVE = ("pending", "running")


class RunConflictError(LgpError):
    """The thread already has a run in flight and the new run's strategy is ``reject``."""


class RunNotFoundError(LgpError):
    """No such run (or no such thread for a run that needs one)."""


@dataclass
class Run:
    """One run, as the Agent Server API returns it (``langgraph_sdk.schema.Run``)."""

    run_id: str
    thread_id: str
    assistant_id: str
    status: str
    multitask_strategy: str
    attempt: int
    created_at: dt.datetime
    updated_at: dt.datetime
    kwargs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The SDK's ``Run`` shape (ISO-8601 times)."""
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "status": self.status,
            "metadata": self.metadata,
            "kwargs": self.kwargs,
            "multitask_strategy": self.multitask_strategy,
            "attempt": self.attempt,
        }

    def _row(self) -> dict[str, Any]:
        return {
            **self.to_dict(),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    @classmethod
    def _from_row(cls, row: dict[str, Any]) -> Run:
        return cls(
            run_id=row["run_id"],
            thread_id=row["thread_id"],
            assistant_id=row["assistant_id"],
            status=row["status"],
            multitask_strategy=row["multitask_strategy"],
            attempt=int(row["attempt"]),
            created_at=dt.datetime.fromisoformat(row["created_at"]),
            updated_at=dt.datetime.fromisoformat(row["updated_at"]),
            kwargs=row.get("kwargs") or {},
            metadata=row.get("metadata") or {},
        )


def _now() -> dt.datetime:
    # Aware UTC: the rows keep ISO-8601 times with their offset, whatever the host's zone.
    return dt.datetime.now(dt.UTC)


def _on(thread_id: str | None) -> str:
    """`` on thread '<id>'`` for an error message, or nothing when no thread was named."""
    return f" on thread {thread_id!r}" if thread_id is not None else ""
