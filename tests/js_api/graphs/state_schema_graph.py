"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/state_schema_graph.mts``
(graph id ``state_schema_graph``).

JS declares the state with ``StateSchema`` and ``MessagesValue`` (whose JSON schema
carries ``langgraph_type: "messages"``) and a zod ``count`` defaulting to 0; here a
Pydantic model with the same keys, reducer and default. Python's schemas have no
``langgraph_type`` annotation, so the suite's check of it does not apply.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel


class AgentState(BaseModel):
    """``messages`` (add_messages) and ``count`` (default 0)."""

    messages: Annotated[list[AnyMessage], add_messages] = []
    count: int = 0


def process(state: AgentState) -> dict[str, Any]:
    """One reply, numbered from the count."""
    return {"messages": [AIMessage(f"Response {state.count + 1}")], "count": state.count + 1}


graph = (
    StateGraph(AgentState)
    .add_node("process", process)
    .add_edge(START, "process")
    .add_edge("process", END)
    .compile()
)
