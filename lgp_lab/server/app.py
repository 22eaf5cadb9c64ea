"""The FastAPI app: thin routes over a Lab's workflows and sessions.

Every error is JSON ``{"error": ..., "status": N}``; a workflow's own failure is a 500
naming the node, with no traceback or server internals.
"""

import json
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lgp_lab import __version__
from lgp_lab.errors import WorkflowInputError, WorkflowRunError
from lgp_lab.runtime.jsonable import to_jsonable
from lgp_lab.server.models import (
    THREAD_ID_PATTERN,
    CheckpointPage,
    ErrorResponse,
    HealthResponse,
    InvokeRequest,
    InvokeResponse,
    SessionResponse,
    WorkflowInfo,
)
from lgp_lab.server.security import ApiKeys, RateLimiter

__all__ = ["create_app"]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 404, 413, 422, 429)
}


class PayloadTooLarge(Exception):
    """The request body is over ``server.max_body_bytes``."""


def create_app(lab: Any, workflows: Sequence[Any], *, descriptions: dict[str, str] | None = None):
    """Build the API for ``workflows`` (Workflow handles of ``lab``).

    The handles are live: a reload (``--watch``, ``%lgp_watch``) is served at once.
    """
    settings = lab.config.server
    keys = ApiKeys(settings.keys())
    limiter = RateLimiter(settings.rate_limit_per_minute)
    served = {wf.name: wf for wf in workflows}
    descriptions = descriptions or {}
    max_body = settings.max_body_bytes

    app = FastAPI(
        title="lgp_lab API",
        version=__version__,
        description="LangGraph workflows with persistent threads, served by lgp_lab.",
    )

    # ------------------------------------------------------------------ errors

    def error(status: int, message: str, detail: Any = None, headers: dict | None = None):
        body: dict[str, Any] = {"error": message, "status": status}
        if detail is not None:
            body["detail"] = detail
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException):
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError):
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        if any(p["type"] == "json_invalid" for p in problems):
            return error(400, "Malformed JSON body", problems)
        return error(422, "Invalid request", problems)

    @app.exception_handler(PayloadTooLarge)
    async def _too_large(_request: Request, _exc: PayloadTooLarge):
        return error(413, f"Request body over {max_body} bytes")

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, _exc: Exception):
        return error(500, "Internal server error")

    @app.middleware("http")
    async def _limit_body(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_body:
            return error(413, f"Request body over {max_body} bytes")
        receive, seen = request.receive, 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > max_body:
                raise PayloadTooLarge
            return message

        request._receive = limited  # chunked bodies carry no Content-Length
        return await call_next(request)

    # ------------------------------------------------------------------ auth

    async def authorize(request: Request) -> str:
        client = request.client.host if request.client else "unknown"
        token = _bearer(request)
        if keys.enabled:
            identity = keys.check(token)
            if identity is None:
                # Failed attempts are limited per address, against key guessing.
                _limit(limiter, f"addr:{client}")
                raise HTTPException(401, "Unauthorized", headers={"WWW-Authenticate": "Bearer"})
        else:
            identity = f"addr:{client}"
        _limit(limiter, identity)
        return identity

    Auth = Annotated[str, Depends(authorize)]
    Name = Annotated[str, Path(pattern=NAME_PATTERN, description="A served workflow's name")]
    ThreadId = Annotated[str, Path(pattern=THREAD_ID_PATTERN)]

    def workflow(name: str) -> Any:
        wf = served.get(name)
        if wf is None:
            known = ", ".join(sorted(served)) or "(none)"
            raise HTTPException(404, f"workflow {name!r} not found; served: {known}")
        return wf

    def run_kwargs(body: InvokeRequest) -> dict[str, Any]:
        if "resume" in body.model_fields_set:
            return {"thread_id": body.thread_id, "resume": body.resume}
        return {"input": body.input, "thread_id": body.thread_id}

    # ------------------------------------------------------------------ routes

    @app.get("/health", response_model=HealthResponse, tags=["service"])
    async def health() -> dict[str, Any]:
        """Liveness; no authentication."""
        names = sorted(served)
        return {
            "status": "healthy",
            "workflow": names[0] if len(names) == 1 else None,
            "workflows": names,
            "environment": lab.environment,
            "version": __version__,
        }

    @app.get("/workflows", response_model=list[WorkflowInfo], responses=_ERRORS, tags=["workflows"])
    async def list_workflows(_: Auth) -> list[dict[str, Any]]:
        """The served workflows and their live versions."""
        return [
            {"name": n, "version": wf.version, "description": descriptions.get(n, "")}
            for n, wf in sorted(served.items())
        ]

    @app.post(
        "/workflows/{name}/invoke",
        response_model=InvokeResponse,
        responses={**_ERRORS, 400: {"model": ErrorResponse}, 500: {"model": ErrorResponse}},
        tags=["workflows"],
    )
    async def invoke(name: Name, body: InvokeRequest, _: Auth):
        """Run the workflow once on a thread and return its final state."""
        wf = workflow(name)
        try:
            result = await lab.arun(wf, **run_kwargs(body))
        except WorkflowRunError as exc:
            return _run_failure(exc, error)
        return {**result.to_dict(), "duration_ms": round(result.duration_s * 1000, 3)}

    @app.post(
        "/workflows/{name}/stream",
        responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
        tags=["workflows"],
    )
    async def stream(name: Name, body: InvokeRequest, _: Auth):
        """Run the workflow, sending server-sent events: ``metadata``, one ``updates`` per
        node step, then ``end`` (the result) or ``error``."""
        wf = workflow(name)
        events = lab.astream(wf, **run_kwargs(body))
        try:
            first = await anext(events)  # input errors become a JSON status, not a stream
        except WorkflowRunError as exc:
            return _run_failure(exc, error)

        async def sse() -> AsyncIterator[str]:
            yield _sse(*first)
            try:
                async for event, data in events:
                    yield _sse(event, data.to_dict() if event == "end" else data)
            except WorkflowRunError as exc:
                yield _sse("error", {"error": exc.message, "status": 500, "node": exc.node})

        return StreamingResponse(
            sse(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/sessions", responses=_ERRORS, tags=["sessions"])
    async def list_sessions(
        _: Auth,
        workflow_name: Annotated[str | None, Query(alias="workflow", pattern=NAME_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> dict[str, Any]:
        """Threads, most recently updated first."""
        threads = await lab.sessions.athreads(workflow_name, limit=limit, offset=offset)
        total = await lab.sessions.acount_threads(workflow_name)
        return {"threads": [t.to_dict() for t in threads], "total": total}

    @app.get(
        "/sessions/{thread_id}",
        response_model=SessionResponse,
        responses=_ERRORS,
        tags=["sessions"],
    )
    async def get_session(thread_id: ThreadId, _: Auth) -> dict[str, Any]:
        """A thread's checkpoint count, times, workflow and latest state."""
        info = await lab.sessions.athread(thread_id)
        if info is None:
            raise HTTPException(404, f"thread {thread_id!r} not found")
        state = await lab.sessions.astate(thread_id)
        data = info.to_dict()
        return {
            **data,
            "latest_checkpoint_id": data.pop("last_checkpoint_id"),
            "latest_state": to_jsonable(state),
        }

    @app.get(
        "/sessions/{thread_id}/checkpoints",
        response_model=CheckpointPage,
        responses=_ERRORS,
        tags=["sessions"],
    )
    async def get_checkpoints(
        thread_id: ThreadId,
        _: Auth,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        before: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> dict[str, Any]:
        """A page of the thread's checkpoints, newest first; follow ``next_before``."""
        page = await lab.sessions.ahistory(thread_id, limit=limit, before=before)
        if not page and before is None:
            raise HTTPException(404, f"thread {thread_id!r} not found")
        return {
            "thread_id": thread_id,
            "checkpoints": [c.to_dict() for c in page],
            "next_before": page[-1].checkpoint_id if len(page) == limit else None,
        }

    @app.delete("/sessions/{thread_id}", status_code=204, responses=_ERRORS, tags=["sessions"])
    async def delete_session(thread_id: ThreadId, _: Auth) -> None:
        """Delete a thread and all its checkpoints."""
        if await lab.sessions.athread(thread_id) is None:
            raise HTTPException(404, f"thread {thread_id!r} not found")
        await lab.sessions.adelete(thread_id)

    return app


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return request.headers.get("x-api-key")


def _limit(limiter: RateLimiter, identity: str) -> None:
    wait = limiter.hit(identity)
    if wait is not None:
        raise HTTPException(
            429, "Too many requests", headers={"Retry-After": limiter.retry_after(wait)}
        )


def _run_failure(exc: WorkflowRunError, error: Any) -> JSONResponse:
    if isinstance(exc, WorkflowInputError):
        return error(422, exc.message, {"hint": exc.hint})
    return error(500, exc.message, {"node": exc.node})


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(to_jsonable(data), ensure_ascii=False)}\n\n"
