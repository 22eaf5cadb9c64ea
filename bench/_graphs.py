"""Graphs shared by the benchmarks."""

from __future__ import annotations

import itertools
import operator
from pathlib import Path
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


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def three_node_project(prefix: str, experiment_yaml: str) -> Path:
    """A temp project serving ``three`` (a 3-node graph) with ``config/experiment.yaml``."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix=prefix))
    (root / "workflows").mkdir()
    (root / "config").mkdir()
    shutil.copy(Path(__file__).resolve().parent / "_graphs.py", root / "workflows" / "_graphs.py")
    (root / "workflows" / "three.py").write_text(
        "from _graphs import make_builder\nworkflow = make_builder(3)\n"
    )
    (root / "workflows" / "config.yaml").write_text("workflows:\n  three:\n    path: three.py\n")
    (root / "config" / "experiment.yaml").write_text(experiment_yaml)
    return root
