"""Execute one workflow run on the engine loop and map failures to clear errors."""

from __future__ import annotations

import contextlib
import re
import sys
import time
import uuid
import weakref
from collections.abc import AsyncIterator
from typing import Any

import typing_extensions

from lgp_lab.errors import (
    LgpError,
    WorkflowInputError,
    WorkflowRunError,
    format_exception_only,
    user_location,
)
from lgp_lab.runtime.context import run_recorder
from lgp_lab.runtime.result import RunResult
from lgp_lab.runtime.workflow import Workflow

__all__ = [
    "DEFAULT_INPUT",
    "execute",
    "new_thread_id",
    "normalize_input",
    "parse_input_text",
    "stream",
]

DEFAULT_INPUT: dict[str, Any] = {"input": "test"}
_TASK_NOTE = re.compile(r"During task with name '([^']+)'")


def new_thread_id() -> str:
    """A fresh, short, unique thread id."""
    return uuid.uuid4().hex[:12]


def parse_input_text(text: str | None) -> dict[str, Any]:
    """Parse a command-line input: a JSON object, or plain text that becomes ``{"input": text}``.

    ``None`` gives the default input ``{"input": "test"}``.

    Raises:
        ValueError: Text that looks like JSON but is not a valid JSON object.
    """
    import json

    if text is None:
        return dict(DEFAULT_INPUT)
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"looks like JSON but is not valid ({exc.msg} at column {exc.colno}); "
                """write it as '{"input": "hello"}' or pass plain text"""
            ) from None
        if not isinstance(value, dict):
            raise ValueError(
                'a JSON input must be an object of state keys, e.g. \'{"input": "hi"}\''
            )
        return value
    return {"input": text}


def normalize_input(value: Any) -> Any:
    """A plain string becomes ``{"input": text}``; mappings and ``None`` pass through."""
    if isinstance(value, str):
        return {"input": value}
    return value


def run_config(
    workflow: Workflow,
    version: int,
    thread_id: str,
    environment: str,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The LangGraph config of one run: its thread and the checkpoint metadata we add."""
    return {
        "configurable": {"thread_id": thread_id},
        "metadata": {
            **(metadata or {}),
            "workflow": workflow.name,
            "workflow_version": version,
            "environment": environment,
        },
        "run_name": workflow.name,
    }


async def execute(
    workflow: Workflow,
    payload: Any,
    *,
    thread_id: str | None,
    environment: str,
    metadata: dict[str, Any] | None = None,
    tracing: Any = None,
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
        workflow, payload, thread_id, environment, metadata, tracing, updates=False
    ):
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
) -> AsyncIterator[tuple[str, Any]]:
    """Run like :func:`execute`, yielding ``(event, data)`` as the run goes.

    Events: ``metadata`` (thread, workflow, version, trace id) first, one ``updates``
    per node step (``{node: update}``), then ``end`` with the :class:`RunResult`. A
    failure raises :class:`WorkflowRunError` after the events already yielded.
    """
    async for item in _drive(
        workflow, payload, thread_id, environment, metadata, tracing, updates=True
    ):
        yield item


async def _drive(
    workflow: Workflow,
    payload: Any,
    thread_id: str | None,
    environment: str,
    metadata: dict[str, Any] | None,
    tracing: Any,
    *,
    updates: bool,
) -> AsyncIterator[tuple[str, Any]]:
    from lgp_lab.checkpointing.sqlite import RunCapture, current_run

    graph, version = workflow.live
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
    config = run_config(workflow, version, thread_id, environment, metadata)
    try:
        await check_payload(graph, payload, config, workflow.name)
    except WorkflowRunError as exc:
        if trace is not None:
            tracing.end(trace, status="error", error=exc.message)
        raise
    yield (
        "metadata",
        {
            "thread_id": thread_id,
            "workflow": workflow.name,
            "version": version,
            "trace_id": trace.trace_id if trace else None,
        },
    )

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
            payload, config, stream_mode=["values", "updates", "tasks"]
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
        status = "interrupted" if interrupts else "complete"
    except Exception as exc:
        failure = run_error(exc, workflow.name, thread_id)
        error = failure.message
        raise failure from exc
    except BaseException:
        status, error = "cancelled", "cancelled"
        raise
    finally:
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
        new_thread, trace,
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
        status="interrupted" if interrupts else "complete",
        interrupts=[getattr(i, "value", i) for i in interrupts],
        environment=environment,
        new_thread=new_thread,
        trace_id=trace.trace_id if trace is not None else None,
        trace_url=trace.langfuse_url if trace is not None else None,
    )


async def check_payload(graph: Any, payload: Any, config: dict[str, Any], workflow: str) -> None:
    """Refuse input the run would choke on, before anything is written."""
    if isinstance(payload, dict):
        check_input_keys(graph, payload, workflow)
    elif type(payload).__name__ == "Command":
        snapshot = await graph.aget_state(config)
        if not any(task.interrupts for task in snapshot.tasks):
            thread = config["configurable"]["thread_id"]
            raise WorkflowInputError(
                f"thread {thread!r} is not waiting on an interrupt; there is nothing to resume",
                hint="send an input instead of a resume value, or resume a thread whose last "
                "run returned status 'interrupted'",
            )


def check_input_keys(graph: Any, payload: dict[str, Any], workflow: str) -> None:
    """Refuse input keys the state schema does not have (LangGraph drops them silently)."""
    builder = getattr(graph, "builder", None)
    schemas = getattr(builder, "schemas", None)
    keys = schemas.get(builder.input_schema) if schemas else None
    if not keys:
        return
    unknown = [k for k in payload if k not in keys]
    if unknown:
        raise WorkflowInputError(
            f"workflow {workflow!r} rejected the input: unknown key(s) "
            f"{', '.join(repr(k) for k in unknown)}",
            hint=f"use the state's input keys: {', '.join(keys)}",
        )
    adapter = _input_adapter(builder)
    if adapter is None:
        return
    from pydantic import ValidationError

    try:
        adapter.validate_python(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
        )
        raise WorkflowInputError(
            f"workflow {workflow!r} rejected the input: {problems}",
            hint="pass values of the types the state schema declares",
        ) from None


_ADAPTERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _input_adapter(builder: Any) -> Any:
    """A pydantic validator of the input schema (None if pydantic cannot model it)."""
    try:
        return _ADAPTERS[builder]
    except KeyError:
        pass
    adapter = None
    schema = getattr(builder, "input_schema", None)
    if schema is not None:
        import typing

        from pydantic import PydanticUserError, TypeAdapter, ValidationError

        try:
            # Resolve string annotations (`from __future__ import annotations`) against the
            # workflow's own module, which may no longer be the one in sys.modules.
            module = sys.modules.get(schema.__module__)
            hints = typing.get_type_hints(
                schema, globalns=vars(module) if module else None, include_extras=True
            )
            shape = typing_extensions.TypedDict(  # type: ignore[operator]
                schema.__name__, hints, total=getattr(schema, "__total__", True)
            )
            adapter = TypeAdapter(shape)
            # A missing required key is a ValidationError: fine, it validates.
            with contextlib.suppress(ValidationError):
                adapter.validate_python({})
        except (PydanticUserError, TypeError, NameError, AttributeError):
            adapter = None  # not a schema pydantic can model: skip the type check
    _ADAPTERS[builder] = adapter
    return adapter


def run_error(exc: BaseException, workflow: str, thread_id: str) -> WorkflowRunError:
    """A :class:`WorkflowRunError` naming the node, the user's frame and the fix."""
    node = None
    for note in getattr(exc, "__notes__", ()) or ():
        if match := _TASK_NOTE.search(note):
            node = match.group(1)
    location = user_location(exc.__traceback__)
    kind = type(exc).__name__
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
        hint = (
            'pass input keys that exist in the workflow\'s state schema, e.g. \'{"input": "hi"}\''
        )
    else:
        message = f"workflow {workflow!r} failed: {format_exception_only(exc)}"
        hint = (
            f"thread {thread_id!r} keeps its earlier checkpoints; rerun with --verbose for details"
        )
    cls = WorkflowInputError if kind in ("InvalidUpdateError", "EmptyInputError") else None
    if cls is not None and node is None:
        return cls(message, original=exc, hint=hint, location=location)
    return WorkflowRunError(message, node=node, original=exc, hint=hint, location=location)
