"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/nested.mts`` (graph id ``nested``).

Three levels: ``gp_one`` → ``gp_two`` (the parent graph: ``p_one`` → ``p_two``, the child
graph: ``c_one`` → ``c_two``); each node appends a line to ``messages`` (a list of
strings, concatenated).
"""

from __future__ import annotations

import operator
from typing import Annotated, Literal, TypedDict

from langgraph.graph import END, START, StateGraph


class ChildState(TypedDict):
    """The child graph's state."""

    messages: Annotated[list[str], operator.add]
    child: Literal["child_one", "child_two"]


class ParentState(TypedDict):
    """The parent graph's state."""

    messages: Annotated[list[str], operator.add]
    parent: Literal["parent_one", "parent_two"]


class GrandParentState(TypedDict):
    """The outer graph's state."""

    messages: Annotated[list[str], operator.add]


child = (
    StateGraph(ChildState)
    .add_node("c_one", lambda _: {"messages": ["Entered c_one node"]})
    .add_node("c_two", lambda _: {"messages": ["Entered c_two node"]})
    .add_edge(START, "c_one")
    .add_edge("c_one", "c_two")
    .add_edge("c_two", END)
)

parent = (
    StateGraph(ParentState)
    .add_node("p_one", lambda _: {"messages": ["Entered p_one node"]})
    .add_node("p_two", child.compile())
    .add_edge(START, "p_one")
    .add_edge("p_one", "p_two")
    .add_edge("p_two", END)
)

grand_parent = (
    StateGraph(GrandParentState)
    .add_node("gp_one", lambda _: {"messages": ["Entered gp_one node"]})
    .add_node("gp_two", parent.compile())
    .add_edge(START, "gp_one")
    .add_edge("gp_one", "gp_two")
    .add_edge("gp_two", END)
)

graph = grand_parent.compile()
