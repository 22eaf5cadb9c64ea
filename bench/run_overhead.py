"""Per-run overhead of ``Lab.run`` against a bare ``graph.invoke`` with ``SqliteSaver``.

Both use a checkpoint file in a temp dir and a fresh thread per call; the calls are
interleaved in blocks so drift affects both alike. Target: ratio <= 1.0. Also prints
the per-run cost of the input check (unknown keys + a dry run of each reducer channel).

    python bench/run_overhead.py [--calls 200] [--nodes 2]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _graphs import make_builder
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import StateGraph

from lgp_lab import Lab
from lgp_lab.config import LabConfig


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument(
        "--local-traces",
        action="store_true",
        help="keep the local trace store on (bench/tracing.py measures it separately)",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="lgp-bench-"))
    builder = make_builder(args.nodes)

    conn = sqlite3.connect(tmp / "bare.sqlite", check_same_thread=False)
    bare = builder.compile(checkpointer=SqliteSaver(conn))

    # The console tracer (one line per node) is a terminal nicety, off here.
    config = LabConfig.model_validate(
        {"observability": {"console": False, "local": args.local_traces}}
    ).with_root(tmp)
    lab = Lab(config)
    workflow = lab.load(builder, name="bench")

    def run_bare() -> None:
        bare.invoke({"input": "x"}, {"configurable": {"thread_id": uuid.uuid4().hex}})

    def run_lab() -> None:
        lab.run(workflow, {"input": "x"})

    for fn in (run_bare, run_lab):  # warm up imports, connections, caches
        for _ in range(20):
            fn()

    samples: dict[str, list[float]] = {"bare": [], "lab": []}
    block = 20
    for _ in range(max(1, args.calls // block)):
        for key, fn in (("bare", run_bare), ("lab", run_lab)):
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                samples[key].append(time.perf_counter() - t0)

    bare_p50, lab_p50 = p50(samples["bare"]), p50(samples["lab"])
    print(f"graph: {args.nodes} nodes, {len(samples['lab'])} calls each, fresh thread per call")
    print(f"bare graph.invoke + SqliteSaver   p50 {bare_p50:.2f} ms")
    print(f"Lab.run (AsyncSqliteSaver, loop)  p50 {lab_p50:.2f} ms")
    print(f"ratio: {lab_p50 / bare_p50:.2f}  (target <= 1.0)")
    check_us, chat_us = _input_check_cost(workflow.graph)
    print(
        f"input check (keys + reducer dry run) {check_us:.1f} us/run on this graph, "
        f"{chat_us:.1f} us for a chat message dict on MessagesState "
        f"= {check_us / 10 / lab_p50:.2f}% / {chat_us / 10 / lab_p50:.2f}% of a Lab.run"
    )
    lab.close()
    conn.close()


def _input_check_cost(graph: object, repeat: int = 2000) -> tuple[float, float]:
    """Microseconds per :func:`check_input` call: the cost input coercion adds per run."""
    from langgraph.graph import START, MessagesState

    from lgp_lab.runtime.inputs import check_input

    chat = StateGraph(MessagesState).add_node("n", lambda s: {}).add_edge(START, "n").compile()
    results = []
    for g, payload in (
        (graph, {"input": "x", "steps": ["a"]}),
        (chat, {"messages": [{"role": "user", "content": "hi"}]}),
    ):
        t0 = time.perf_counter()
        for _ in range(repeat):
            check_input(g, payload, "bench")
        results.append((time.perf_counter() - t0) / repeat * 1e6)
    return results[0], results[1]


if __name__ == "__main__":
    main()
