"""Execute one workflow run on the engine loop and map failures to clear errors."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from lgp_lab.errors import (
    LgpError,
    WorkflowInputError,
    WorkflowRunError,
    format_exception_only,
    user_location,
)
from lgp_lab.observability.tokens import with_token_relay
from lgp_lab.run_context import current_lab, run_recorder
from lgp_lab.runtime.result import RunResult
from lgp_lab.runtime.workflow import Workflow

__all__ = ["execute", "new_thread_id", "run_config", "stream"]

_TASK_NOTE = re.compile(r"During task with name '([^']+)'")


def new_thread_id() -> str:
    """A fresh, short, unique thread id."""
    return uuid.uuid4().hex[:12]


def run_config(
    workflow: Workflow,
    version: int,
    thread_id: str,
    environment: str,
    metadata: dict[str, Any] | None = None,
    user_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The LangGraph config of one run: the user's RunnableConfig (``configurable``,
    ``tags``, ``metadata``, ``recursion_limit``, ...) with our thread and the checkpoint
    metadata we add (which win over the user's on the same keys)."""
    user = dict(user_config or {})
    return {
        **user,
        "configurable": {**(user.get("configurable") or {}), "thread_id": thread_id},
        "metadata": {
            **(user.get("metadata") or {}),
            **(metadata or {}),
            "workflow": workflow.name,
            "workflow_version": version,
            "environment": environment,
        },
        "run_name": user.get("run_name") or workflow.name,
    }


async def execute(
    workflow: Workflow,
    payload: Any,
    *,
    thread_id: str | None,
    environment: str,
    metadata: dict[str, Any] | None = None,
    tracing: Any = None,
    context: Any = None,
    config: dict[str, Any] | None = None,
) -> RunResult:
    """Run ``workflow`` once on ``thread_id`` (a new thread when ``None``).

    The workflow's live graph and version are read once, so a reload during the run
    does not affect it. The workflow name, version, environment (and trace id) go into
    every checkpoint's metadata.

    Raises:
        WorkflowRunError: A node raised, or the input does not fit the state schema.
    """
    result = None
    async for event, data in _drive(
        workflow, payload, thread_id, environment, metadata, tracing, context, config,
        updates=False,
    ):  # fmt: skip
        if event == "end":
            result = data
    assert result is not None
    return result


async def stream(
    workflow: Workflow,
    payload: Any,
    *,
    thread_id: str | None,
    environment: str,
    metadata: dict[str, Any] | None = None,
    tracing: Any = None,
    context: Any = None,
    config: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[str, Any]]:
    """Run like :func:`execute`, yielding ``(event, data)`` as the run goes.

    Events: ``metadata`` (thread, workflow, version, trace id) first, one ``updates``
    per node step (``{node: update}``), then ``end`` with the :class:`RunResult`. A
    failure raises :class:`WorkflowRunError` after the events already yielded.
    """
    async for item in _drive(
        workflow, payload, thread_id, environment, metadata, tracing, context, config,
        updates=True,
    ):  # fmt: skip
        yield item


async def _drive(
    workflow: Workflow,
    payload: Any,
    thread_id: str | None,
    environment: str,
    metadata: dict[str, Any] | None,
    tracing: Any,
    context: Any,
    user_config: dict[str, Any] | None,
    *,
    updates: bool,
) -> AsyncIterator[tuple[str, Any]]:
    from lgp_lab.runtime.loader import GraphFactory

    graph, version = workflow.live
    built: Any = contextlib.nullcontext(graph)
    if isinstance(graph, GraphFactory):
        # A factory builds the run's graph from the run's config (as langgraph dev does).
        probe = run_config(workflow, version, thread_id or "", environment, None, user_config)
        built = graph.instance(probe)
    async with built as runnable:
        async for item in _drive_graph(
            workflow, runnable, version, payload, thread_id, environment, metadata, tracing,
            context, user_config, updates=updates,
        ):  # fmt: skip
            yield item


async def _drive_graph(
    workflow: Workflow,
    graph: Any,
    version: int,
    payload: Any,
    thread_id: str | None,
    environment: str,
    metadata: dict[str, Any] | None,
    tracing: Any,
    context: Any,
    user_config: dict[str, Any] | None,
    *,
    updates: bool,
) -> AsyncIterator[tuple[str, Any]]:
    from lgp_lab.run_context import RunCapture, current_run
    from lgp_lab.runtime.inputs import default_context, text_input

    if isinstance(payload, str):
        payload = text_input(graph, payload)
    if context is None:
        context = default_context(graph)
    new_thread = thread_id is None
    thread_id = thread_id or new_thread_id()
    metadata = dict(metadata or {})
    trace = None
    if tracing is not None:
        trace = await tracing.start(
            workflow=workflow.name,
            version=version,
            thread_id=thread_id,
            environment=environment,
            input=_trace_input(payload),
        )
        metadata["trace_id"] = trace.trace_id
    config = run_config(workflow, version, thread_id, environment, metadata, user_config)
    try:
        await check_payload(graph, payload, config, workflow.name)
    except WorkflowRunError as exc:
        if trace is not None:
            tracing.end(trace, status="error", error=exc.message)
        raise
    config = with_token_relay(config, tracing, trace)  # while a live view shows tokens
    yield (
        "metadata",
        {
            "thread_id": thread_id,
            "workflow": workflow.name,
            "version": version,
            "trace_id": trace.trace_id if trace else None,
        },
    )

    # The thread reads `busy` in sessions while this run is in flight.
    lab = current_lab()
    busy = lab.sessions.active.running(thread_id) if lab is not None else contextlib.nullcontext()
    busy.__enter__()
    capture = RunCapture(thread_id)
    token = current_run.set(capture)
    recorder_token = run_recorder.set(
        (lambda child: tracing.child(trace, child)) if trace is not None else None
    )
    started = time.perf_counter()
    values: Any = None
    interrupts: list[Any] = []
    status, error = "error", None
    try:
        async for mode, chunk in graph.astream(
            payload, config, context=context, stream_mode=["values", "updates", "tasks"]
        ):
            if mode == "values":
                values = chunk
            elif mode == "updates":
                if "__interrupt__" in chunk:
                    interrupts.extend(chunk["__interrupt__"])
                elif updates:
                    yield "updates", chunk
            elif trace is not None:
                if "result" in chunk or "error" in chunk:
                    tracing.node_end(trace, chunk["id"], chunk.get("result"), chunk.get("error"))
                else:
                    tracing.node_start(trace, chunk["id"], chunk["name"], chunk.get("input"))
        paused = not interrupts and await stopped_at_breakpoint(graph, config)
        status = "interrupted" if interrupts or paused else "complete"
    except Exception as exc:
        failure = run_error(exc, workflow.name, thread_id)
        error = failure.message
        raise failure from exc
    except BaseException:
        status, error = "cancelled", "cancelled"
        raise
    finally:
        busy.__exit__(None, None, None)
        current_run.reset(token)
        run_recorder.reset(recorder_token)
        duration = time.perf_counter() - started
        if trace is not None and status != "complete" and status != "interrupted":
            tracing.end(
                trace,
                status=status,
                output=values,
                error=error,
                checkpoint_id=capture.checkpoint_id,
                duration_ms=duration * 1000,
            )
    state = dict(values) if isinstance(values, dict) else {"output": values}
    if interrupts:
        state["__interrupt__"] = interrupts
    result = _result(
        workflow, version, thread_id, capture.checkpoint_id, state, duration, environment,
        new_thread, trace, paused=status == "interrupted",
    )  # fmt: skip
    if trace is not None:
        tracing.end(
            trace,
            status=result.status,
            output=result.state,
            checkpoint_id=result.checkpoint_id,
            duration_ms=duration * 1000,
        )
    yield "end", result


async def stopped_at_breakpoint(graph: Any, config: dict[str, Any]) -> bool:
    """Whether a run that raised no ``interrupt()`` stopped at a static breakpoint
    (``interrupt_before/after``): LangGraph streams nothing for those; the thread then has
    tasks left (``next``). Read only for graphs or runs that set breakpoints."""
    if not (
        getattr(graph, "interrupt_before_nodes", None)
        or getattr(graph, "interrupt_after_nodes", None)
        or config.get("_lgp_breakpoints")
    ):
        return False
    configurable = {**config.get("configurable", {}), "checkpoint_id": None}
    read = {k: v for k, v in config.items() if k != "_lgp_breakpoints"}
    state = await graph.aget_state({**read, "configurable": configurable})
    return bool(state.next)


def _trace_input(payload: Any) -> Any:
    if type(payload).__name__ == "Command":
        return {"resume": getattr(payload, "resume", None)}
    return payload


def _result(
    workflow: Workflow,
    version: int,
    thread_id: str,
    checkpoint_id: str | None,
    values: Any,
    duration: float,
    environment: str,
    new_thread: bool,
    trace: Any = None,
    *,
    paused: bool = False,
) -> RunResult:
    state = dict(values) if isinstance(values, dict) else {"output": values}
    interrupts = state.pop("__interrupt__", None) or []
    return RunResult(
        workflow=workflow.name,
        version=version,
        thread_id=thread_id,
        checkpoint_id=checkpoint_id,
        state=state,
        duration_s=duration,
        status="interrupted" if interrupts or paused else "complete",
        interrupts=[getattr(i, "value", i) for i in interrupts],
        environment=environment,
        new_thread=new_thread,
        trace_id=trace.trace_id if trace is not None else None,
        trace_url=trace.langfuse_url if trace is not None else None,
    )


async def check_payload(graph: Any, payload: Any, config: dict[str, Any], workflow: str) -> None:
    """Refuse input the run would choke on, before anything is written."""
    from lgp_lab.runtime.inputs import check_input

    if type(payload).__name__ == "Command":
        if getattr(payload, "resume", None) is None and (
            getattr(payload, "goto", None) or getattr(payload, "update", None) is not None
        ):
            return  # goto/update commands need no pending interrupt
        snapshot = await graph.aget_state(config)
        if not any(task.interrupts for task in snapshot.tasks):
            thread = config["configurable"]["thread_id"]
            raise WorkflowInputError(
                f"thread {thread!r} is not waiting on an interrupt; there is nothing to resume",
                hint="send an input instead of a resume value, or resume a thread whose last "
                "run returned status 'interrupted'",
            )
        return
    check_input(graph, payload, workflow)


def run_error(exc: BaseException, workflow: str, thread_id: str) -> WorkflowRunError:
    """A :class:`WorkflowRunError` naming the node, the user's frame and the fix."""
    node = None
    for note in getattr(exc, "__notes__", ()) or ():
        if match := _TASK_NOTE.search(note):
            node = match.group(1)
    location = user_location(exc.__traceback__)
    kind = type(exc).__name__
    if node == "__start__":
        node = None  # LangGraph's input step: the input is at fault, not a node
    if node is None and kind == "ValidationError" and hasattr(exc, "errors"):
        return WorkflowInputError(
            f"workflow {workflow!r} rejected the input: {_pydantic_problems(exc)}",
            original=exc,
            hint="pass values of the types the state schema declares",
            location=location,
        )
    if node is not None and isinstance(exc, LgpError):
        # Our own error (an agent, a provider) already says what and how to fix it.
        message = f"node {node!r} of workflow {workflow!r} failed: {exc.message}"
        hint = exc.hint or f"thread {thread_id!r} keeps its earlier checkpoints"
    elif node is not None:
        message = f"node {node!r} of workflow {workflow!r} failed: {format_exception_only(exc)}"
        hint = f"fix the node and run again; thread {thread_id!r} keeps its earlier checkpoints"
    elif kind == "GraphRecursionError":
        message = f"workflow {workflow!r} hit the recursion limit: {exc}"
        hint = "check the graph's loop has an exit condition"
    elif kind in ("InvalidUpdateError", "EmptyInputError"):
        message = f"workflow {workflow!r} rejected the input: {exc}"
        hint = "pass an object of the state's input keys (partial is fine)"
    else:
        message = f"workflow {workflow!r} failed: {format_exception_only(exc)}"
        hint = (
            f"thread {thread_id!r} keeps its earlier checkpoints; rerun with --verbose for details"
        )
    cls = WorkflowInputError if kind in ("InvalidUpdateError", "EmptyInputError") else None
    if cls is not None and node is None:
        return cls(message, original=exc, hint=hint, location=location)
    return WorkflowRunError(message, node=node, original=exc, hint=hint, location=location)


def _pydantic_problems(exc: Any) -> str:
    """``a: Input should be a valid string (got 123); b: Field required``."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())) or "input"
        got = "" if error.get("type") == "missing" else f" (got {error.get('input')!r})"
        parts.append(f"{where}: {error.get('msg')}{got}")
    return "; ".join(parts)
