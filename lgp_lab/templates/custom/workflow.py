"""__WORKFLOW_NAME__: a minimal skeleton to build your own workflow on (template: custom).

Run it:
    lgp-lab run __WORKFLOW_NAME__ --input "hello"

Customize:
- State schema: declare every key your nodes read or write in ``State``. Keys that should
  accumulate across steps or runs get a reducer (``Annotated[list, operator.add]``).
- Node logic: a node is a function (sync or async) taking the state and returning a
  partial update: only the keys it changes.
- Adding nodes: ``workflow.add_node("name", fn)``, then edges; branch with
  ``workflow.add_conditional_edges("node", choose_next, ["a", "b"])``.
- Switching provider: for LLM steps use ``lgp_lab.agents.create_agent_node(...)``
  (``"auto"``, ``"ollama"`` or ``"claude_code"``).
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    input: str  # what the caller sends: --input "text" becomes {"input": "text"}
    output: str  # what the workflow answers


def step(state: State) -> State:
    """Replace this with your logic."""
    return {"output": f"received: {state.get('input', '')}"}


workflow = StateGraph(State)  # lgp_lab compiles it with its SQLite checkpointer
workflow.add_node("step", step)
workflow.add_edge(START, "step")
workflow.add_edge("step", END)
