"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/error.mts`` (graph id ``error``).

``error_node`` waits a second, then raises ``CustomError("Boo!")``: the suite checks the
error's class name and message in the stream and the run's ``error`` status.
"""

from __future__ import annotations

import asyncio

from langgraph.graph import START, MessagesState, StateGraph


class CustomError(Exception):
    """The JS graph's ``CustomError`` (the suite matches the name)."""


async def error_node(state: MessagesState) -> dict[str, object]:
    """Fail after a second (so a client can join the run before it ends)."""
    await asyncio.sleep(1)
    raise CustomError("Boo!")


graph = (
    StateGraph(MessagesState)
    .add_node("error_node", error_node)
    .add_edge(START, "error_node")
    .compile()
)
