"""How the mesh answers a task inside one repository.

- ``echo``: offline and deterministic, from the repository's file listing (first runs,
  tests, machines with no LLM); it says that it is offline.
- ``claude``: the ``claude`` CLI in print mode, run with the repository as its working
  directory, resuming the session's Claude conversation.
- ``llm``: an OpenAI-compatible chat model (Ollama by default) with two tools,
  ``list_files`` and ``read_file``, both confined to the repository.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgp_lab.agents.mesh.repos import RepositoryError, list_files, safe_path

__all__ = [
    "Backend",
    "BackendError",
    "ClaudeCliBackend",
    "EchoBackend",
    "LLMBackend",
    "MeshSession",
    "make_backend",
]


class BackendError(RuntimeError):
    """The backend could not answer; the message says why and what to do."""


@dataclass
class MeshSession:
    """A conversation bound to one repository."""

    session_id: str
    repository: str
    turns: list[tuple[str, str]] = field(default_factory=list)
    backend_session: str | None = None  # e.g. Claude's own session id
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)


class Backend(ABC):
    """Answers one task in one repository, continuing ``session``."""

    name: str

    @abstractmethod
    async def run(self, repo: Path, task: str, session: MeshSession) -> str:
        """The answer text."""

    @classmethod
    def from_options(cls, **options: Any) -> Backend:
        """The backend for ``lgp-lab mesh`` options (``claude_command``, ``llm_model``, ...).

        Backends registered under the ``lgp_lab.mesh_backends`` entry point are built
        through this; override it to read the options a backend needs.
        """
        return cls()


class EchoBackend(Backend):
    """Offline: describes the repository and the task; no model is called."""

    name = "echo"

    async def run(self, repo: Path, task: str, session: MeshSession) -> str:
        files = list_files(repo, limit=50)
        shown = ", ".join(files[:20]) + (f", … (+{len(files) - 20})" if len(files) > 20 else "")
        lines = [
            "[offline echo backend: no LLM was called]",
            f"Repository {session.repository!r}, turn {len(session.turns) + 1} of session "
            f"{session.session_id}.",
            f"Task: {task}",
            f"Files ({len(files)}): {shown or '(empty)'}",
        ]
        if session.turns:
            earlier = "; ".join(t for t, _ in session.turns[-3:])
            lines.append(f"Earlier tasks in this session: {earlier}")
        return "\n".join(lines)


class ClaudeCliBackend(Backend):
    """``claude -p TASK --output-format json [--resume ID]`` inside the repository."""

    name = "claude"

    def __init__(self, command: str = "claude", timeout_s: float = 600.0) -> None:
        self.command = command
        self.timeout_s = timeout_s

    @classmethod
    def from_options(cls, **options: Any) -> Backend:
        return cls(command=options.get("claude_command") or "claude")

    async def run(self, repo: Path, task: str, session: MeshSession) -> str:
        args = [self.command, "-p", task, "--output-format", "json"]
        if session.backend_session:
            args += ["--resume", session.backend_session]
        try:
            proc = await asyncio.create_subprocess_exec(
                *args,
                cwd=repo,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise BackendError(
                f"the claude CLI ({self.command!r}) is not installed; install Claude Code or "
                "start the mesh with --backend echo"
            ) from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout_s)
        except TimeoutError:
            proc.kill()
            raise BackendError(f"claude did not answer within {self.timeout_s:.0f}s") from None
        if proc.returncode != 0:
            tail = err.decode(errors="replace").strip()[-500:]
            raise BackendError(f"claude exited with {proc.returncode}: {tail or '(no stderr)'}")
        try:
            data = json.loads(out)
        except ValueError:
            return out.decode(errors="replace").strip()
        session.backend_session = data.get("session_id") or session.backend_session
        if data.get("is_error"):
            raise BackendError(f"claude reported an error: {data.get('result')}")
        return str(data.get("result", ""))


_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "list_files",
            "description": "List the files of the repository (relative paths).",
            "parameters": {"type": "object", "properties": {}},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a text file of the repository.",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string", "description": "relative path"}},
                "required": ["path"],
            },
        },
    },
]


class LLMBackend(Backend):
    """An OpenAI-compatible chat model whose file tools cannot leave the repository."""

    name = "llm"
    max_rounds = 6

    def __init__(
        self,
        base_url: str = "http://localhost:11434/v1",
        model: str = "llama3.2",
        api_key: str = "ollama",
        timeout_s: float = 120.0,
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s
        self._client: Any = None

    @classmethod
    def from_options(cls, **options: Any) -> Backend:
        return cls(
            base_url=options.get("llm_base_url") or "http://localhost:11434/v1",
            model=options.get("llm_model") or "llama3.2",
        )

    async def run(self, repo: Path, task: str, session: MeshSession) -> str:
        from lgp_lab.extras import MissingExtraError, require_extra

        try:
            require_extra("openai", "agents", "the mesh's llm backend")
        except MissingExtraError as exc:
            raise BackendError(exc.message) from None
        import openai

        if self._client is None:
            from lgp_lab.agents.openai_client import openai_client

            self._client = openai_client(self.base_url, self.api_key, timeout_s=self.timeout_s)
        messages: list[dict[str, Any]] = [
            {
                "role": "system",
                "content": f"You work inside the repository {session.repository!r} only. "
                "Use the tools to inspect its files, then answer the task concisely.",
            }
        ]
        for past_task, past_answer in session.turns:
            messages += [
                {"role": "user", "content": past_task},
                {"role": "assistant", "content": past_answer},
            ]
        messages.append({"role": "user", "content": task})
        for _ in range(self.max_rounds):
            try:
                response = await self._client.chat.completions.create(
                    model=self.model, messages=messages, tools=_TOOLS
                )
            except (openai.APIConnectionError, openai.APITimeoutError):
                raise BackendError(
                    f"LLM not reachable at {self.base_url}; start `ollama serve` or pass "
                    "--llm-base-url"
                ) from None
            message = response.choices[0].message
            calls = message.tool_calls or []
            if not calls:
                return message.content or ""
            messages.append(
                {
                    "role": "assistant",
                    "content": message.content or "",
                    "tool_calls": [c.model_dump() for c in calls],
                }
            )
            for call in calls:
                messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": _tool(repo, call)}
                )
        raise BackendError(f"the model kept calling tools for {self.max_rounds} rounds")


def _tool(repo: Path, call: Any) -> str:
    name = call.function.name
    try:
        args = json.loads(call.function.arguments or "{}")
    except ValueError:
        return "error: arguments are not valid JSON"
    try:
        if name == "list_files":
            return "\n".join(list_files(repo))
        if name == "read_file":
            path = safe_path(repo, str(args.get("path", "")))
            if not path.is_file():
                return f"error: no file {args.get('path')!r}"
            return path.read_text(encoding="utf-8", errors="replace")[:20_000]
    except RepositoryError as exc:
        return f"error: {exc}"
    return f"error: unknown tool {name!r}"


def make_backend(name: str, **options: Any) -> Backend:
    """A backend by name; ``auto`` is the claude CLI when installed, else ``echo``.

    Names come from the ``lgp_lab.mesh_backends`` entry points (the built-ins ``echo``,
    ``claude`` and ``llm`` are registered there too).

    Raises:
        ValueError: An unknown name; the message lists the known ones.
    """
    from lgp_lab.agents.registry import mesh_backends

    if name == "auto":
        name = "claude" if shutil.which(options.get("claude_command") or "claude") else "echo"
    backends = mesh_backends()
    if name not in backends:
        known = ", ".join(["auto", *sorted(backends)])
        raise ValueError(f"unknown mesh backend {name!r}; known: {known}")
    return backends[name].from_options(**options)
