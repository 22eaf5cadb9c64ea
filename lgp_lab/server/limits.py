"""Plain ASGI middleware in front of the app: the request-body limit, and HEAD.

A body over ``server.max_body_bytes`` gets a JSON 413, whether the client declared its
size (``Content-Length``) or streams it chunked. Chunked bodies are read here, up to the
limit, and replayed to the app: raising from inside the app's ``receive`` would reach
FastAPI's body parser, which turns any error into a 400.

``HEAD`` is answered as ``GET`` without the body (FastAPI routes only the methods they
declare), so load balancers can probe ``HEAD /health``.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit", "HeadAsGet"]


class BodyLimit:
    """Refuse request bodies over ``max_body`` bytes with the ``reject`` JSON body."""

    def __init__(self, app: ASGIApp, *, max_body: int, reject: bytes) -> None:
        self.app = app
        self.max_body = max_body
        self.reject = reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _header(scope, b"content-length")
        if length is not None:
            # The server frames the body by Content-Length: it can never be longer.
            if length.isdigit() and int(length) > self.max_body:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:  # bounded: stops at the end of the body or past max_body bytes
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body:
                await self._refuse(send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(self.reject)).encode()),
                    # The rest of the body is never read, so the connection cannot be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": self.reject, "more_body": False})


class HeadAsGet:
    """Serve ``HEAD`` as ``GET`` with the same status and headers and no body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value
    return None


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Any:
        if pending:
            return pending.pop(0)
        return await receive()  # later calls: http.disconnect, as the server sends it

    return replayed
