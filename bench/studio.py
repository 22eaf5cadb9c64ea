"""The studio (%lgp_studio): open time on a thread with 10,000 checkpoints (target
< 100 ms) and the latency from a node finishing to the widget receiving its event.

1. Seeds a thread with ``--checkpoints`` checkpoints (a 3-node graph, 5 per run), then
   times opening that thread in a studio already shown (summary, first timeline page,
   latest state previewed, diff, bytes) and building a new studio at it (graph and
   schemas too). Baseline, same run: loading that one state with ``lab.sessions.state``.
2. Runs a 3-node graph ``--runs`` times with a studio open; each node stamps
   ``perf_counter`` as it returns, and the studio's ``live`` trait observer stamps when
   the node's event arrives (in a kernel, that trait change is the comm message to the
   page). Baseline, same run: plain LangGraph, the same graph with an in-memory saver,
   its ``stream_mode="updates"`` consumer receiving each node's update.

    python bench/studio.py [--checkpoints 10000] [--repeat 5] [--runs 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _graphs import State, make_builder
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from lgp_lab import Lab
from lgp_lab.config import LabConfig
from lgp_lab.widgets.studio import Studio

FINISHED: dict[str, float] = {}


def _stamped(name: str):
    def node(state: State) -> State:
        FINISHED[name] = time.perf_counter()
        return {"steps": [name]}

    node.__name__ = name
    return node


def stamped_builder() -> StateGraph:
    """3 nodes, each stamping when it returns."""
    builder = StateGraph(State)
    for name in ("a", "b", "c"):
        builder.add_node(name, _stamped(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder


def open_times(lab: Lab, checkpoints: int, repeat: int) -> None:
    wf = lab.load(make_builder(3), name="bench")
    started = time.perf_counter()
    while lab.sessions.count_checkpoints("long") < checkpoints:
        lab.run(wf, {"input": "x"}, thread_id="long")
    count = lab.sessions.count_checkpoints("long")
    print(f"seeded {count} checkpoints in {time.perf_counter() - started:.1f}s")
    shown = Studio(wf, lab=lab)
    baseline, select, build = [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        lab.sessions.state("long")
        baseline.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        shown.select_thread("long")
        select.append(time.perf_counter() - t0)
        assert shown.thread["total"] == count and shown.checkpoint["diff"]
        t0 = time.perf_counter()
        fresh = Studio(wf, lab=lab, thread_id="long")
        build.append(time.perf_counter() - t0)
        fresh.close()
    shown.close()
    base = statistics.median(baseline)
    sel, new = statistics.median(select), statistics.median(build)
    print(f"load latest state (baseline)          median {base * 1000:7.1f} ms")
    print(f"open the thread in a shown studio     median {sel * 1000:7.1f} ms   (target < 100 ms)")
    print(f"new studio at the thread (+graph)     median {new * 1000:7.1f} ms")
    print(f"ratio (open / baseline): {sel / base:.2f}")


def event_latency(lab: Lab, runs: int) -> None:
    wf = lab.load(stamped_builder(), name="stamped")
    studio = Studio(wf, lab=lab)
    received: list[float] = []

    def on_live(change: dict) -> None:
        events = change["new"].get("events") or []
        if events and events[-1]["type"] == "node_end":
            received.append(time.perf_counter() - FINISHED[events[-1]["node"]])

    studio.observe(on_live, names="live")
    lab.run(wf, {"input": "warm"}, thread_id="warm")
    received.clear()
    for i in range(runs):
        lab.run(wf, {"input": "x"}, thread_id=f"lat-{i}")
    studio.close()

    plain = stamped_builder().compile(checkpointer=InMemorySaver())
    baseline: list[float] = []
    for i in range(runs):
        config = {"configurable": {"thread_id": f"p-{i}"}}
        for update in plain.stream({"input": "x"}, config, stream_mode="updates"):
            now = time.perf_counter()
            baseline.append(now - FINISHED[next(iter(update))])
    ours, base = statistics.median(received), statistics.median(baseline)
    p95 = sorted(received)[int(0.95 * (len(received) - 1))]
    print(f"node end -> studio event       median {ours * 1000:7.3f} ms  p95 {p95 * 1000:.3f} ms"
          f"  ({len(received)} events)")  # fmt: skip
    print(f"node end -> plain LangGraph 'updates' consumer (baseline) median {base * 1000:7.3f} ms")
    print(f"ratio: {ours / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lgp-studio-"))
    # The local trace store stays on: the studio's live events come through the tracer.
    config = LabConfig.model_validate({"observability": {"console": False}}).with_root(root)
    with Lab(config) as lab:
        open_times(lab, args.checkpoints, args.repeat)
        event_latency(lab, args.runs)


if __name__ == "__main__":
    main()
