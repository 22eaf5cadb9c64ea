"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/delay.mts`` (graph id ``delay``).

``long_running`` sleeps ``delay`` milliseconds, then says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.graph import END, START, MessagesState, StateGraph


class DelayState(MessagesState):
    """``MessagesAnnotation`` plus the delay in milliseconds."""

    delay: int


async def long_running(state: DelayState) -> dict[str, Any]:
    """Sleep, then add ``finished after <delay>ms`` (a string: a human message)."""
    await asyncio.sleep(state["delay"] / 1000)
    return {"messages": [f"finished after {state['delay']}ms"]}


graph = (
    StateGraph(DelayState)
    .add_node("long_running", long_running)
    .add_edge(START, "long_running")
    .add_edge("long_running", END)
    .compile()
)
