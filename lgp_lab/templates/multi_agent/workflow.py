"""__WORKFLOW_NAME__: a 3-agent pipeline, research → write → review (template: multi_agent).

Run it:
    lgp-lab run __WORKFLOW_NAME__ --input '{"task": "Document what app.py does"}'

Three agents work on ``repositories/sample_repo``; each keeps its own session id in the
state (``researcher_session_id``, ``writer_session_id``, ``reviewer_session_id``), so a
second run on the same ``--thread`` continues every role's conversation. Agents use
``"auto"``: Ollama when enabled and reachable, otherwise Claude Code through the mesh
(its offline echo backend when the ``claude`` CLI is not installed, saying so).

Customize:
- State schema: one ``<role>_output`` and ``<role>_session_id`` per role.
- Node logic: each agent's ``prompt`` is a template filled from the state.
- Adding nodes: append a role to ``ROLES`` with its prompt; the chain is wired in order.
- Switching provider: replace ``"auto"`` with ``"ollama"`` or ``"claude_code"``, or set
  a per-role ``provider_config``.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from lgp_lab.agents import create_agent_node

REPOSITORY = "sample_repo"
# The task when a run gives neither a task nor an input text.
EXAMPLE_TASK = "Document what app.py does"
ROLES = {
    "researcher": "Research this task in the repository and list the facts that matter: {task}",
    "writer": "Task: {task}\nFacts:\n{researcher_output}\nWrite the result.",
    "reviewer": "Review this draft for the task '{task}' and list fixes:\n{writer_output}",
}


class State(TypedDict, total=False):
    input: str
    task: str
    researcher_output: str
    researcher_session_id: str
    writer_output: str
    writer_session_id: str
    reviewer_output: str
    reviewer_session_id: str
    output: str


def prepare(state: State) -> State:
    """The task: ``task``, else ``input`` (what ``--input TEXT`` sends, and what
    ``lgp-lab run`` says it sends without one), else an example task."""
    return {"task": state.get("task") or state.get("input") or EXAMPLE_TASK}


def publish(state: State) -> State:
    """The reviewed draft, as the workflow's output."""
    return {
        "output": f"{state.get('writer_output', '')}\n\nReview: {state.get('reviewer_output', '')}"
    }


workflow = StateGraph(State)
workflow.add_node("prepare", prepare)
workflow.add_edge(START, "prepare")
previous = "prepare"
for role, prompt in ROLES.items():
    workflow.add_node(
        role,
        create_agent_node("auto", {"role": role, "prompt": prompt}, {"repository": REPOSITORY}),
    )
    workflow.add_edge(previous, role)
    previous = role
workflow.add_node("publish", publish)
workflow.add_edge(previous, "publish")
workflow.add_edge("publish", END)
