"""__WORKFLOW_NAME__: a simple workflow with one agent (template: basic).

Run it:
    lgp-lab run __WORKFLOW_NAME__ --input "Give me three tips for writing LangGraph workflows"

Customize:
- State schema: add fields to ``State`` (use ``typing_extensions.TypedDict``); list
  fields that accumulate across runs of a thread get a reducer, e.g.
  ``Annotated[list[str], operator.add]``.
- Node logic: ``prepare`` shapes the task, ``assistant`` answers it, ``finish`` writes
  ``output``. Edit their bodies or replace them with your own functions.
- Adding nodes: ``workflow.add_node("name", fn)`` then wire it with ``add_edge``.
- Switching provider: the agent uses ``"auto"``: Ollama when
  ``llm_providers.ollama.enabled`` is true and reachable, otherwise an offline
  placeholder that says so. Pass ``"ollama"`` or ``"claude_code"`` to pin one.
"""

from __future__ import annotations

import operator
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from lgp_lab.agents import create_agent_node


class State(TypedDict, total=False):
    input: str
    task: str
    assistant_output: str
    output: str
    history: Annotated[list[str], operator.add]


def prepare(state: State) -> State:
    """Turn the user's input into the agent's task."""
    return {"task": state.get("input", "").strip() or "Say hello"}


assistant = create_agent_node(
    "auto",
    {
        "role": "assistant",
        "system": "You are a concise, helpful assistant.",
        "prompt": "{task}",
    },
)


def finish(state: State) -> State:
    """Publish the answer and remember it on the thread."""
    answer = state.get("assistant_output", "")
    return {"output": answer, "history": [answer]}


workflow = StateGraph(State)
workflow.add_node("prepare", prepare)
workflow.add_node("assistant", assistant)
workflow.add_node("finish", finish)
workflow.add_edge(START, "prepare")
workflow.add_edge("prepare", "assistant")
workflow.add_edge("assistant", "finish")
workflow.add_edge("finish", END)
