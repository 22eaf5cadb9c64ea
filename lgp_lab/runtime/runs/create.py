"""Creating a run: the request checked, its record made, and the run handed to its
thread's lane (:mod:`lgp_lab.runtime.runs.lanes`) as its multitask strategy says.

A run is a record (id, thread, assistant, status, multitask strategy, attempt, times,
kwargs, metadata) stored in the project's database beside the checkpoints, executed in
the background on the Lab's engine loop.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from typing import Any

from lgp_lab.errors import LgpError
from lgp_lab.jsonable import to_jsonable
from lgp_lab.runtime.runs import requests as checks
from lgp_lab.runtime.runs.live import _Request
from lgp_lab.runtime.runs.records import Run, RunNotFoundError, _now
from lgp_lab.runtime.runs.requests import MULTITASK_STRATEGIES


class _Creating:
    """The create part of :class:`~lgp_lab.runtime.runs.Runs`."""

    async def acreate(
        self,
        *,
        thread_id: str | None,
        assistant_id: str,
        graph_id: Any,
        input: Any = None,
        command: dict[str, Any] | None = None,
        config: dict[str, Any] | None = None,
        context: Any = None,
        metadata: dict[str, Any] | None = None,
        stream_mode: str | Iterable[str] | None = ("values",),
        stream_subgraphs: bool = False,
        stream_resumable: bool = False,
        multitask_strategy: str | None = "reject",
        if_not_exists: str | None = "reject",
        checkpoint_id: str | None = None,
        checkpoint: dict[str, Any] | None = None,
        interrupt_before: Any = None,
        interrupt_after: Any = None,
        on_disconnect: str | None = "cancel",
        on_completion: str | None = None,
        durability: str | None = None,
    ) -> Run:
        """Create a run and start it in the background (or queue it behind the thread's
        run in flight, per ``multitask_strategy``).

        ``thread_id=None`` is a stateless run: a temporary thread, deleted when the run
        ends unless ``on_completion="keep"``. ``graph_id`` is anything
        :meth:`Lab.aload` takes (a served workflow's name, a Workflow).

        Raises:
            WorkflowInputError: A field has a value the API does not define (nothing
                was created).
            RunNotFoundError: The thread does not exist and ``if_not_exists`` is
                ``reject``.
            RunConflictError: The thread is busy and the strategy is ``reject``.
        """
        lab = self._lab
        lab._check_open()
        if not lab._on_engine():
            return await lab._hop(
                self.acreate(
                    thread_id=thread_id, assistant_id=assistant_id, graph_id=graph_id,
                    input=input, command=command, config=config, context=context,
                    metadata=metadata, stream_mode=stream_mode,
                    stream_subgraphs=stream_subgraphs, stream_resumable=stream_resumable,
                    multitask_strategy=multitask_strategy, if_not_exists=if_not_exists,
                    checkpoint_id=checkpoint_id, checkpoint=checkpoint,
                    interrupt_before=interrupt_before, interrupt_after=interrupt_after,
                    on_disconnect=on_disconnect, on_completion=on_completion,
                    durability=durability,
                )
            )  # fmt: skip
        strategy = checks.choice(
            "multitask_strategy", multitask_strategy or "reject", MULTITASK_STRATEGIES
        )
        checks.choice("if_not_exists", if_not_exists or "reject", checks.IF_NOT_EXISTS)
        checks.choice("on_disconnect", on_disconnect or "cancel", checks.ON_DISCONNECT)
        checks.choice("on_completion", on_completion or "delete", checks.ON_COMPLETION)
        if durability is not None:
            checks.choice("durability", durability, checks.DURABILITY)
        modes = checks.stream_modes(stream_mode)
        command = checks.check_command(command, input)
        fork = checks.fork_of(checkpoint_id, checkpoint)
        user_config = checks.check_config(config)
        for name, nodes in (
            ("interrupt_before", interrupt_before),
            ("interrupt_after", interrupt_after),
        ):
            checks.check_nodes(name, nodes)
        workflow = await lab.aload(graph_id)
        if command is None and input is not None and not isinstance(input, str):
            checks.check_input_fits(workflow, input)

        temporary = thread_id is None and (on_completion or "delete") == "delete"
        new_thread = thread_id is None
        if thread_id is None:
            thread_id = str(uuid.uuid4())
        elif not await self._thread_exists(thread_id):
            if (if_not_exists or "reject") != "create":
                raise RunNotFoundError(
                    f"thread {thread_id!r} not found",
                    hint="create it first (POST /threads, client.threads.create) or pass "
                    'if_not_exists="create"',
                )
            new_thread = True
        if fork is not None and not await self._thread_exists(thread_id):
            raise RunNotFoundError(
                f"checkpoint {fork.get('checkpoint_id')!r} not found: thread {thread_id!r} "
                "has no checkpoints",
                hint="fork from a checkpoint_id listed by the thread's history",
            )

        now = _now()
        run_id = str(uuid.uuid4())
        graph_name = workflow.name
        run_metadata = dict(metadata or {})
        kwargs = {
            "input": input,
            "command": command,
            "config": {
                **user_config,
                "configurable": {
                    **(user_config.get("configurable") or {}),
                    "run_id": run_id,
                    "thread_id": thread_id,
                    "graph_id": graph_name,
                    "assistant_id": assistant_id,
                    **(fork or {}),
                },
            },
            "context": context,
            "stream_mode": modes,
            "subgraphs": bool(stream_subgraphs),
            "resumable": bool(stream_resumable),
            "interrupt_before": interrupt_before,
            "interrupt_after": interrupt_after,
            "on_disconnect": on_disconnect or "cancel",
            "temporary": temporary,
            "durability": durability,
        }
        run = Run(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant_id,
            status="pending",
            multitask_strategy=strategy,
            attempt=1,
            created_at=now,
            updated_at=now,
            kwargs=to_jsonable(kwargs),
            metadata=to_jsonable(run_metadata),
        )
        request = _Request(
            workflow=workflow,
            graph_id=graph_name,
            input=input,
            command=command,
            config=user_config,
            context=context,
            stream_mode=modes,
            subgraphs=bool(stream_subgraphs),
            interrupt_before=interrupt_before,
            interrupt_after=interrupt_after,
            checkpoint=fork,
            durability=durability,
            temporary=temporary,
        )

        live, inflight = self._admit(run, request, bool(stream_resumable), strategy)
        # The lane's worker starts the run once its record is written (``live.stored``);
        # a run whose record could not be written never runs.
        try:
            inflight = await self._record_admitted(live, strategy, inflight)
            if not temporary and (inflight or new_thread):
                # Queued: the thread reads `busy` until its turn. A thread made for this run
                # is created now, as the reference server creates it with the run: until
                # its first checkpoint nothing else says it exists (GET /threads/{id}
                # would 404). A run that starts at once on an existing thread needs no
                # write here: it reads `busy` while in flight (sessions.active), and its
                # end stamps the graph and the outcome in one write.
                await self._touch(
                    thread_id,
                    metadata={"graph_id": graph_name, "assistant_id": assistant_id},
                    status="busy",
                )
                self._stamp(thread_id, (graph_name, assistant_id, "busy"))
        except BaseException as exc:
            live.stored.set_exception(exc if isinstance(exc, Exception) else LgpError("cancelled"))
            raise
        live.stored.set_result(None)
        return dataclasses.replace(run)  # a snapshot: the live record keeps changing
