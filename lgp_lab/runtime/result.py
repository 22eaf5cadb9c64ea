"""The result of one workflow run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from lgp_lab.jsonable import to_jsonable

__all__ = ["RunResult"]


@dataclass(frozen=True)
class RunResult:
    """What a run produced.

    Attributes:
        workflow: The workflow's name.
        version: The workflow version that ran.
        thread_id: The thread the run continued (or started).
        checkpoint_id: The thread's latest checkpoint after the run.
        state: The final state (LangGraph's ``values``).
        duration_s: Wall time of the run in seconds.
        status: ``complete``, or ``interrupted`` when the graph waits for input.
        interrupts: The pending interrupts' values when ``status == "interrupted"``.
        environment: The config environment the run used.
        new_thread: Whether the thread id was generated for this run.
        trace_id: The run's trace in the local store (and Langfuse), if traced.
        trace_url: The trace in Langfuse, when Langfuse export is on.
    """

    workflow: str
    version: int
    thread_id: str
    checkpoint_id: str | None
    state: dict[str, Any]
    duration_s: float
    status: Literal["complete", "interrupted"] = "complete"
    interrupts: list[Any] = field(default_factory=list)
    environment: str = "experiment"
    new_thread: bool = False
    trace_id: str | None = None
    trace_url: str | None = None

    def __repr__(self) -> str:
        keys = ", ".join(self.state)
        return (
            f"RunResult({self.workflow} v{self.version}, {self.status}, "
            f"thread={self.thread_id!r}, {self.duration_s * 1000:.1f} ms, state keys: {keys})"
        )

    def __getitem__(self, key: str) -> Any:
        """``result["output"]`` reads the final state."""
        return self.state[key]

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-compatible data."""
        return {
            "status": self.status,
            "workflow": self.workflow,
            "version": self.version,
            "thread_id": self.thread_id,
            "checkpoint_id": self.checkpoint_id,
            "environment": self.environment,
            "duration_ms": round(self.duration_s * 1000, 3),
            "result": to_jsonable(self.state),
            "interrupts": to_jsonable(self.interrupts),
            "trace_id": self.trace_id,
            "trace_url": self.trace_url,
        }
