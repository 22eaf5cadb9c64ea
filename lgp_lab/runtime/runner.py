"""Execute one workflow run on the engine loop and map failures to clear errors."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from lgp_lab.errors import WorkflowRunError, format_exception_only, user_location
from lgp_lab.runtime.result import RunResult
from lgp_lab.runtime.workflow import Workflow

__all__ = ["DEFAULT_INPUT", "execute", "new_thread_id", "normalize_input", "parse_input_text"]

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


async def execute(
    workflow: Workflow,
    payload: Any,
    *,
    thread_id: str | None,
    environment: str,
    metadata: dict[str, Any] | None = None,
) -> RunResult:
    """Run ``workflow`` once on ``thread_id`` (a new thread when ``None``).

    The workflow's live graph and version are read once, so a reload during the run
    does not affect it. The workflow name, version and environment go into every
    checkpoint's metadata.

    Raises:
        WorkflowRunError: A node raised, or the input does not fit the state schema.
    """
    from lgp_lab.checkpointing.sqlite import RunCapture, current_run

    graph, version = workflow.live
    new_thread = thread_id is None
    thread_id = thread_id or new_thread_id()
    config = {
        "configurable": {"thread_id": thread_id},
        "metadata": {
            **(metadata or {}),
            "workflow": workflow.name,
            "workflow_version": version,
            "environment": environment,
        },
        "run_name": workflow.name,
    }
    if isinstance(payload, dict):
        check_input_keys(graph, payload, workflow.name)
    capture = RunCapture(thread_id)
    token = current_run.set(capture)
    started = time.perf_counter()
    try:
        values = await graph.ainvoke(payload, config)
    except Exception as exc:
        raise run_error(exc, workflow.name, thread_id) from exc
    finally:
        current_run.reset(token)
    duration = time.perf_counter() - started

    state = dict(values) if isinstance(values, dict) else {"output": values}
    interrupts = state.pop("__interrupt__", None) or []
    return RunResult(
        workflow=workflow.name,
        version=version,
        thread_id=thread_id,
        checkpoint_id=capture.checkpoint_id,
        state=state,
        duration_s=duration,
        status="interrupted" if interrupts else "complete",
        interrupts=[getattr(i, "value", i) for i in interrupts],
        environment=environment,
        new_thread=new_thread,
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
        raise WorkflowRunError(
            f"workflow {workflow!r} rejected the input: unknown key(s) "
            f"{', '.join(repr(k) for k in unknown)}",
            hint=f"use the state's input keys: {', '.join(keys)}",
        )


def run_error(exc: BaseException, workflow: str, thread_id: str) -> WorkflowRunError:
    """A :class:`WorkflowRunError` naming the node, the user's frame and the fix."""
    node = None
    for note in getattr(exc, "__notes__", ()) or ():
        if match := _TASK_NOTE.search(note):
            node = match.group(1)
    location = user_location(exc.__traceback__)
    kind = type(exc).__name__
    if node is not None:
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
    return WorkflowRunError(message, node=node, original=exc, hint=hint, location=location)
