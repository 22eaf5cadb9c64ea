"""Claude Code nodes (plan task R5.2): a LangGraph node that runs a task in one repository
through the mesh's ``mesh_execute`` tool, keeping the role's session across runs."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lgp_lab.errors import LgpError
from lgp_lab.run_context import current_lab, record_span

__all__ = ["AgentError", "create_claude_code_node", "mesh_execute"]


class AgentError(LgpError):
    """An agent call failed (the mesh refused or its backend failed)."""


async def mesh_execute(
    repository: str,
    task: str,
    session_id: str | None = None,
    *,
    mcp_session: Any = None,
    server: str = "mesh",
    span_name: str | None = None,
) -> dict[str, Any]:
    """Call ``mesh_execute`` and return its result (``output``, ``session_id``, ...).

    Uses ``mcp_session`` when given, else the running Lab's MCP server ``server``. The
    call is a span in the run's trace.

    Raises:
        AgentError: The mesh refused (its reason is the message) or is unreachable.
    """
    arguments: dict[str, Any] = {"repository": repository, "task": task}
    if session_id:
        arguments["session_id"] = session_id
    started = time.time()
    name = span_name or f"mesh_execute:{repository}"
    try:
        if mcp_session is not None:
            result = await mcp_session.call_tool("mesh_execute", arguments)
        else:
            lab = current_lab()
            if lab is None:
                raise AgentError(
                    "no MCP session: this node runs outside a Lab",
                    hint="run the workflow with lgp-lab run / Lab.run, or pass mcp_session=",
                )
            result = await lab.mcp.call_tool(server, "mesh_execute", arguments)
    except LgpError as exc:
        record_span(name, started=started, input=arguments, error=exc.message)
        raise
    text = "".join(getattr(c, "text", "") for c in result.content)
    if result.is_error:
        record_span(name, started=started, input=arguments, error=text)
        raise AgentError(f"mesh refused {repository!r}: {text}")
    data = result.structured_content or json.loads(text)
    record_span(name, started=started, input=arguments, output=data)
    return data


def create_claude_code_node(
    role: str,
    repository: str,
    mcp_session: Any = None,
    *,
    server: str = "mesh",
    task_key: str = "task",
) -> Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]:
    """An async node that has Claude Code do ``state[task_key]`` inside ``repository``.

    The node continues the role's session (``state[f"{role}_session_id"]``) and returns
    ``{f"{role}_output": ..., f"{role}_session_id": ...}``.

    Args:
        role: The agent's role, used for state keys and the trace.
        repository: A directory directly under the mesh root.
        mcp_session: An MCP ``ClientSession`` to use; default the Lab's server ``server``.
        server: The MCP server name in ``mcp.servers`` (default ``mesh``).
        task_key: The state key holding the task.
    """

    async def node(state: dict[str, Any]) -> dict[str, Any]:
        task = state.get(task_key)
        if not task:
            raise AgentError(
                f"agent {role!r} needs a task in state[{task_key!r}]",
                hint=f'run the workflow with --input \'{{"{task_key}": "..."}}\'',
            )
        data = await mesh_execute(
            repository,
            str(task),
            state.get(f"{role}_session_id"),
            mcp_session=mcp_session,
            server=server,
            span_name=f"{role}:mesh_execute:{repository}",
        )
        return {f"{role}_output": data["output"], f"{role}_session_id": data["session_id"]}

    node.__name__ = f"{role}_claude_code"
    node.__qualname__ = node.__name__
    return node
