"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/dynamic.mts`` (graph id ``dynamic``).

A graph factory: the run's ``configurable.nodeName`` (default ``default``) names the only
node, which writes its own name to ``node`` and appends it to ``messages``. The server
must rebuild the graph from a thread's stored config (the suite updates the state
``as_node`` the configured node).
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph


def _append(left: list[str], right: list[str] | str) -> list[str]:
    """The JS reducer: a list is concatenated, a single value appended."""
    if isinstance(right, list):
        return [*left, *right]
    return [*left, right]


class DynamicState(TypedDict, total=False):
    """The factory's state: the node that ran, and the names so far."""

    node: str
    messages: Annotated[list[str], _append]


async def graph(config: RunnableConfig) -> CompiledStateGraph:
    """Build the graph for this run's config."""
    node = (config.get("configurable") or {}).get("nodeName") or "default"

    def run_node(state: DynamicState) -> dict[str, Any]:
        return {"node": node, "messages": [node]}

    return (
        StateGraph(DynamicState)
        .add_node(node, run_node)
        .add_edge("__start__", node)
        .add_edge(node, "__end__")
        .compile()
    )
