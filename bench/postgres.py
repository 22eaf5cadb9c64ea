"""SQLite vs PostgreSQL under the official SDK, one 3-node graph, all in the same run.

For each setup — SQLite with one ``lgp-lab serve`` (the baseline), PostgreSQL with one
replica, PostgreSQL with two replicas on one database — it prints:

- one ``runs.wait`` on a fresh thread, p50;
- throughput at concurrency 8 and 32, each op ``threads.create`` + ``runs.wait`` (a
  thread's calls go to one replica, round-robin over the replicas by op), with errors;

and each figure's ratio to SQLite's. The PostgreSQL server is a real one started here
(tests/postgres.py: initdb into a temp dir, 127.0.0.1, removed at the end); replicas are
real ``lgp-lab serve`` subprocesses; the load comes from ``langgraph_sdk`` in this process.

Recovery after ``kill -9`` of a replica needs runs claimed across replicas (leases,
requeue); it is printed as not measured until that lands.

    python bench/postgres.py [--seconds 3] [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _graphs import free_port, three_node_project  # noqa: E402
from agent_api import wait_ok  # noqa: E402


def _postgres_server_class() -> type:
    """tests/postgres.py's PostgresServer (this file's own name hides that module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "lgp_tests_postgres", HERE.parent / "tests" / "postgres.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PostgresServer


BASE = "server:\n  rate_limit_per_minute: 0\nobservability:\n  console: false\n"


def start_replicas(root: Path, count: int) -> tuple[list[str], list[subprocess.Popen]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    urls, procs = [], []
    for _ in range(count):
        port = free_port()
        argv = [sys.executable, "-m", "lgp_lab", "serve", "three", "--env", "experiment",
                "--port", str(port)]  # fmt: skip
        quiet = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL}
        proc = subprocess.Popen(
            argv, cwd=root, env=env, stderr=subprocess.DEVNULL, start_new_session=True, **quiet
        )
        procs.append(proc)
        urls.append(f"http://127.0.0.1:{port}")
    for url, proc in zip(urls, procs, strict=True):
        wait_ok(url, proc, 60)
    return urls, procs


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


async def single_p50(urls: list[str], runs: int) -> float:
    from langgraph_sdk import get_client

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


async def load(urls: list[str], concurrency: int, seconds: float) -> tuple[int, int, float]:
    from langgraph_sdk import get_client

    clients = itertools.cycle([get_client(url=u, api_key=None) for u in urls])
    ok = errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal ok, errors
        while time.perf_counter() < deadline:
            client = next(clients)  # the op's thread stays on this replica
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


def measure(root: Path, replicas: int, runs: int, seconds: float) -> dict:
    urls, procs = start_replicas(root, replicas)
    try:
        single = asyncio.run(single_p50(urls, runs))
        loads = {c: asyncio.run(load(urls, c, seconds)) for c in (8, 32)}
    finally:
        stop(procs)
    return {"single": single, "load": loads}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    results: dict[str, dict] = {}
    sqlite_root = three_node_project("lgp-bench-pg-sqlite-", BASE)
    try:
        results["SQLite, 1 server"] = measure(sqlite_root, 1, args.runs, args.seconds)
    finally:
        shutil.rmtree(sqlite_root, ignore_errors=True)
    with _postgres_server_class()() as pg:
        for replicas in (1, 2):
            url = pg.create_database("bench")
            checkpoint = f"checkpoint:\n  backend: postgres\n  url: {url}\n  pool_max_size: 10\n"
            root = three_node_project("lgp-bench-pg-", BASE + checkpoint)
            try:
                label = f"PostgreSQL, {replicas} replica{'s' if replicas > 1 else ''}"
                results[label] = measure(root, replicas, args.runs, args.seconds)
            finally:
                shutil.rmtree(root, ignore_errors=True)

    ms = 1000
    base = results["SQLite, 1 server"]
    base_rate = {c: ok / elapsed for c, (ok, _, elapsed) in base["load"].items()}
    for label, got in results.items():
        ratio = got["single"] / base["single"]
        print(f"{label}:")
        print(f"  runs.wait p50, fresh thread: {got['single'] * ms:7.2f} ms  (x{ratio:.2f} SQLite)")
        for c, (ok, errors, elapsed) in got["load"].items():
            rate = ok / elapsed
            print(
                f"  threads.create + runs.wait c={c:<2}: {rate:7.1f} runs/s, {errors} errors "
                f"(x{rate / base_rate[c]:.2f} SQLite)"
            )
    print("recovery after kill -9 of a replica: not measured (runs are not yet claimed "
          "across replicas)")  # fmt: skip


if __name__ == "__main__":
    main()
