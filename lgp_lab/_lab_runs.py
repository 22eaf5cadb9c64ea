"""Running workflows on a Lab: ``run``/``arun``, ``astream``, ``resume`` and the run
listeners told of each result."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from lgp_lab.errors import WorkflowInputError
from lgp_lab.run_context import set_current_lab
from lgp_lab.runtime.result import RunResult
from lgp_lab.runtime.workflow import Workflow

__all__ = ["RunListener", "WorkflowRunsMixin"]

# The default of ``resume``: None is a value there (and refused), so absence needs its own.
_UNSET: Any = object()
RunListener = Callable[[RunResult], None]


class WorkflowRunsMixin:
    """Runs for :class:`~lgp_lab.lab.Lab` (on its engine loop, one at a time per thread)."""

    environment: Any
    runs: Any
    sessions: Any
    _listeners: list[RunListener]
    _runs: set[asyncio.Task[Any]]
    _workflows: Any
    _call: Any
    _hop: Any
    _hop_stream: Any
    _on_engine: Any
    acheckpointer: Any
    atracing: Any
    aload: Any

    def add_run_listener(self, listener: RunListener) -> Callable[[], None]:
        """Call ``listener(result)`` after every successful run; returns an unsubscribe."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def arun(
        self,
        target: Any,
        input: Any = None,
        *,
        thread_id: str | None = None,
        resume: Any = _UNSET,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        context: Any = None,
        config: dict[str, Any] | None = None,
    ) -> RunResult:
        """Run a workflow once on a thread.

        Args:
            target: A workflow file (``path.py[:attr]``), a ``langgraph.json`` graph id,
                a registered name, a graph object or a Workflow.
            input: What ``graph.ainvoke`` takes: a (partial) state dict, chat messages as
                dicts, tuples, strings or objects. Plain text becomes a user message on a
                chat graph (else the state's text key). ``None`` continues the thread
                from its last checkpoint; on a new (or empty) thread a default that fits
                the graph is used (:func:`lgp_lab.runtime.inputs.default_input`).
            thread_id: The thread to continue; a new one is generated when omitted.
            resume: A value for a thread waiting on ``interrupt()``.
            name: The name for a graph object (default: its own name, or ``graph``).
            metadata: Extra checkpoint metadata for this run.
            context: The run's context (``context_schema`` / ``Runtime[Ctx]``): a dict or
                an instance. ``None`` builds the schema from its defaults when it can.
            config: A RunnableConfig: ``configurable`` values, ``tags``, ``metadata``,
                ``recursion_limit``, ``run_name``, ``max_concurrency``. The thread id is
                the Lab's (pass ``thread_id``).

        Raises:
            WorkflowInputError: The input, context or config does not fit (nothing ran).
            WorkflowRunError: A node failed; the thread's earlier checkpoints stay.
        """
        if not self._on_engine():
            return await self._hop(
                self.arun(
                    target, input, thread_id=thread_id, resume=resume, name=name,
                    metadata=metadata, context=context, config=config,
                )
            )  # fmt: skip
        from lgp_lab.runtime.runner import execute

        workflow, payload, run_kwargs = await self._prepare_run(
            target, input, thread_id, resume, name, context, config
        )
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
        try:
            # One run at a time per thread, queued with the Agent API's runs: concurrent
            # runs on a thread never fork it.
            async with self.runs.exclusive(thread_id):
                result = await execute(workflow, payload, **run_kwargs, metadata=metadata)
        finally:
            if task is not None:
                self._runs.discard(task)
        self._notify(result)
        return result

    async def _prepare_run(
        self,
        target: Any,
        input: Any,
        thread_id: str | None,
        resume: Any,
        name: str | None,
        context: Any,
        config: dict[str, Any] | None,
    ) -> tuple[Workflow, Any, dict[str, Any]]:
        from lgp_lab.runtime.inputs import check_run_config

        workflow = await self.aload(target, name=name)
        user_config = check_run_config(config)
        await self.acheckpointer()
        set_current_lab(self)  # this task's context only: nodes find their Lab
        if resume is not _UNSET:
            from langgraph.types import Command

            if resume is None:
                raise WorkflowInputError(
                    "resume needs a value: None means 'no answer' to LangGraph",
                    hint='answer the interrupt with a value, e.g. "yes" or {"approved": true}',
                )
            payload: Any = Command(resume=resume)
        elif input is None and (thread_id is None or not await self._thread_exists(thread_id)):
            payload = await self.adefault_input(workflow)  # nothing to continue
        else:
            payload = input
        return (
            workflow,
            payload,
            {
                "thread_id": thread_id,
                "environment": self.environment,
                "tracing": await self.atracing(),
                "context": context,
                "config": user_config,
            },
        )

    async def _thread_exists(self, thread_id: str) -> bool:
        saver = await self.acheckpointer()
        config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        return await saver.aget_tuple(config) is not None

    async def adefault_input(self, target: Any) -> Any:
        """The input a run of ``target`` uses when none is given (fits its state)."""
        from lgp_lab.runtime.inputs import default_input
        from lgp_lab.runtime.loader import GraphFactory

        workflow = await self.aload(target)
        graph = workflow.graph
        if isinstance(graph, GraphFactory):
            graph = await graph.asample()
        return default_input(graph)

    def default_input(self, target: Any) -> Any:
        """Sync twin of :meth:`adefault_input`."""
        return self._call(self.adefault_input(target))

    def _notify(self, result: RunResult) -> None:
        for listener in list(self._listeners):
            with contextlib.suppress(Exception):  # a broken listener must not fail the run
                listener(result)

    async def astream(
        self,
        target: Any,
        input: Any = None,
        *,
        thread_id: str | None = None,
        resume: Any = _UNSET,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        context: Any = None,
        config: dict[str, Any] | None = None,
    ) -> AsyncIterator[tuple[str, Any]]:
        """Run like :meth:`arun`, yielding ``("metadata" | "updates" | "end", data)`` events.

        The ``end`` event carries the :class:`RunResult`. Runs on the engine loop (from
        another loop, events are relayed across).
        """
        kwargs = {
            "thread_id": thread_id, "resume": resume, "name": name, "metadata": metadata,
            "context": context, "config": config,
        }  # fmt: skip
        if not self._on_engine():
            async for item in self._hop_stream(self.astream(target, input, **kwargs)):
                yield item
            return
        from lgp_lab.runtime.runner import stream

        workflow, payload, run_kwargs = await self._prepare_run(
            target, input, thread_id, resume, name, context, config
        )
        result = None
        task = asyncio.current_task()
        if task is not None:
            self._runs.add(task)
        try:
            async with self.runs.exclusive(thread_id):
                async for event, data in stream(workflow, payload, **run_kwargs, metadata=metadata):
                    if event == "end":
                        result = data
                    yield event, data
        finally:
            if task is not None:
                self._runs.discard(task)
        if result is not None:
            self._notify(result)

    def run(
        self,
        target: Any,
        input: Any = None,
        *,
        thread_id: str | None = None,
        resume: Any = _UNSET,
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        context: Any = None,
        config: dict[str, Any] | None = None,
    ) -> RunResult:
        """Sync twin of :meth:`arun`; Ctrl-C / a kernel interrupt cancels the run."""
        return self._call(
            self.arun(
                target, input, thread_id=thread_id, resume=resume, name=name,
                metadata=metadata, context=context, config=config,
            )
        )  # fmt: skip

    async def aresume(self, thread_id: str, value: Any) -> RunResult:
        """Answer a thread waiting on ``interrupt()`` with ``value``; the thread's workflow
        (from its checkpoints) is loaded if needed."""
        from lgp_lab.errors import WorkflowNotFoundError

        info = await self.sessions.athread(thread_id)
        if info is None:
            raise WorkflowNotFoundError(f"thread {thread_id!r} has no checkpoints")
        name = info.workflow
        target: Any = self._workflows.get(name) if name else None
        if target is None:
            if not name:
                raise WorkflowNotFoundError(
                    f"thread {thread_id!r} does not record which workflow wrote it",
                    hint="resume it with lab.run(workflow, thread_id=..., resume=value)",
                )
            target = name
        return await self.arun(target, thread_id=thread_id, resume=value)

    def resume(self, thread_id: str, value: Any) -> RunResult:
        """Sync twin of :meth:`aresume`."""
        return self._call(self.aresume(thread_id, value))
