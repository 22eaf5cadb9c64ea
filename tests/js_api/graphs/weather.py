"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/weather.mts`` (graph id ``weather``).

``router_node`` routes to the ``weather_graph`` subgraph (``model_node`` picks the city
from a canned tool call, ``weather_node`` answers; the subgraph interrupts before
``weather_node``) or to ``normal_llm_node``.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph


class WeatherState(MessagesState):
    """``weatherState``: messages and the city."""

    city: str


class RouterState(MessagesState):
    """``routerState``: messages and the route."""

    route: Literal["weather", "other"]


def model_node(state: WeatherState) -> dict[str, Any]:
    """A canned tool call stands in for the model; its argument is the city."""
    llm = AIMessage(
        content="",
        tool_calls=[
            {"id": "tool_call123", "name": "get_weather", "args": {"city": "San Francisco"}}
        ],
    )
    return {"city": llm.tool_calls[0]["args"]["city"]}


async def weather_node(state: WeatherState) -> dict[str, Any]:
    """The answer, from the (possibly edited) city."""
    return {"messages": [AIMessage(content=f"It's sunny in {state['city']}!")]}


weather = (
    StateGraph(WeatherState)
    .add_node("model_node", model_node)
    .add_node("weather_node", weather_node)
    .add_edge(START, "model_node")
    .add_edge("model_node", "weather_node")
    .add_edge("weather_node", END)
    .compile(interrupt_before=["weather_node"])
)


async def router_node(state: RouterState) -> dict[str, Any]:
    """Always the weather route."""
    return {"route": "weather"}


def normal_llm_node(state: RouterState) -> dict[str, Any]:
    """The other route (never taken by the suite)."""
    return {"messages": [AIMessage("Hello")]}


def route(state: RouterState) -> str:
    """``weather`` → the subgraph, anything else → ``normal_llm_node``."""
    return "weather_graph" if state.get("route") == "weather" else "normal_llm_node"


router = (
    StateGraph(RouterState)
    .add_node("router_node", router_node)
    .add_node("normal_llm_node", normal_llm_node)
    .add_node("weather_graph", weather)
    .add_edge(START, "router_node")
    .add_conditional_edges("router_node", route, ["weather_graph", "normal_llm_node"])
    .add_edge("weather_graph", END)
    .add_edge("normal_llm_node", END)
)

graph = router.compile()
