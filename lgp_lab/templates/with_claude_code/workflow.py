"""__WORKFLOW_NAME__: Claude Code nodes over the MCP mesh (template: with_claude_code).

Run it:
    lgp-lab run __WORKFLOW_NAME__ --input '{"task": "Review app.py and suggest one improvement"}'

The ``coder`` node runs the task inside ``repositories/sample_repo`` through
``lgp-lab mesh`` (started and reused by the Lab). With the ``claude`` CLI installed the
mesh uses Claude Code; without it, its offline echo backend answers from the
repository's files and says so. Run again with ``--thread`` to continue the same
Claude Code session (``coder_session_id`` in the state).

Customize:
- State schema: ``State`` holds the task, each role's output and session id.
- Node logic: ``create_claude_code_node(role, repository)`` makes a node; ``report``
  turns its answer into ``output``.
- Adding nodes: add a reviewer with ``create_claude_code_node("reviewer", "sample_repo")``
  and an edge ``coder → reviewer``.
- Switching provider: point ``mcp.servers.mesh`` at another MCP server, start the mesh
  with ``--backend llm`` for Ollama, or use ``create_agent_node("ollama", ...)``.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from lgp_lab.agents import create_claude_code_node

REPOSITORY = "sample_repo"
# The task when a run gives neither a task nor an input text.
EXAMPLE_TASK = "Review app.py and suggest one improvement with a test"


class State(TypedDict, total=False):
    input: str
    task: str
    coder_output: str
    coder_session_id: str
    output: str


def prepare(state: State) -> State:
    """The task: ``task``, else ``input`` (what ``--input TEXT`` sends, and what
    ``lgp-lab run`` says it sends without one), else an example task."""
    return {"task": state.get("task") or state.get("input") or EXAMPLE_TASK}


def report(state: State) -> State:
    """Summarize what the coder did."""
    return {"output": f"[{REPOSITORY}] {state.get('coder_output', '')}"}


workflow = StateGraph(State)
workflow.add_node("prepare", prepare)
workflow.add_node("coder", create_claude_code_node("coder", repository=REPOSITORY))
workflow.add_node("report", report)
workflow.add_edge(START, "prepare")
workflow.add_edge("prepare", "coder")
workflow.add_edge("coder", "report")
workflow.add_edge("report", END)
