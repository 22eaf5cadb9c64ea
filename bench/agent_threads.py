"""Threads, state and store routes of the Agent Server API under the official SDK, with
in-process baselines measured in the same run.

- ``threads.get_state`` / ``get_history(limit=10)`` p50 vs the same read in-process
  (``graph.aget_state`` / ``aget_state_history`` on the Lab's engine loop): the HTTP cost;
- ``threads.create``, ``threads.get``, ``store.put_item`` / ``get_item`` p50;
- ``threads.search(limit=10)`` p50 with N threads in the file (half written by plain
  ``Lab.run``, half created over the SDK), plain and filtered by metadata.

The server is ``start_server`` (uvicorn on the Lab's engine loop, 127.0.0.1, free port);
the SDK client runs in this process's main thread.

    python bench/agent_threads.py [--threads 2000] [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def timed(make, n: int) -> float:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        await make()
        samples.append(time.perf_counter() - start)
    return p50_ms(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()

    from langgraph_sdk import get_client

    from lgp_lab import Lab
    from lgp_lab.server.background import start_server

    root = Path(tempfile.mkdtemp(prefix="lgp-bench-threads-"))
    try:
        shutil.copytree(REPO / "workflows", root / "workflows")
        (root / "config").mkdir()
        (root / "config" / "experiment.yaml").write_text("observability:\n  console: false\n")
        with Lab(root=root, console=False) as lab:
            for i in range(args.threads // 2):
                lab.run("basic_workflow", f"my name is N{i}", thread_id=f"nb-{i}")
            handle = start_server(lab, ["basic_workflow"], port=0)
            workflow = lab.workflows["basic_workflow"]
            config = {"configurable": {"thread_id": "nb-1", "checkpoint_ns": ""}}

            async def history_in_process() -> None:
                async for _ in workflow.graph.aget_state_history(config, limit=10):
                    pass

            async def run() -> dict[str, float]:
                client = get_client(url=handle.url, api_key=None)
                for i in range(args.threads - args.threads // 2):
                    await client.threads.create(metadata={"graph_id": "basic_workflow", "i": i})
                n = args.samples
                out = {
                    "threads.get_state": await timed(lambda: client.threads.get_state("nb-1"), n),
                    "graph.aget_state (in-process)": await timed(
                        lambda: asyncio.wrap_future(
                            lab.engine.submit(workflow.graph.aget_state(config))
                        ),
                        n,
                    ),
                    "threads.get_history(10)": await timed(
                        lambda: client.threads.get_history("nb-1", limit=10), n
                    ),
                    "aget_state_history(10) (in-process)": await timed(
                        lambda: asyncio.wrap_future(lab.engine.submit(history_in_process())), n
                    ),
                    "threads.create": await timed(lambda: client.threads.create(), n),
                    "threads.get": await timed(lambda: client.threads.get("nb-1"), n),
                    "store.put_item": await timed(
                        lambda: client.store.put_item(["bench"], "k", {"v": 1}), n
                    ),
                    "store.get_item": await timed(lambda: client.store.get_item(["bench"], "k"), n),
                    f"threads.search(limit=10), {args.threads}+ threads": await timed(
                        lambda: client.threads.search(limit=10), max(20, n // 10)
                    ),
                    "threads.search(metadata={'i': 7})": await timed(
                        lambda: client.threads.search(metadata={"i": 7}), max(20, n // 10)
                    ),
                }
                return out

            figures = asyncio.run(run())
            handle.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    for name, value in figures.items():
        print(f"{name:48s} p50 {value:8.2f} ms")
    for routed, local in (
        ("threads.get_state", "graph.aget_state (in-process)"),
        ("threads.get_history(10)", "aget_state_history(10) (in-process)"),
    ):
        cost, ratio = figures[routed] - figures[local], figures[routed] / figures[local]
        print(f"HTTP + SDK cost of {routed}: {cost:.2f} ms (ratio {ratio:.1f}x in-process)")


if __name__ == "__main__":
    main()
