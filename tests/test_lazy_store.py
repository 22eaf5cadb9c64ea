"""Workflows get the project's store, opened on its first use (not at load).

Real Labs on a real SQLite file in ``tmp_path``: a graph whose nodes use the store (an
async node and a sync one) is loaded without opening it; its first run opens it, and
what the nodes wrote is in the same persistent store ``Lab.store`` reads, across Labs.
"""

from __future__ import annotations

from pathlib import Path

GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore


class S(TypedDict, total=False):
    input: str
    seen: int


async def count(state: S, store: BaseStore) -> S:
    item = await store.aget(("counts",), "runs")
    seen = (item.value["n"] if item else 0) + 1
    await store.aput(("counts",), "runs", {"n": seen})
    return {"seen": seen}


def remember(state: S, store: BaseStore) -> S:
    store.put(("inputs",), str(state["seen"]), {"text": state["input"]})
    return {}


workflow = StateGraph(S)
workflow.add_node("count", count)
workflow.add_node("remember", remember)
workflow.add_edge(START, "count")
workflow.add_edge("count", "remember")
workflow.add_edge("remember", END)
"""


def test_the_store_opens_on_first_use_and_persists(tmp_path: Path) -> None:
    from lgp_lab import Lab

    (tmp_path / "flow.py").write_text(GRAPH, encoding="utf-8")
    with Lab(root=tmp_path, env="experiment", console=False) as lab:
        wf = lab.load(tmp_path / "flow.py")
        assert lab._store is None  # loading compiled the graph without opening it
        first = lab.run(wf, {"input": "a"}, thread_id="t1")
        assert first.status == "complete" and first.state["seen"] == 1
        assert lab._store is not None
        second = lab.run(wf, {"input": "b"}, thread_id="t2")
        assert second.state["seen"] == 2
        assert lab.store.get(("inputs",), "2").value == {"text": "b"}
    with Lab(root=tmp_path, env="experiment", console=False) as lab:
        assert lab.store.get(("counts",), "runs").value == {"n": 2}
        third = lab.run(lab.load(tmp_path / "flow.py"), {"input": "c"}, thread_id="t3")
        assert third.state["seen"] == 3
