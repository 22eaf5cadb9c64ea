"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/plain_zod_graph.mts``
(graph id ``plain_zod_graph``).

A plain zod object in JS (no reducers, no LangGraph annotations): here the same keys and
defaults as a Pydantic model. The suite checks the state schema lists ``items`` and
``counter`` without a ``langgraph_type``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel


class AgentState(BaseModel):
    """``items`` (default empty), ``counter`` (0) and an optional ``label``."""

    items: list[str] = []
    counter: int = 0
    label: str | None = None


def process(state: AgentState) -> dict[str, Any]:
    """Add one item and count it."""
    return {
        "items": [*state.items, f"Item {state.counter + 1}"],
        "counter": state.counter + 1,
        "label": "processed",
    }


graph = (
    StateGraph(AgentState)
    .add_node("process", process)
    .add_edge(START, "process")
    .add_edge("process", END)
    .compile()
)
