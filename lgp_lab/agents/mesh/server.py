"""The mesh MCP server: ``mesh_execute`` runs a task inside one repository under the root.

Sessions continue a conversation (``session_id``) and belong to exactly one repository.
Calls on different sessions run concurrently; calls on one session run in order. Every
refusal is an MCP error result whose text says why.
"""

# No `from __future__ import annotations`: MCP evaluates the tools' annotations, which
# name types imported inside build_server().
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from lgp_lab.agents.mesh.backends import Backend, BackendError, MeshSession
from lgp_lab.agents.mesh.repos import RepositoryError, list_repositories, resolve_repository

__all__ = ["build_server", "serve_stdio"]


def build_server(root: Path, backend: Backend) -> Any:
    """The MCP server for repositories under ``root``, answering through ``backend``."""
    from lgp_lab.extras import require_extra

    require_extra("mcp", "agents", "the mesh server")
    from mcp.server.mcpserver import MCPServer
    from mcp.types import CallToolResult, TextContent

    root = root.resolve()
    sessions: dict[str, MeshSession] = {}
    server = MCPServer(
        "lgp-mesh",
        instructions="Run tasks inside isolated repositories: list_repositories, then "
        "mesh_execute(repository, task, session_id) to start or continue a session.",
    )
    server.sessions = sessions  # type: ignore[attr-defined]  # for shutdown reporting

    def refuse(reason: str) -> CallToolResult:
        return CallToolResult(content=[TextContent(type="text", text=reason)], isError=True)

    @server.tool(name="list_repositories")
    def list_repositories_tool() -> dict[str, Any]:
        """The repositories (directories directly under the mesh root) and the backend."""
        return {"repositories": list_repositories(root), "backend": backend.name}

    @server.tool()
    async def mesh_execute(
        repository: str, task: str, session_id: str | None = None
    ) -> CallToolResult:
        """Run TASK inside REPOSITORY; pass the returned session_id to continue."""
        try:
            repo = resolve_repository(root, repository)
        except RepositoryError as exc:
            return refuse(str(exc))
        if not task or not task.strip():
            return refuse("task is empty; say what to do in the repository")
        if session_id:
            session = sessions.get(session_id)
            if session is None:
                return refuse(
                    f"unknown session {session_id!r} (sessions end when the mesh restarts); "
                    "omit session_id to start a new one"
                )
            if session.repository != repository:
                return refuse(
                    f"session {session_id!r} belongs to repository {session.repository!r}, not "
                    f"{repository!r}; sessions never cross repositories"
                )
        else:
            session = MeshSession(f"mesh-{uuid.uuid4().hex[:12]}", repository)
            sessions[session.session_id] = session
        async with session.lock:  # one turn at a time per session
            try:
                answer = await backend.run(repo, task, session)
            except BackendError as exc:
                return refuse(f"{backend.name} backend failed: {exc}")
            session.turns.append((task, answer))
        data = {
            "repository": repository,
            "session_id": session.session_id,
            "turn": len(session.turns),
            "backend": backend.name,
            "output": answer,
        }
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(data))], structuredContent=data
        )

    @server.tool()
    def mesh_status() -> dict[str, Any]:
        """The server's process id, backend and open sessions per repository."""
        per_repo: dict[str, int] = {}
        for session in sessions.values():
            per_repo[session.repository] = per_repo.get(session.repository, 0) + 1
        return {"pid": os.getpid(), "backend": backend.name, "sessions": per_repo}

    return server


def serve_stdio(root: Path, backend: Backend) -> None:
    """Serve over stdio until the client closes; report the sessions closed on stderr."""
    server = build_server(root, backend)
    print(
        f"[lgp-mesh] serving {root} ({len(list_repositories(root))} repositories, "
        f"backend {backend.name}) over stdio",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.run("stdio")
    finally:
        count = len(server.sessions)
        server.sessions.clear()
        print(f"[lgp-mesh] shutdown: closed {count} sessions", file=sys.stderr, flush=True)
