"""Run a workflow's inputs in isolation, watching for blocking calls and state that
the production checkpointer cannot serialize.

The runs use an in-memory checkpointer and store, so checking never writes into the
project's threads. Every value the graph hands the checkpointer (each channel of each
checkpoint, each pending write) is round-tripped through LangGraph's
``JsonPlusSerializer`` — the serializer of the SQLite and PostgreSQL savers — while
the run itself keeps the live objects, so one bad value is reported by channel and type
instead of stopping the run. Blocking calls are caught with ``blockbuster`` (what
``langgraph dev`` uses), scoped to the workflow's own files and to these runs only.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sys
import threading
import traceback
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

__all__ = ["ProbeFinding", "ProbeOutcome", "aprobe_runs"]

# True inside a probe run (LangGraph copies the context into its tasks), so another
# run of the same workflow served meanwhile is never failed by the detector.
_PROBING: contextvars.ContextVar[bool] = contextvars.ContextVar("lgp_probing", default=False)
_DETECTOR_LOCK = threading.Lock()
_PROBE_TAG = "lgp-probe"


@dataclass(frozen=True)
class ProbeFinding:
    """A value the production serializer refuses (or will refuse)."""

    channel: str
    type_name: str
    error: str
    severity: str  # "fail" | "warn"


@dataclass
class ProbeOutcome:
    """What the probe runs of one workflow found."""

    runs: int = 0
    blocking: list[str] = field(default_factory=list)  # "time.sleep in node at file:line"
    serialization: list[ProbeFinding] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # runs that failed otherwise


class _ProbeSerializer:
    """Keeps live objects for the run; the real round trip happens in the saver."""

    def dumps_typed(self, obj: Any) -> tuple[str, Any]:
        return (_PROBE_TAG, obj)

    def loads_typed(self, data: tuple[str, Any]) -> Any:
        return data[1]


def _probe_saver(serde: Any, findings: dict[tuple[str, str], ProbeFinding]) -> Any:
    from langgraph.checkpoint.memory import InMemorySaver

    class ProbeSaver(InMemorySaver):
        def put(self, config, checkpoint, metadata, new_versions):  # type: ignore[override]
            values = checkpoint.get("channel_values", {})
            for channel in new_versions:
                if channel in values:
                    _round_trip(serde, channel, values[channel], findings)
            return super().put(config, checkpoint, metadata, new_versions)

        def put_writes(self, config, writes, task_id, task_path=""):  # type: ignore[override]
            for channel, value in writes:
                if not channel.startswith("__"):
                    _round_trip(serde, channel, value, findings)
            return super().put_writes(config, writes, task_id, task_path)

    return ProbeSaver(serde=_ProbeSerializer())  # type: ignore[arg-type]


def _round_trip(
    serde: Any, channel: str, value: Any, findings: dict[tuple[str, str], ProbeFinding]
) -> None:
    key = (channel, type(value).__name__)
    if key in findings:
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            serde.loads_typed(serde.dumps_typed(value))
        except Exception as exc:
            findings[key] = ProbeFinding(channel, _type_of(value, exc), str(exc), "fail")
            return
    # LangGraph warns that unregistered classes will be refused in a future version.
    notes = [str(w.message) for w in caught if "unregistered type" in str(w.message)]
    if notes:
        findings[key] = ProbeFinding(channel, _qualname(value), notes[0], "warn")


def _type_of(value: Any, exc: Exception) -> str:
    # "Type is not msgpack serializable: _thread.lock" names the innermost culprit.
    text = str(exc)
    if "serializable:" in text:
        return text.rsplit("serializable:", 1)[1].strip()
    return _qualname(value)


def _qualname(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


@contextlib.contextmanager
def _blocking_detector(files: list[Path]) -> Iterator[bool]:
    """Flag blocking calls made on the event loop from ``files``, during probe runs."""
    try:
        from blockbuster import BlockBuster
    except ImportError:  # the gate reports the missing extra itself
        yield False
        return
    scanned = [SimpleNamespace(__file__=str(f)) for f in files]
    if not scanned:
        yield False
        return
    with _DETECTOR_LOCK:
        buster = BlockBuster(scanned)  # type: ignore[arg-type]
        for function in buster.functions.values():
            # Keep blockbuster's own allowances (e.g. writes to stdout/stderr).
            allowed = function.can_block_predicate
            function.can_block_predicate = lambda *a, _allowed=allowed, **k: (
                not _PROBING.get() or _importing() or _allowed(*a, **k)
            )
        buster.activate()
        try:
            yield True
        finally:
            buster.deactivate()


def _importing() -> bool:
    """Whether a module import is under way on this stack: its file reads (and what a
    module does at import) happen once per process, not per run, so they are not the
    blocking calls this check is for."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_find_and_load" and code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


async def aprobe_runs(
    graph: Any,
    inputs: list[Any],
    *,
    files: list[Path],
    serde: Any = None,
    timeout: float = 60.0,
) -> ProbeOutcome:
    """Run ``graph`` once per input on fresh in-memory threads and report what broke.

    Args:
        graph: The live graph (compiled graph or :class:`GraphFactory`).
        inputs: What each run is given (recorded or user inputs).
        files: The workflow's own source files (where blocking calls are looked for).
        serde: The production checkpointer's serializer (default ``JsonPlusSerializer``).
        timeout: Seconds each run may take.
    """
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.store.memory import InMemoryStore

    from lgp_lab.runtime.inputs import default_context, text_input
    from lgp_lab.runtime.loader import GraphFactory

    serde = serde or JsonPlusSerializer()
    outcome = ProbeOutcome()
    findings: dict[tuple[str, str], ProbeFinding] = {}
    with _blocking_detector(files):
        for payload in inputs:
            saver = _probe_saver(serde, findings)
            config = {"configurable": {"thread_id": f"lgp-check-{uuid.uuid4().hex[:8]}"}}
            token = _PROBING.set(True)
            try:
                if isinstance(graph, GraphFactory):
                    factory = GraphFactory(graph.function, saver, InMemoryStore(), path=graph.path)
                    async with factory.instance(config) as runnable:
                        await _one_run(runnable, payload, config, timeout, text_input,
                                       default_context)  # fmt: skip
                else:
                    runnable = graph.copy({"checkpointer": saver, "store": InMemoryStore()})
                    await _one_run(runnable, payload, config, timeout, text_input, default_context)
            except Exception as exc:
                blocked = _blocking_error(exc)
                if blocked is not None:
                    outcome.blocking.append(blocked)
                else:
                    outcome.failures.append(_describe_failure(exc))
            finally:
                _PROBING.reset(token)
                outcome.runs += 1
    outcome.serialization = list(findings.values())
    return outcome


async def _one_run(
    graph: Any, payload: Any, config: dict[str, Any], timeout: float, text_input: Any,
    default_context: Any,
) -> None:  # fmt: skip
    if isinstance(payload, str):
        payload = text_input(graph, payload)
    await asyncio.wait_for(graph.ainvoke(payload, config, context=default_context(graph)), timeout)


def _blocking_error(exc: BaseException) -> str | None:
    """``time.sleep at flow.py:12 (in fetch)`` when ``exc`` stems from a BlockingError."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == "BlockingError":
            where = _user_frame(current)
            call = str(current).replace("Blocking call to ", "").strip() or "a blocking call"
            return f"{call} at {where}" if where else call
        current = current.__cause__ or current.__context__
    return None


def _user_frame(exc: BaseException) -> str | None:
    from lgp_lab.errors import is_user_file

    found = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if is_user_file(frame.filename):
            found = f"{Path(frame.filename).name}:{frame.lineno} (in {frame.name})"
    return found


def _describe_failure(exc: BaseException) -> str:
    from lgp_lab.errors import format_exception_only

    return format_exception_only(exc)
