"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/http.mts``: the custom HTTP app
(``langgraph.json``'s ``http.app``). Not ``http.py``: with the project folder on
``sys.path`` that name would shadow the standard library's ``http`` package.

Two middlewares (an ``?interrupt`` short-cut plus an ``x-js-middleware`` response header
on every route, and copying the ``x-configurable-header`` request header into a run
request's ``config.configurable``) and a few custom routes. Both middlewares are plain
ASGI, so the API's SSE streams pass through unbuffered.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The last body POSTed to /custom/webhook (the run webhook the suite sets).
_WEBHOOK_PAYLOAD: dict[str, Any] | None = None

# The run-creating routes whose body the header middleware edits (the JS regex).
_RUNS_PATH = re.compile(
    r"^(/runs(/stream|/wait)?$|/runs/batch$|/threads/[^/]+/runs(/stream|/wait)?)$"
)


class InterruptMiddleware:
    """``?interrupt`` answers ``{"status": "interrupted"}``; every other response gets
    ``x-js-middleware: true``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode(), keep_blank_values=True)
        if "interrupt" in query:
            await JSONResponse({"status": "interrupted"})(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("x-js-middleware", "true")
            await send(message)

        await self.app(scope, receive, send_marked)


class ConfigurableHeaderMiddleware:
    """On a run request carrying ``x-configurable-header``, set
    ``config.configurable["x-configurable-header"]`` in the JSON body (if unset)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not _RUNS_PATH.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        headers = MutableHeaders(scope=scope)
        value = headers.get("x-configurable-header")
        if value is None:
            await self.app(scope, receive, send)
            return

        # Read the whole body (bounded by the server's own body limit), edit, replay.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = json.loads(b"".join(chunks) or b"{}")
        config = body.get("config") or {}
        configurable = config.get("configurable") or {}
        configurable.setdefault("x-configurable-header", value)
        config["configurable"] = configurable
        body["config"] = config
        edited = json.dumps(body).encode()
        headers["content-length"] = str(len(edited))
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": edited, "more_body": False}
            return await receive()  # then whatever follows (a disconnect)

        await self.app(scope, replay, send)


async def custom_client(request: Request) -> Response:
    """A run through the SDK from inside the server (``get_client()`` without a URL)."""
    from langgraph_sdk import get_client

    result = await get_client().runs.wait(
        None, "agent_simple", input={"messages": [{"role": "human", "content": "input"}]}
    )
    return JSONResponse({"result": result})


async def my_route(request: Request) -> Response:
    """Echo ``x-custom-input`` as ``x-custom-output``."""
    return JSONResponse(
        {"foo": "bar"},
        headers={"x-custom-output": request.headers.get("x-custom-input", "")},
    )


async def fake_runs_route(request: Request) -> Response:
    """A custom route under the API's own ``/runs`` prefix."""
    return JSONResponse({"foo": "afakeroute"})


async def custom_error(request: Request) -> Response:
    """A 400 raised from a handler."""
    raise HTTPException(400, "Bad request")


async def custom_streaming(request: Request) -> Response:
    """Four lines, flushed one at a time."""

    async def lines() -> AsyncIterator[str]:
        for i in range(4):
            yield f"Count: {i}\n"
            await asyncio.sleep(0.01)

    return StreamingResponse(lines(), media_type="text/plain")


async def webhook(request: Request) -> Response:
    """Keep the webhook's payload for /custom/webhook-payload."""
    global _WEBHOOK_PAYLOAD
    _WEBHOOK_PAYLOAD = await request.json()
    return JSONResponse({"status": "success"})


async def webhook_payload(request: Request) -> Response:
    """The last webhook payload (``null`` before any)."""
    return JSONResponse(_WEBHOOK_PAYLOAD)


app = Starlette(
    routes=[
        Route("/custom/client", custom_client),
        Route("/custom/my-route", my_route),
        Route("/runs/afakeroute", fake_runs_route),
        Route("/custom/error", custom_error),
        Route("/custom/streaming", custom_streaming),
        Route("/custom/webhook", webhook, methods=["POST"]),
        Route("/custom/webhook-payload", webhook_payload),
    ],
    # Listed outermost first, as the JS app's .use() calls.
    middleware=[Middleware(InterruptMiddleware), Middleware(ConfigurableHeaderMiddleware)],
)
