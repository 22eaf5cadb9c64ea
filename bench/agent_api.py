"""The LangGraph Agent Server API under the official SDK, against one 3-node graph, all
measured in the same run.

- ``client.runs.wait`` p50 overhead over in-process ``Lab.arun`` (same graph, same file);
- throughput at concurrency 8 and 32, each op ``threads.create`` + ``runs.wait``, with
  error counts;
- first streamed event latency (``runs.stream``: the ``metadata`` event, and the first
  ``values``).

The server is a real ``lgp-lab serve`` subprocess on 127.0.0.1; the load comes from
``langgraph_sdk`` (as users run it) in this process. Targets: overhead <= 3 ms,
throughput >= 2x ``langgraph dev`` with 0 errors.

The baseline is ``langgraph dev`` itself, measured in the same run with the same load on
the same graph, when its CLI is available: ``--langgraph-dev PATH`` (the ``langgraph``
executable of an environment with ``pip install "langgraph-cli[inmem]"``; it is not a
dependency of lgp_lab: langgraph-api is Elastic-2.0). Without it, the ratio uses the
figure measured here earlier (82 runs/s at c=8).

    python bench/agent_api.py [--seconds 4] [--runs 200] [--langgraph-dev PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _graphs import free_port, three_node_project  # noqa: E402

LANGGRAPH_DEV_RUNS_PER_S = 82.0  # c=8, langgraph-cli 0.4.40 / langgraph-api 0.16.7 here


def make_project() -> Path:
    return three_node_project(
        "lgp-agent-api-", "server:\n  rate_limit_per_minute: 0\nobservability:\n  console: false\n"
    )


def arun_p50(root: Path, runs: int) -> float:
    """In-process ``Lab.arun`` on one thread (the baseline), seconds."""
    from lgp_lab import Lab

    with Lab(root=root, console=False) as lab:
        wf = lab.load("three")
        samples = []
        for _ in range(runs + 20):
            t0 = time.perf_counter()
            lab.engine.call(lab.arun(wf, {"input": "x"}, thread_id="baseline"))
            samples.append(time.perf_counter() - t0)
        return statistics.median(samples[20:])


async def sdk_wait_p50(url: str, runs: int) -> tuple[float, float]:
    """``runs.wait`` p50 on one thread, and the ``/workflows/.../invoke`` p50 beside it."""
    from langgraph_sdk import get_client

    client = get_client(url=url, api_key=None)
    thread = await client.threads.create()
    tid = thread["thread_id"]
    for _ in range(20):
        await client.runs.wait(tid, "three", input={"input": "x"})
    waits = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = await client.runs.wait(tid, "three", input={"input": "x"})
        waits.append(time.perf_counter() - t0)
        assert out["output"] == "n2:x", out
    invokes = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as raw:
        for _ in range(runs):
            t0 = time.perf_counter()
            r = await raw.post("/workflows/three/invoke", json={"input": "x", "thread_id": tid})
            invokes.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text
    return statistics.median(waits), statistics.median(invokes)


async def first_event(url: str, runs: int) -> tuple[float, float]:
    """p50 from sending ``runs.stream`` to its first event, and to its first ``values``."""
    from langgraph_sdk import get_client

    client = get_client(url=url, api_key=None)
    tid = (await client.threads.create())["thread_id"]
    firsts, values = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        seen_first = seen_values = None
        async for part in client.runs.stream(tid, "three", input={"input": "x"}):
            now = time.perf_counter() - t0
            if seen_first is None:
                seen_first = now
            if part.event == "values" and seen_values is None:
                seen_values = now
        assert seen_first is not None and seen_values is not None
        firsts.append(seen_first)
        values.append(seen_values)
    return statistics.median(firsts), statistics.median(values)


async def load(urls: str | list[str], concurrency: int, seconds: float) -> tuple[int, int, float]:
    """``threads.create`` + ``runs.wait`` per op, ``concurrency`` workers for ``seconds``;
    with several URLs (replicas), ops go round-robin and an op's thread stays on one."""
    from langgraph_sdk import get_client

    ok = errors = 0
    deadline = time.perf_counter() + seconds
    urls = [urls] if isinstance(urls, str) else urls
    clients = itertools.cycle([get_client(url=u, api_key=None) for u in urls])

    async def worker() -> None:
        nonlocal ok, errors
        while time.perf_counter() < deadline:
            client = next(clients)
            try:
                tid = (await client.threads.create())["thread_id"]
                out = await client.runs.wait(tid, "three", input={"input": "x"})
                good = isinstance(out, dict) and out.get("output") == "n2:x"
                ok += good
                errors += not good
            except Exception:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, errors, time.perf_counter() - started


def wait_ok(url: str, server: subprocess.Popen, seconds: float) -> None:
    """Poll ``GET /ok`` until it answers 200 (bounded)."""
    deadline = time.perf_counter() + seconds
    while True:
        try:
            if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.perf_counter() > deadline or server.poll() is not None:
            raise RuntimeError(f"the server did not answer /ok within {seconds:.0f} s")
        time.sleep(0.05)


def langgraph_dev(executable: str, runs: int, seconds: float) -> dict[str, Any]:
    """The same single-run p50 and load against ``langgraph dev`` serving the same graph."""
    root = Path(tempfile.mkdtemp(prefix="lgp-bench-dev-"))
    graphs = (HERE / "_graphs.py").read_text()
    (root / "graph.py").write_text(graphs + "\n\nworkflow = make_builder(3).compile()\n")
    (root / "langgraph.json").write_text(
        json.dumps({"graphs": {"three": "./graph.py:workflow"}, "dependencies": ["."]})
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1"}
    server = subprocess.Popen(
        [executable, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
         "--port", str(port)],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ok(url, server, 90)
        single = asyncio.run(single_p50(url, min(runs, 20)))
        return {
            "single": single,
            "load": {c: asyncio.run(load(url, c, seconds)) for c in (8, 32)},
        }
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(root, ignore_errors=True)


async def single_p50(urls: str | list[str], runs: int) -> float:
    """p50 of one ``runs.wait`` on a fresh thread (what a user's first call sees), after
    3 warm-up runs; round-robin over several URLs (replicas)."""
    from langgraph_sdk import get_client

    urls = [urls] if isinstance(urls, str) else urls
    clients = [get_client(url=u, api_key=None) for u in urls]
    samples = []
    for i in range(runs + 3):
        client = clients[i % len(clients)]
        tid = (await client.threads.create())["thread_id"]
        t0 = time.perf_counter()
        out = await client.runs.wait(tid, "three", input={"input": "x"})
        samples.append(time.perf_counter() - t0)
        assert out["output"] == "n2:x", out
    return statistics.median(samples[3:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--langgraph-dev",
        default=shutil.which("langgraph"),
        help="the `langgraph` CLI (langgraph-cli[inmem]) to measure as the baseline",
    )
    args = parser.parse_args()

    root = make_project()
    baseline = arun_p50(root, args.runs)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "lgp_lab", "serve", "three", "--env", "experiment",
         "--port", str(port)],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ok(url, server, 30)
        single = asyncio.run(single_p50(url, min(args.runs, 20)))
        wait_p50, invoke_p50 = asyncio.run(sdk_wait_p50(url, args.runs))
        first_p50, values_p50 = asyncio.run(first_event(url, min(args.runs, 100)))
        results = {c: asyncio.run(load(url, c, args.seconds)) for c in (8, 32)}
    finally:
        server.terminate()
        server.wait(15)
        shutil.rmtree(root, ignore_errors=True)

    ms = 1000
    print(f"Lab.arun in-process p50:        {baseline * ms:6.2f} ms")
    print(f"SDK runs.wait p50:              {wait_p50 * ms:6.2f} ms")
    print(f"POST /workflows/three/invoke:   {invoke_p50 * ms:6.2f} ms   (same server, reference)")
    print(
        f"runs.wait overhead over arun:   {(wait_p50 - baseline) * ms:6.2f} ms   (target <= 3 ms)"
    )
    print(f"runs.stream first event p50:    {first_p50 * ms:6.2f} ms   (metadata)")
    print(f"runs.stream first values p50:   {values_p50 * ms:6.2f} ms")
    for c, (ok, errors, elapsed) in results.items():
        print(
            f"threads.create + runs.wait c={c:<2}: {ok / elapsed:7.1f} runs/s, {errors} errors "
            f"({ok} runs in {elapsed:.1f} s)"
        )
    print(f"one runs.wait, fresh thread p50: {single * ms:6.2f} ms")
    dev = langgraph_dev(args.langgraph_dev, args.runs, args.seconds) if args.langgraph_dev else None
    if dev is None:
        ratio = results[8][0] / results[8][2] / LANGGRAPH_DEV_RUNS_PER_S
        print(
            f"ratio: {ratio:.2f} (c=8 throughput / langgraph dev {LANGGRAPH_DEV_RUNS_PER_S:.0f}, "
            "measured earlier; pass --langgraph-dev to measure it now)"
        )
        return
    print("langgraph dev, same graph and load, this run:")
    print(f"  one runs.wait, fresh thread p50: {dev['single'] * ms:8.2f} ms")
    for c, (ok, errors, elapsed) in dev["load"].items():
        print(f"  threads.create + runs.wait c={c:<2}: {ok / elapsed:7.1f} runs/s, {errors} errors")
    for c in (8, 32):
        ours = results[c][0] / results[c][2]
        theirs = dev["load"][c][0] / dev["load"][c][2]
        print(f"ratio c={c:<2}: {ours / theirs:.2f} (lgp-lab serve / langgraph dev; target >= 2)")


if __name__ == "__main__":
    main()
