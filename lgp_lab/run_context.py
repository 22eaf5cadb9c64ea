"""What a node can reach while it runs: the Lab, and the run's trace.

The runner sets these context variables around each run; LangGraph's tasks inherit
them. Agent nodes use :func:`current_lab` for shared resources (MCP sessions, provider
settings) and :func:`record_generation` / :func:`record_span` to put their calls in the
run's trace, without importing any tracing backend.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChildRecord",
    "RunCapture",
    "current_lab",
    "current_run",
    "record_generation",
    "record_span",
    "run_recorder",
]

_LAB: contextvars.ContextVar[Any] = contextvars.ContextVar("lgp_lab", default=None)
run_recorder: contextvars.ContextVar[Any] = contextvars.ContextVar("lgp_recorder", default=None)


@dataclass
class ChildRecord:
    """A call inside a node: a plain span (a tool call) or a generation (an LLM call)."""

    kind: str
    name: str
    started_at: float
    duration_ms: float
    input: Any = None
    output: Any = None
    error: str | None = None
    model: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    cost: float | None = None


def current_lab() -> Any:
    """The Lab running the current workflow, or ``None`` outside a run."""
    return _LAB.get()


def set_current_lab(lab: Any) -> contextvars.Token[Any]:
    """Bind ``lab`` for the runs started in this context (the Lab calls this)."""
    return _LAB.set(lab)


def record_span(
    name: str,
    *,
    started: float,
    input: Any = None,
    output: Any = None,
    error: str | None = None,
) -> None:
    """Add a span (e.g. a tool call that began at ``time.time()`` = ``started``) to the run."""
    _record(
        ChildRecord("span", name, started, (time.time() - started) * 1000, input, output, error)
    )


def record_generation(
    name: str,
    *,
    started: float,
    model: str,
    input: Any = None,
    output: Any = None,
    usage: dict[str, int] | None = None,
    cost: float | None = None,
    error: str | None = None,
) -> None:
    """Add an LLM call to the run's trace, with its model, token counts and cost."""
    _record(
        ChildRecord(
            "generation",
            name,
            started,
            (time.time() - started) * 1000,
            input,
            output,
            error,
            model,
            dict(usage or {}),
            cost,
        )
    )


def _record(child: ChildRecord) -> None:
    recorder = run_recorder.get()
    if recorder is not None:
        recorder(child)


@dataclass
class RunCapture:
    """Filled in by the saver while a run executes: the thread's newest checkpoint id."""

    thread_id: str
    checkpoint_id: str | None = None


# Set by the runner around one execution; tasks LangGraph spawns inherit it.
current_run: contextvars.ContextVar[RunCapture | None] = contextvars.ContextVar(
    "lgp_current_run", default=None
)
