"""Runs: LangGraph Agent Server runs, in the domain layer.

A run is a record (id, thread, assistant, status, multitask strategy, attempt, times,
kwargs, metadata) stored in the project's database beside the checkpoints, executed in
the background on the Lab's engine loop. A thread has **one active run at a time**; a
new run on a busy thread follows its ``multitask_strategy`` exactly as LangGraph's
Agent Server defines it (:mod:`~lgp_lab.runtime.runs.lanes`). Every run's events go to
an in-memory buffer in the Agent Server's SSE vocabulary, numbered so a client can
rejoin with ``Last-Event-ID`` (:mod:`~lgp_lab.runtime.runs.streams`).

:class:`Runs` (``lab.runs``) is the entry point; :mod:`~lgp_lab.runtime.runs.service`
lists the modules it is composed of.
"""

from lgp_lab.runtime.runs.records import Run, RunConflictError, RunNotFoundError, RunStore
from lgp_lab.runtime.runs.requests import MULTITASK_STRATEGIES, STREAM_MODES
from lgp_lab.runtime.runs.service import Runs

__all__ = [
    "MULTITASK_STRATEGIES",
    "STREAM_MODES",
    "Run",
    "RunConflictError",
    "RunNotFoundError",
    "RunStore",
    "Runs",
]
