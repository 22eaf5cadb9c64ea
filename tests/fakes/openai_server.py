"""A stand-in for Ollama's OpenAI-compatible API: ``POST /v1/chat/completions``.

It answers with the real chat-completions wire format (choices, message, usage,
tool_calls), so the official ``openai`` SDK is exercised end to end with no model.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = Callable[[dict[str, Any]], "str | dict[str, Any]"]


def optimize_evaluate_reply(request: dict[str, Any]) -> str:
    """The writer drafts; the validator asks for one revision, then approves."""
    last = request["messages"][-1]["content"]
    if last.startswith("Evaluate"):
        return "APPROVED" if "Draft 2" in last else "Add a concrete example."
    drafts = 2 if "Reviewer feedback" in last else 1
    return f"Draft {drafts}: checkpoints persist every step of a thread."


class FakeOpenAI:
    """``with FakeOpenAI(reply) as server:``; ``server.base_url`` ends in ``/v1``."""

    def __init__(self, reply: Reply | None = None) -> None:
        self.reply = reply or (lambda req: "ok")
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                outer.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": {"message": "not found"}})
                answer = outer.reply(body)
                message: dict[str, Any] = {"role": "assistant", "content": None}
                if isinstance(answer, dict):
                    message.update(answer)
                else:
                    message["content"] = answer
                prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
                completion = len(str(message.get("content") or "").split())
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-{len(outer.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": message,
                                "finish_reason": "tool_calls"
                                if message.get("tool_calls")
                                else "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": completion,
                            "total_tokens": prompt + completion,
                        },
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
