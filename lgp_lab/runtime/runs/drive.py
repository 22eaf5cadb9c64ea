"""One attempt of a run: its graph executed with the run's config, input, context and
stream modes, its chunks published as Agent Server events, its trace recorded.

An adopted run (its process died) continues from its last checkpoint: completed nodes
are not run again; a run that had ended and lost only its record is not run at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from lgp_lab.jsonable import to_jsonable
from lgp_lab.observability.tokens import with_token_relay
from lgp_lab.runtime.runs import requests as checks
from lgp_lab.runtime.runs.events import RunEmitter
from lgp_lab.runtime.runs.live import _Live, _Request

# The LangGraph modes every run streams for itself (final state, interrupts).
_ALWAYS = ("values", "updates")


class _Driving:
    """The graph-driving part of :class:`~lgp_lab.runtime.runs.Runs`."""

    async def _drive(self, live: _Live) -> list[Any]:
        """Execute the run's graph, publishing its events; the interrupts it stopped on."""
        from lgp_lab.run_context import set_current_lab
        from lgp_lab.runtime.loader import GraphFactory
        from lgp_lab.runtime.runner import run_config

        lab = self._lab
        request = live.request
        run = live.run
        workflow = request.workflow
        graph, version = workflow.live
        set_current_lab(lab)
        live.publish("metadata", {"run_id": run.run_id, "attempt": run.attempt})
        metadata = {
            **run.metadata,
            "run_id": run.run_id,
            "graph_id": request.graph_id,
            "assistant_id": run.assistant_id,
            "run_attempt": run.attempt,
        }
        config = run_config(
            workflow, version, run.thread_id, lab.environment, metadata, request.config
        )
        config["configurable"].update(
            {"run_id": run.run_id, "graph_id": request.graph_id, "assistant_id": run.assistant_id}
        )
        if request.checkpoint:
            config["configurable"].update(request.checkpoint)
        if isinstance(graph, GraphFactory):
            async with graph.instance(config) as built:
                return await self._drive_graph(live, built, version, config)
        return await self._drive_graph(live, graph, version, config)

    async def _drive_graph(
        self, live: _Live, graph: Any, version: int, config: dict[str, Any]
    ) -> list[Any]:
        from lgp_lab.run_context import RunCapture, current_run, run_recorder
        from lgp_lab.runtime.inputs import default_context
        from lgp_lab.runtime.runner import (
            _result,
            check_payload,
            run_error,
            stopped_at_breakpoint,
        )

        lab = self._lab
        request = live.request
        run = live.run
        workflow = request.workflow
        thread_id = run.thread_id
        if request.resume:
            finished = await self._resume_point(live, graph, config)
            if finished is not None:  # it had run to its end; only its record was lost
                live.values = finished
                live.publish("values", finished)
                return []
        payload = await self._payload(graph, request, thread_id)
        context = request.context if request.context is not None else default_context(graph)
        tracing = await lab.atracing()
        trace = None
        if tracing is not None:
            trace = await tracing.start(
                workflow=workflow.name,
                version=version,
                thread_id=thread_id,
                environment=lab.environment,
                input=payload if request.command is None else {"command": request.command},
            )
            config["metadata"]["trace_id"] = trace.trace_id
        try:
            await check_payload(graph, payload, config, workflow.name)
        except Exception as exc:
            if trace is not None:
                tracing.end(trace, status="error", error=getattr(exc, "message", str(exc)))
            raise
        config = with_token_relay(config, tracing, trace)  # while a live view shows tokens

        user_modes = set(request.stream_mode)
        lib_modes = set(user_modes) - {"events", "messages-tuple", *checks.QUIET_MODES}
        if "messages-tuple" in user_modes:
            lib_modes.add("messages")
        lib_modes.update(_ALWAYS)
        if trace is not None:
            lib_modes.add("tasks")
        options: dict[str, Any] = {
            "context": context,
            "stream_mode": sorted(lib_modes),
            "subgraphs": request.subgraphs,
        }
        if request.interrupt_before is not None:
            options["interrupt_before"] = request.interrupt_before
        if request.interrupt_after is not None:
            options["interrupt_after"] = request.interrupt_after
        if request.durability is not None:
            options["durability"] = request.durability

        busy = lab.sessions.active.running(thread_id)
        busy.__enter__()
        capture = RunCapture(thread_id)
        token = current_run.set(capture)
        recorder_token = run_recorder.set(
            (lambda child: tracing.child(trace, child)) if trace is not None else None
        )
        emitter = RunEmitter(live, user_modes, request.subgraphs, tracing, trace)
        started = time.perf_counter()
        status, error = "error", None
        try:
            if "events" in user_modes:
                root = uuid.uuid4()
                config["run_id"] = root
                async for event in graph.astream_events(payload, config, version="v2", **options):
                    if event.get("event") == "on_chain_stream" and event.get("run_id") == str(root):
                        emitter.chunk(event["data"]["chunk"])
                    else:
                        live.publish("events", event)
            else:
                async for item in graph.astream(payload, config, **options):
                    emitter.chunk(item)
            paused = not emitter.interrupts and await stopped_at_breakpoint(
                graph,
                {**config, "_lgp_breakpoints": bool(
                    request.interrupt_before or request.interrupt_after
                )},
            )  # fmt: skip
            live.waiting = paused  # the thread waits to be continued, as on interrupt()
            status = "interrupted" if emitter.interrupts or paused else "complete"
        except asyncio.CancelledError:
            status, error = "cancelled", "cancelled"
            raise
        except Exception as exc:
            failure = run_error(exc, workflow.name, thread_id)
            error = failure.message
            raise failure from exc
        finally:
            busy.__exit__(None, None, None)
            current_run.reset(token)
            run_recorder.reset(recorder_token)
            duration = time.perf_counter() - started
            if trace is not None and status not in ("complete", "interrupted"):
                tracing.end(
                    trace, status=status, output=live.values, error=error,
                    checkpoint_id=capture.checkpoint_id, duration_ms=duration * 1000,
                )  # fmt: skip
        state = dict(live.values) if isinstance(live.values, dict) else {"output": live.values}
        if emitter.interrupts:
            state["__interrupt__"] = emitter.interrupts
        result = _result(
            workflow, version, thread_id, capture.checkpoint_id, state, duration,
            lab.environment, False, trace, paused=status == "interrupted",
        )  # fmt: skip
        if trace is not None:
            tracing.end(
                trace, status=result.status, output=result.state,
                checkpoint_id=result.checkpoint_id, duration_ms=duration * 1000,
            )  # fmt: skip
        with contextlib.suppress(Exception):
            lab._notify(result)
        return emitter.interrupts

    async def _resume_point(self, live: _Live, graph: Any, config: dict[str, Any]) -> Any:
        """For an adopted run: continue from its last checkpoint if it wrote one with
        work left (``request.resume`` stays set: the input is ``None``); return the final
        values if it had finished; start over with its input if it wrote nothing."""
        state = await graph.aget_state(
            {**config, "configurable": {**config["configurable"], "checkpoint_id": None}}
        )
        if (state.metadata or {}).get("run_id") != live.run.run_id:
            live.request.resume = False  # it never checkpointed: run it as it was asked
            return None
        if state.next:
            return None
        return to_jsonable(state.values)

    async def _payload(self, graph: Any, request: _Request, thread_id: str) -> Any:
        from lgp_lab.runtime.inputs import default_input, text_input

        if request.resume:
            return None  # continue from the run's last checkpoint: done nodes stay done
        if request.command is not None:
            return checks.to_command(request.command)
        if isinstance(request.input, str):
            return text_input(graph, request.input)
        if (
            request.input is None
            and request.checkpoint is None
            and not await self._has_checkpoints(thread_id)
        ):
            return default_input(graph)  # nothing to continue: as Lab.run does
        return request.input
