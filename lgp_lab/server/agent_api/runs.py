"""Agent Server runs routes: thin HTTP over :mod:`lgp_lab.runtime.runs`.

``POST /threads/{id}/runs`` (background), ``/runs/wait``, ``/runs/stream``, list, get,
join, join a stream (``Last-Event-ID``), cancel, delete, and the stateless ``/runs``
twins, with bodies and responses as ``langgraph_sdk`` sends and parses them.

Streams are server-sent events in the SDK's framing (``event:``, ``data:``, ``id:``);
an idle stream gets a ``: heartbeat`` comment every few seconds, and a client that goes
away cancels the run when the request said ``on_disconnect: "cancel"`` (the default).
``/wait`` answers like the Agent Server: the final state (``__error__`` when the run
failed), sent as soon as it is known, with newline keep-alives before it on long runs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from lgp_lab.errors import LgpError, WorkflowInputError, WorkflowNotFoundError
from lgp_lab.runtime.assistants import merge_run_settings
from lgp_lab.runtime.runs import Run, RunConflictError, RunNotFoundError
from lgp_lab.server.agent_api._common import ApiError, api_error_response, resolve_assistant
from lgp_lab.server.models import THREAD_ID_PATTERN

__all__ = ["RunCreate", "build_runs_router"]

# Runs take a custom assistant's config and context as their defaults (the assistants
# routes allow creating such assistants once this is true).
APPLIES_CUSTOM_ASSISTANTS = True
# Seconds between keep-alives on an idle stream or a long /wait.
HEARTBEAT_S = 5.0
_ID = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
ThreadId = Annotated[str, Path(pattern=THREAD_ID_PATTERN)]
RunId = Annotated[str, Path(pattern=_ID)]


class RunCreate(BaseModel):
    """The body of every run-creating route, as ``langgraph_sdk`` 0.4 sends it."""

    model_config = ConfigDict(extra="ignore")

    assistant_id: str = Field(min_length=1, max_length=200)
    input: Any = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: Any = None
    metadata: dict[str, Any] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    multitask_strategy: str | None = None
    if_not_exists: str | None = None
    on_disconnect: str | None = None
    on_completion: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    interrupt_before: str | list[str] | None = None
    interrupt_after: str | list[str] | None = None
    durability: str | None = None
    checkpoint_during: bool | None = None
    after_seconds: float | None = None
    # Accepted and ignored, as without LangSmith: webhook, feedback_keys, langsmith_tracer.
    webhook: str | None = None
    feedback_keys: list[str] | str | None = None


class RunCancelMany(BaseModel):
    """``POST /runs/cancel``."""

    model_config = ConfigDict(extra="ignore")

    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: str | None = None


def build_runs_router(lab: Any, served: Mapping[str, Any], **options: Any) -> APIRouter:
    """The runs routes over ``served`` (name -> live Workflow handle); ``options`` go to
    the ``APIRouter`` (see :func:`lgp_lab.server.agent_api.build_routers`)."""
    router = APIRouter(tags=["runs"], **options)
    runs = lab.runs

    async def create(thread_id: str | None, body: RunCreate, *, subscribe: bool = False) -> Run:
        # A system assistant (its id or its graph id) or a custom one, whose config and
        # context are the run's defaults (the run's own keys win).
        assistant = await resolve_assistant(lab, served, body.assistant_id)
        graph_id = assistant["graph_id"]
        config, context = merge_run_settings(assistant, body.config, body.context)
        if body.after_seconds:
            raise ApiError(
                422,
                f"after_seconds={body.after_seconds} is not supported: runs start at once",
                hint="schedule the request on the client side, or leave after_seconds out",
            )
        durability = body.durability
        if durability is None and body.checkpoint_during is not None:
            durability = "async" if body.checkpoint_during else "exit"
        run = await runs.acreate(
            thread_id=thread_id,
            assistant_id=assistant["assistant_id"],
            graph_id=served[graph_id],
            input=body.input,
            command=body.command,
            config=config,
            context=context,
            metadata=body.metadata,
            stream_mode=body.stream_mode,
            stream_subgraphs=body.stream_subgraphs,
            stream_resumable=body.stream_resumable,
            multitask_strategy=body.multitask_strategy,
            if_not_exists=body.if_not_exists,
            checkpoint_id=body.checkpoint_id,
            checkpoint=body.checkpoint,
            interrupt_before=body.interrupt_before,
            interrupt_after=body.interrupt_after,
            on_disconnect=body.on_disconnect,
            on_completion=body.on_completion,
            durability=durability,
        )
        if subscribe:
            runs.subscribe(run.run_id)
        return run

    def location(run: Run, stateless: bool) -> dict[str, str]:
        if stateless:
            return {"Content-Location": f"/runs/{run.run_id}"}
        return {"Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}"}

    async def background(thread_id: str | None, body: RunCreate) -> Response:
        try:
            run = await create(thread_id, body)
        except (ApiError, LgpError) as exc:
            return _error(exc)
        return _json(run.to_dict(), headers=location(run, thread_id is None))

    async def wait(thread_id: str | None, body: RunCreate) -> Any:
        try:
            run = await create(thread_id, body)
        except (ApiError, LgpError) as exc:
            return _error(exc)
        cancel = (body.on_disconnect or "cancel") == "cancel"
        return _WaitResponse(
            runs.ajoin(run.thread_id, run.run_id),
            headers=location(run, thread_id is None),
            on_disconnect=_canceller(runs, run) if cancel else None,
        )

    async def stream(thread_id: str | None, body: RunCreate) -> Any:
        try:
            run = await create(thread_id, body, subscribe=True)
        except (ApiError, LgpError) as exc:
            return _error(exc)
        headers = location(run, thread_id is None)
        if body.stream_resumable and thread_id is not None:
            # Where the SDK reconnects (with Last-Event-ID) if the stream drops.
            headers["Location"] = f"/threads/{run.thread_id}/runs/{run.run_id}/stream"
        cancel = (body.on_disconnect or "cancel") == "cancel"
        events = runs.astream(run.run_id, last_event_id="-1", heartbeat_s=HEARTBEAT_S)
        return _EventStream(
            _frames(events, None),
            headers=headers,
            on_disconnect=_canceller(runs, run) if cancel else None,
            on_close=lambda: runs.unsubscribe(run.run_id),
        )

    # ------------------------------------------------------------------ thread runs

    @router.post("/threads/{thread_id}/runs")
    async def create_run(thread_id: ThreadId, body: RunCreate) -> Response:
        """Create a run in the background; returns the run (status ``pending``)."""
        return await background(thread_id, body)

    @router.post("/threads/{thread_id}/runs/wait")
    async def wait_run(thread_id: ThreadId, body: RunCreate) -> Any:
        """Create a run and answer its final state values."""
        return await wait(thread_id, body)

    @router.post("/threads/{thread_id}/runs/stream")
    async def stream_run(thread_id: ThreadId, body: RunCreate) -> Any:
        """Create a run and stream its events (server-sent events)."""
        return await stream(thread_id, body)

    @router.get("/threads/{thread_id}/runs")
    async def list_runs(
        thread_id: ThreadId,
        limit: Annotated[int, Query(ge=1, le=1000)] = 10,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
        status: str | None = None,
    ) -> Response:
        """A thread's runs, newest first."""
        if not await runs.athread_exists(thread_id):
            return _error(ApiError(404, f"thread {thread_id!r} not found"))
        found = await runs.alist(thread_id, limit=limit, offset=offset, status=status or None)
        return _json([r.to_dict() for r in found])

    @router.get("/threads/{thread_id}/runs/{run_id}")
    async def get_run(thread_id: ThreadId, run_id: RunId) -> Response:
        """One run."""
        run = await runs.aget(thread_id, run_id)
        if run is None:
            return _error(ApiError(404, f"run {run_id!r} not found on thread {thread_id!r}"))
        return _json(run.to_dict())

    @router.get("/threads/{thread_id}/runs/{run_id}/join")
    async def join_run(thread_id: ThreadId, run_id: RunId) -> Any:
        """Wait for the run to finish; its final state values."""
        if await runs.aget(thread_id, run_id) is None:
            return _error(ApiError(404, f"run {run_id!r} not found on thread {thread_id!r}"))
        return _WaitResponse(runs.ajoin(thread_id, run_id), headers={}, on_disconnect=None)

    @router.get("/threads/{thread_id}/runs/{run_id}/stream")
    async def join_stream(
        thread_id: ThreadId,
        run_id: RunId,
        cancel_on_disconnect: Annotated[str | None, Query()] = None,
        stream_mode: Annotated[list[str] | None, Query()] = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> Any:
        """Join a run's stream: new events, or everything after ``Last-Event-ID`` (all of
        a resumable run's events with ``Last-Event-ID: -1``)."""
        run = await runs.aget(thread_id, run_id)
        if run is None:
            return _error(ApiError(404, f"run {run_id!r} not found on thread {thread_id!r}"))
        cancel = _truthy(cancel_on_disconnect)
        modes = {m for m in (stream_mode or []) if m}
        events = runs.astream(
            run_id, thread_id=thread_id, last_event_id=last_event_id or None,
            heartbeat_s=HEARTBEAT_S,
        )  # fmt: skip
        return _EventStream(
            _frames(events, modes or None),
            headers={"Content-Location": f"/threads/{thread_id}/runs/{run_id}"},
            on_disconnect=_canceller(runs, run) if cancel else None,
        )

    @router.post("/threads/{thread_id}/runs/{run_id}/cancel")
    async def cancel_run(
        thread_id: ThreadId,
        run_id: RunId,
        wait: Annotated[str | None, Query()] = None,
        action: Annotated[str, Query()] = "interrupt",
    ) -> Response:
        """Cancel a run: ``action=interrupt`` keeps its checkpoints, ``rollback`` deletes
        them and the run; ``wait=1`` answers when it has stopped."""
        try:
            await runs.acancel(thread_id, run_id, wait=_truthy(wait), action=action)
        except (ApiError, LgpError) as exc:
            return _error(exc)
        return Response(status_code=204 if _truthy(wait) else 202)

    @router.delete("/threads/{thread_id}/runs/{run_id}")
    async def delete_run(thread_id: ThreadId, run_id: RunId) -> Response:
        """Delete a run's record (cancelling it first if it is in flight)."""
        try:
            await runs.adelete(thread_id, run_id)
        except (ApiError, LgpError) as exc:
            return _error(exc)
        return Response(status_code=204)

    # ------------------------------------------------------------------ stateless

    @router.post("/runs")
    async def create_stateless(body: RunCreate) -> Response:
        """A run on a temporary thread (deleted after, unless ``on_completion=keep``)."""
        return await background(None, body)

    @router.post("/runs/wait")
    async def wait_stateless(body: RunCreate) -> Any:
        """A stateless run's final state values."""
        return await wait(None, body)

    @router.post("/runs/stream")
    async def stream_stateless(body: RunCreate) -> Any:
        """A stateless run's events."""
        return await stream(None, body)

    @router.post("/runs/batch")
    async def batch_stateless(bodies: list[RunCreate]) -> Response:
        """Several stateless background runs."""
        created = []
        for body in bodies:
            try:
                created.append((await create(None, body)).to_dict())
            except (ApiError, LgpError) as exc:
                return _error(exc)
        return _json(created)

    @router.post("/runs/cancel")
    async def cancel_many(
        body: RunCancelMany, action: Annotated[str, Query()] = "interrupt"
    ) -> Response:
        """Cancel runs by id (of a thread), or the pending and/or running runs of a thread
        (or of every thread) by ``status``: ``pending``, ``running`` or ``all``."""
        try:
            targets: list[tuple[str | None, str]] = []
            if body.run_ids:
                targets = [(body.thread_id, run_id) for run_id in body.run_ids]
            elif body.thread_id or body.status:
                wanted = {"pending": ("pending",), "running": ("running",)}.get(
                    body.status or "all", ("pending", "running")
                )
                if body.status not in (None, "pending", "running", "all"):
                    raise ApiError(
                        422, f"status must be pending, running or all (got {body.status!r})"
                    )
                targets = [
                    (r.thread_id, r.run_id)
                    for r in runs.inflight(body.thread_id)
                    if r.status in wanted
                ]
            else:
                raise ApiError(
                    422,
                    "runs/cancel needs run_ids, a thread_id or a status",
                    hint='e.g. {"thread_id": "...", "status": "all"}',
                )
            for thread_id, run_id in targets:
                await runs.acancel(thread_id, run_id, action=action)
        except (ApiError, LgpError) as exc:
            return _error(exc)
        return Response(status_code=204)

    return router


# --------------------------------------------------------------------------- responses


def _status_of(exc: BaseException) -> int:
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, RunConflictError):
        return 409
    if isinstance(exc, RunNotFoundError | WorkflowNotFoundError):
        return 404
    if isinstance(exc, WorkflowInputError):
        return 422
    return 500


def _error(exc: BaseException) -> Response:
    if isinstance(exc, ApiError):
        return api_error_response(exc)
    message = getattr(exc, "message", str(exc))
    return api_error_response(ApiError(_status_of(exc), message, hint=getattr(exc, "hint", None)))


def _json(content: Any, *, headers: dict[str, str] | None = None) -> Response:
    from lgp_lab.server.responses import SafeJSONResponse

    return SafeJSONResponse(content, headers=headers)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _canceller(runs: Any, run: Run) -> Callable[[], None]:
    def cancel() -> None:
        task = asyncio.get_running_loop().create_task(
            runs.acancel(run.thread_id, run.run_id, action="interrupt")
        )
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    return cancel


_ALWAYS_SENT = ("metadata", "error", "end")


def _raw(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def _mode_of(event: str) -> str:
    base = event.split("|", 1)[0]
    return "messages" if base.startswith("messages") else base


async def _frames(
    events: AsyncIterator[tuple[str, str, bytes]], modes: set[str] | None
) -> AsyncIterator[bytes]:
    """SSE frames: ``event``, ``data`` and ``id`` lines; a comment for a heartbeat."""
    wanted = None
    if modes is not None:
        wanted = {"messages" if m in ("messages", "messages-tuple") else m for m in modes}
    try:
        async for event_id, event, data in events:
            if not event:
                yield b": heartbeat\n\n"
                continue
            if wanted is not None and event not in _ALWAYS_SENT and _mode_of(event) not in wanted:
                continue
            yield b"event: %s\ndata: %s\nid: %s\n\n" % (event.encode(), data, event_id.encode())
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]


class _EventStream(Response):
    """A ``text/event-stream`` response that notices a client leaving at once (not at
    the next write), to honour ``on_disconnect``."""

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        *,
        headers: dict[str, str],
        on_disconnect: Callable[[], None] | None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(status_code=200)  # FastAPI passes a Response through as is
        self.frames = frames
        self.extra_headers = headers
        self.on_disconnect = on_disconnect
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-store"),
            (b"x-accel-buffering", b"no"),
            *_raw(self.extra_headers),
        ]
        gone = asyncio.Event()

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    return

        listener = asyncio.get_running_loop().create_task(listen())
        frames = self.frames
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            gone_wait = asyncio.ensure_future(gone.wait())
            try:
                while True:
                    step = asyncio.ensure_future(anext(frames, None))
                    await asyncio.wait({step, gone_wait}, return_when=asyncio.FIRST_COMPLETED)
                    if not step.done():
                        step.cancel()
                        with contextlib.suppress(BaseException):
                            await step
                        break
                    chunk = step.result()
                    if chunk is None:
                        await send({"type": "http.response.body", "body": b""})
                        break
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            finally:
                gone_wait.cancel()
        except OSError:
            gone.set()
        finally:
            listener.cancel()
            with contextlib.suppress(Exception):
                await frames.aclose()  # type: ignore[attr-defined]
            if self.on_close is not None:
                self.on_close()
            if gone.is_set() and self.on_disconnect is not None:
                self.on_disconnect()


class _WaitResponse(Response):
    """The final state as JSON: at once when the run ends within a heartbeat, else a
    200 with newline keep-alives until it does (JSON ignores leading whitespace)."""

    def __init__(
        self,
        result: Awaitable[Any],
        *,
        headers: dict[str, str],
        on_disconnect: Callable[[], None] | None,
    ) -> None:
        super().__init__(status_code=200)  # FastAPI passes a Response through as is
        self.result = result
        self.extra_headers = headers
        self.on_disconnect = on_disconnect

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from lgp_lab.server.responses import SafeJSONResponse

        loop = asyncio.get_running_loop()
        outcome = asyncio.ensure_future(self.result)

        async def listen() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return

        listener = loop.create_task(listen())
        started = False
        try:
            while True:
                await asyncio.wait(
                    {outcome, listener}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED
                )
                if outcome.done():
                    break
                if listener.done():  # the client left
                    if self.on_disconnect is not None:
                        self.on_disconnect()
                    outcome.cancel()
                    return
                if not started:
                    started = True
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", b"application/json"),
                                *_raw(self.extra_headers),
                            ],
                        }
                    )
                await send({"type": "http.response.body", "body": b"\n", "more_body": True})
            try:
                value = outcome.result()
            except LgpError as exc:
                value = {"__error__": {"error": type(exc).__name__, "message": exc.message}}
            body = SafeJSONResponse(value).body
            if not started:
                await SafeJSONResponse(value, headers=self.extra_headers)(scope, receive, send)
                return
            await send({"type": "http.response.body", "body": body})
        except OSError:
            if self.on_disconnect is not None:
                self.on_disconnect()
        finally:
            listener.cancel()
            if not outcome.done():
                outcome.cancel()
