"""Browser clients: CORS for the configured origins, and JSON sent as ``text/plain``.

Agent Chat UI and LangGraph Studio post JSON as ``text/plain`` (a "simple" request the
browser sends without a preflight). That is accepted as JSON only from an allowed
origin (``server.cors_origins``) or from no browser at all; a write from any other
origin is refused with a 403, so a web page the user happens to open cannot drive a
local server through the user's browser.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["BrowserRequests", "OriginPolicy", "add_cors"]

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class OriginPolicy:
    """Which browser origins may call the API: exact origins, ``*`` (any), or patterns
    with ``*`` inside (``http://localhost:*``, ``https://*.example.com``)."""

    def __init__(self, origins: list[str]) -> None:
        self.any = "*" in origins
        self.exact = [o.rstrip("/") for o in origins if "*" not in o]
        patterns = [_pattern(o.rstrip("/")) for o in origins if "*" in o and o != "*"]
        self.regex = "|".join(patterns) or None
        self._compiled = re.compile(self.regex) if self.regex else None

    def allows(self, origin: str) -> bool:
        """Whether a browser page at ``origin`` may call the API."""
        if self.any or origin in self.exact:
            return True
        return bool(self._compiled and self._compiled.fullmatch(origin))


def add_cors(app: Any, policy: OriginPolicy, expose: list[str]) -> None:
    """Answer preflights and add CORS headers for the allowed origins (outermost)."""
    from starlette.middleware.cors import CORSMiddleware

    app.add_middleware(BrowserRequests, policy=policy)
    if not (policy.any or policy.exact or policy.regex):
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if policy.any else policy.exact,
        allow_origin_regex=None if policy.any else policy.regex,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=expose,
        max_age=600,
    )


class BrowserRequests:
    """ASGI middleware: refuse writes from origins that are not allowed, and read a
    ``text/plain`` body from an allowed one as JSON."""

    def __init__(self, app: Any, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in _WRITES:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        # "null" (a sandboxed frame, a file:// page) passes only if listed or "*".
        if origin and not self._same_host(origin, headers) and not self.policy.allows(origin):
            await _refuse(send, origin)
            return
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if kind == b"text/plain":
            scope = {
                **scope,
                "headers": [
                    (k, b"application/json") if k == b"content-type" else (k, v)
                    for k, v in scope["headers"]
                ],
            }
        await self.app(scope, receive, send)

    @staticmethod
    def _same_host(origin: str, headers: dict[bytes, bytes]) -> bool:
        # A page served by this server itself (/docs) posts with its own origin.
        host = headers.get(b"host", b"").decode("latin-1")
        return bool(host) and origin.split("://", 1)[-1] == host


async def _refuse(send: Any, origin: str) -> None:
    message = f"origin {origin!r} is not allowed to call this API"
    body = json.dumps(
        {
            "detail": message,
            "error": message,
            "status": 403,
            "hint": "add it to server.cors_origins in config/<env>.yaml "
            "(or LGP_CORS_ORIGINS), e.g. https://agentchat.vercel.app",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _pattern(origin: str) -> str:
    return "[^/]*".join(re.escape(part) for part in origin.split("*"))
