"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/simple_runtime.mts``
(graph id ``simple_runtime``).

``use_context`` copies the run's ``context.model`` into the state: the suite checks that
a run's context, an assistant's context and ``LANGGRAPH_CONFIG``'s default reach it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime

# The TS union `"openai" | "anthropic" | "unknown"` has no order; the JS server's schema
# lists it sorted, and the suite compares the enum as an array, so the same order here.
Model = Literal["anthropic", "openai", "unknown"]


class State(TypedDict, total=False):
    """The state: a message and the model seen in the context."""

    message: str
    model: Model


class Context(TypedDict, total=False):
    """The run's context (the JS graph's second annotation)."""

    model: Model


def use_context(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Return the context's model (a mapping or an object, as the server passes it)."""
    context: Any = runtime.context
    if isinstance(context, dict):
        return {"model": context.get("model")}
    return {"model": getattr(context, "model", None)}


graph = (
    StateGraph(State, context_schema=Context)
    .add_node("use_context", use_context)
    .add_edge(START, "use_context")
    .compile()
)
