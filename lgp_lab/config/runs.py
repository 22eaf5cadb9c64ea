"""The ``runs`` section: durable runs, leased by their owner and adopted when it dies."""

from __future__ import annotations

from pydantic import Field

from lgp_lab.config.base import Section

__all__ = ["RunsConfig"]


class RunsConfig(Section):
    """Durable runs: how a run outlives the process that accepted it.

    Every run row names its owner (this process) and holds a lease the owner renews
    every ``lease_seconds / 3``. When the owner dies (``kill -9``, a lost node) its lease
    runs out and another replica — or the same server restarted — adopts the run and
    resumes it from its last checkpoint: nodes that completed are not run again. A run
    is tried at most ``max_attempts`` times, waiting ``retry_backoff_seconds`` doubled
    per attempt, then ends ``error`` with the reason. On one machine a dead owner is
    noticed at once (its process is gone); elsewhere after its lease. ``poll_seconds``
    is how often a replica looks for cancel requests, runs to adopt and runs of other
    replicas it waits on.

    ``retry_on_error`` also retries a run whose graph raised, from its last checkpoint,
    within the same ``max_attempts``; off by default, as in LangGraph, where an error
    ends the run (a node's own ``RetryPolicy`` retries that node either way).
    """

    lease_seconds: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    retry_on_error: bool = False
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    poll_seconds: float = Field(default=0.5, gt=0)
