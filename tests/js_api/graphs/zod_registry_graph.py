"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/zod_registry_graph.mts``
(graph id ``zod_registry_graph``).

JS declares the state in zod with ``withLangGraph`` (a reducer appending one string, and
``jsonSchemaExtra: {langgraph_type: "messages"}``); here a Pydantic model with the same
keys, reducer and defaults. The ``langgraph_type`` schema annotation is JS-only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel


def _append_one(left: list[str], right: str) -> list[str]:
    """The JS reducer ``(a, b) => [...a, b]``: the update is one string."""
    return [*left, right]


class AgentState(BaseModel):
    """``messages`` (append one), ``count`` (0) and ``status`` (``idle``)."""

    messages: Annotated[list[str], _append_one] = []
    count: int = 0
    status: Literal["idle", "processing", "done"] = "idle"


def process(state: AgentState) -> dict[str, Any]:
    """Append one message, count it, mark the state ``processing``."""
    return {
        "messages": f"Message {state.count + 1}",
        "count": state.count + 1,
        "status": "processing",
    }


graph = (
    StateGraph(AgentState)
    .add_node("process", process)
    .add_edge(START, "process")
    .add_edge("process", END)
    .compile()
)
