"""The FastAPI app: thin routes over a Lab's workflows and sessions.

Every error is JSON ``{"error": ..., "status": N}``; a workflow's own failure is a 500
naming the node, with no traceback or server internals.
"""

import asyncio
import logging
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from lgp_lab._version import __version__
from lgp_lab.errors import LgpError, WorkflowInputError, WorkflowRunError
from lgp_lab.jsonable import json_bytes, to_jsonable
from lgp_lab.server.agent_api import (
    ApiError,
    api_error_response,
    build_public_router,
    build_routers,
)
from lgp_lab.server.cors import OriginPolicy, add_cors
from lgp_lab.server.events import EventStream, RunEvents
from lgp_lab.server.limits import BodyLimit, HeadAsGet
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
from lgp_lab.server.responses import SafeJSONResponse
from lgp_lab.server.security import ApiKeys, RateLimiter

__all__ = ["SafeJSONResponse", "create_app"]

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,99}$"
# Offsets past this are never a real page; SQLite integers stop at 2**63 - 1.
MAX_OFFSET = 1_000_000_000
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 404, 413, 422, 429)
}
_RUN_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    400: {"model": ErrorResponse, "description": "Malformed JSON body"},
    500: {"model": ErrorResponse, "description": "The workflow failed (names the node)"},
}
# One server-sent event of /stream (OpenAPI 3.2 `itemSchema`, as FastAPI's own SSE uses).
_SSE_ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["metadata", "updates", "end", "error"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}
_log = logging.getLogger("lgp_lab.server")
_FASTAPI_BODY_ERROR = "There was an error parsing the body"


def create_app(lab: Any, workflows: Sequence[Any], *, descriptions: dict[str, str] | None = None):
    """Build the API for ``workflows`` (Workflow handles of ``lab``).

    The handles are live: a reload (``--watch``, ``%lgp_watch``) is served at once.
    """
    settings = lab.config.server
    keys = ApiKeys(settings.keys())
    limiter = RateLimiter(lab.config.rate_limit_per_minute)
    served = {wf.name: wf for wf in workflows}
    descriptions = descriptions or {}
    max_body = settings.max_body_bytes

    # /docs and /redoc with Swagger UI's and ReDoc's assets served from the package
    # (fastapi-offline ships them): FastAPI's defaults load them from a CDN, a blank page
    # offline and inside most clusters.
    app = FastAPIOffline(
        title="lgp_lab API",
        version=__version__,
        description="LangGraph workflows with persistent threads, served by lgp_lab.",
        default_response_class=SafeJSONResponse,
    )

    # ------------------------------------------------------------------ errors

    def error(status: int, message: str, detail: Any = None, headers: dict | None = None):
        body: dict[str, Any] = {"error": message, "status": status}
        if detail is not None:
            body["detail"] = detail
        return SafeJSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 405:
            # Starlette names only the first matching route's methods; list them all.
            allowed = _allowed_methods(app, request)
            if request.method == "OPTIONS":
                return Response(status_code=204, headers={"Allow": allowed})
            return error(405, f"Method {request.method} not allowed", headers={"Allow": allowed})
        if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_ERROR:
            # FastAPI's catch-all for a body json.loads gave up on (e.g. nested too deep).
            return error(400, "Malformed JSON body: it cannot be parsed (too deeply nested?)")
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError):
        problems = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        if any(p["type"] == "json_invalid" for p in problems):
            return error(400, "Malformed JSON body", problems)
        return error(422, "Invalid request: " + _summary(problems), problems)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError):
        return api_error_response(exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error(500, "Internal server error")

    # ------------------------------------------------------------------ auth

    async def _open(request: Request) -> str:
        identity = f"addr:{_client(request)}"
        _limit(limiter, identity)
        return identity

    bearer_scheme = HTTPBearer(
        auto_error=False, scheme_name="bearer", description="Authorization: Bearer <API key>"
    )
    header_scheme = APIKeyHeader(
        name="X-API-Key",
        auto_error=False,
        scheme_name="apiKey",
        description="X-API-Key: <API key> (what the official langgraph_sdk sends)",
    )

    async def _keyed(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        header_key: Annotated[str | None, Depends(header_scheme)],
    ) -> str:
        presented = bearer.credentials.strip() if bearer else header_key
        identity = keys.check(presented)  # constant time, whatever the key
        if identity is None:
            # Failed attempts are limited per address, against key guessing.
            _limit(limiter, f"addr:{_client(request)}")
            raise HTTPException(401, "Unauthorized", headers={"WWW-Authenticate": "Bearer"})
        _limit(limiter, identity)
        return identity

    # The OpenAPI document declares the key schemes only when a key is required.
    authorize = _keyed if keys.enabled else _open
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
        kwargs: dict[str, Any] = {"thread_id": body.thread_id}
        if "resume" in body.model_fields_set:
            kwargs["resume"] = body.resume
        else:
            kwargs["input"] = body.input
        if body.context is not None:
            kwargs["context"] = body.context
        if body.config is not None:
            kwargs["config"] = body.config.to_runnable()
        return kwargs

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
        responses=_RUN_ERRORS,
        tags=["workflows"],
    )
    async def invoke(name: Name, body: InvokeRequest, _: Auth):
        """Run the workflow once on a thread and return its final state.

        The body needs ``input``, or ``resume`` with the ``thread_id`` of an
        interrupted thread; ``context`` and ``config`` are passed to LangGraph.
        """
        wf = workflow(name)
        try:
            result = await lab.arun(wf, **run_kwargs(body))
        except LgpError as exc:
            return _run_failure(exc, error, body)
        return {**result.to_dict(), "duration_ms": round(result.duration_s * 1000, 3)}

    @app.post(
        "/workflows/{name}/stream",
        response_class=EventStream,
        responses={
            **{code: _json_error(spec) for code, spec in _RUN_ERRORS.items()},
            200: {
                "content": {"text/event-stream": {"itemSchema": _SSE_ITEM}},
                "description": "Server-sent events: metadata, updates..., end | error",
            },
        },
        tags=["workflows"],
    )
    async def stream(name: Name, body: InvokeRequest, _: Auth):
        """Run the workflow, sending server-sent events: ``metadata``, one ``updates`` per
        node step, then ``end`` (the result) or ``error``.

        The run has a task of its own: a client that disconnects cancels it (its trace
        ends as ``cancelled``; checkpoints written so far stay). The body is as for
        ``invoke``; input errors are a JSON 422 before the stream starts.
        """
        wf = workflow(name)
        run = RunEvents(lab.astream(wf, **run_kwargs(body)))
        try:
            first = await run.first()  # input errors become a JSON status, not a stream
        except LgpError as exc:
            await run.aclose()
            return _run_failure(exc, error, body)
        except BaseException:
            await run.aclose()
            raise
        return EventStream(run, first, encode=_sse, status_of=lambda exc: run_status(exc, body))

    @app.get("/sessions", responses=_ERRORS, tags=["sessions"])
    async def list_sessions(
        _: Auth,
        workflow_name: Annotated[str | None, Query(alias="workflow", pattern=NAME_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
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
        """A thread's status (idle, interrupted, error), its pending interrupts, checkpoint
        count, times, workflow and latest state."""
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

    # The LangGraph Agent Server API (langgraph_sdk, RemoteGraph, Agent Chat UI). Its
    # routers are made with what include_router would add (the dependency first, the
    # app's response class and overrides) and their finished routes are taken as they
    # are: FastAPI (>= 0.16x) builds an included router's routes a second time, and the
    # ~60 builds (signatures, pydantic adapters) are most of create_app's time.
    def routes_of(*routers: APIRouter) -> None:
        for router in routers:
            app.router.routes.extend(router.routes)

    def options(dependency: Any) -> dict[str, Any]:
        return {
            "dependencies": [Depends(dependency)],
            "default_response_class": SafeJSONResponse,
            "dependency_overrides_provider": app,
        }

    routes_of(build_public_router(lab, served, **options(_open)))
    routes_of(*build_routers(lab, served, **options(authorize)))
    # Production: GET /metrics, and the error-rate watch that rolls a bad version back.
    from lgp_lab.runtime.anomaly import watch_anomalies
    from lgp_lab.server.metrics import mount_metrics

    mount_metrics(app, lab, served, authorize=authorize)
    watch_anomalies(lab)
    _build_included_routes(app.router.routes)

    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        spec = default_openapi()
        # FastAPI gives a non-JSON response class a plain `string` schema; the stream's
        # events are described by `itemSchema` alone (one object per event).
        ok = spec["paths"]["/workflows/{name}/stream"]["post"]["responses"]["200"]
        ok["content"]["text/event-stream"].pop("schema", None)
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
    # With the Agent Server routes the document takes ~0.3 s to build: off the engine
    # loop (FastAPI's own /openapi.json route would build it on the loop).
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", "") != "/openapi.json"]

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_json() -> SafeJSONResponse:
        return SafeJSONResponse(await asyncio.to_thread(app.openapi))

    # Outermost: a too-large body is refused before routing, chunked or not.
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodyLimit, max_body=max_body, reject=_too_large_body(max_body))
    # Browser clients on other origins (CORS, JSON sent as text/plain): outermost.
    add_cors(
        app, OriginPolicy(settings.allowed_origins(lab.environment)), settings.cors_expose_headers
    )
    return app


def _build_included_routes(routes: list[Any]) -> None:
    """Build included routers' routes now, on the caller's thread: FastAPI (>= 0.16x)
    builds them at their first request, 0.1-0.3 s of pydantic work on the engine loop."""
    for route in routes:
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            _build_included_routes(candidates())


def _json_error(spec: dict[str, Any]) -> dict[str, Any]:
    # A route whose own media type is text/event-stream still answers errors in JSON.
    out = {k: v for k, v in spec.items() if k != "model"}
    out.setdefault("description", "Error")
    out["content"] = {
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}
    }
    return out


def _client(request: Request) -> str:
    # With proxy headers off (the default) this is the TCP peer; a trusted proxy's
    # X-Forwarded-For sets it only when server.forwarded_allow_ips names that proxy.
    return request.client.host if request.client else "unknown"


def _allowed_methods(app: FastAPI, request: Request) -> str:
    scope = {**request.scope, "type": "http"}
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods | {"OPTIONS"}))


def _summary(problems: list[dict[str, Any]]) -> str:
    parts = []
    for p in problems[:3]:
        loc = ".".join(str(x) for x in p["loc"] if x != "body") or "body"
        parts.append(f"{loc}: {p['msg']}")
    return "; ".join(parts)


def _limit(limiter: RateLimiter, identity: str) -> None:
    wait = limiter.hit(identity)
    if wait is not None:
        raise HTTPException(
            429, "Too many requests", headers={"Retry-After": limiter.retry_after(wait)}
        )


def run_status(exc: LgpError, body: InvokeRequest | None = None) -> int:
    """The HTTP status of a failed run: 422 when the request caused it, else 500."""
    if isinstance(exc, WorkflowInputError):
        return 422
    if isinstance(exc, WorkflowRunError):
        # LangGraph's `__start__` step only writes the input into the state channels:
        # when it fails, the input did not fit the graph.
        if exc.node == "__start__":
            return 422
        # A recursion_limit the client set, too low for the graph.
        if (
            type(exc.__cause__).__name__ == "GraphRecursionError"
            and body is not None
            and body.config is not None
            and body.config.recursion_limit is not None
        ):
            return 422
    return 500


def _run_failure(exc: LgpError, error: Any, body: InvokeRequest | None = None) -> JSONResponse:
    status = run_status(exc, body)
    if status == 422 or not isinstance(exc, WorkflowRunError):
        return error(status, exc.message, {"hint": exc.hint} if exc.hint else None)
    return error(500, exc.message, {"node": exc.node})


def _too_large_body(max_body: int) -> bytes:
    return _json_bytes({"error": f"Request body over {max_body} bytes", "status": 413})


def _json_bytes(content: Any, *, compact: bool = True) -> bytes:
    return json_bytes(content, compact=compact)


def _sse(event: str, data: Any) -> bytes:
    if event == "end" and hasattr(data, "to_dict"):
        data = data.to_dict()
    payload = _json_bytes(to_jsonable(data), compact=False)
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"
