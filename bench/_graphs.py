"""Graphs shared by the benchmarks."""

from __future__ import annotations

import itertools
import operator
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class State(TypedDict, total=False):
    input: str
    steps: Annotated[list[str], operator.add]
    output: str


def _node(name: str):
    def node(state: State) -> State:
        return {"steps": [name], "output": f"{name}:{state.get('input', '')}"}

    node.__name__ = name
    return node


def make_builder(nodes: int = 2) -> StateGraph:
    """A linear pure-Python graph of ``nodes`` nodes."""
    builder = StateGraph(State)
    names = [f"n{i}" for i in range(nodes)]
    for name in names:
        builder.add_node(name, _node(name))
    builder.add_edge(START, names[0])
    for a, b in itertools.pairwise(names):
        builder.add_edge(a, b)
    builder.add_edge(names[-1], END)
    return builder
