"""SQLite vs PostgreSQL under the official SDK, one 3-node graph, all in the same run.

For each setup — SQLite with one ``lgp-lab serve`` (the baseline), PostgreSQL with one
replica, PostgreSQL with two replicas on one database — it prints:

- one ``runs.wait`` on a fresh thread, p50;
- throughput at concurrency 8 and 32, each op ``threads.create`` + ``runs.wait`` (a
  thread's calls go to one replica, round-robin over the replicas by op), with errors;

and each figure's ratio to SQLite's. The PostgreSQL server is a real one started here
(tests/postgres.py: initdb into a temp dir, 127.0.0.1, removed at the end); replicas are
real ``lgp-lab serve`` subprocesses; the load comes from ``langgraph_sdk`` in this process.

Recovery after ``kill -9``: two replicas on PostgreSQL (``runs.lease_seconds: 2``), a
run of a 3-node graph is started on one, which is killed while the second node runs;
the figure is the time from the kill to ``runs.join`` on the other replica returning
the run's final state (adoption, then the cut-off node runs again; the first node is
not). Replicas on one machine see a dead process at once; across machines add up to one
lease.

    python bench/postgres.py [--seconds 3] [--runs 20] [--kills 3]
"""

from __future__ import annotations

import argparse
import asyncio
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
from agent_api import load, single_p50, wait_ok  # noqa: E402


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


def start_replicas(
    root: Path, count: int, workflow: str = "three"
) -> tuple[list[str], list[subprocess.Popen]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    urls, procs = [], []
    for _ in range(count):
        port = free_port()
        argv = [sys.executable, "-m", "lgp_lab", "serve", workflow, "--env", "experiment",
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


def measure(root: Path, replicas: int, runs: int, seconds: float) -> dict:
    urls, procs = start_replicas(root, replicas)
    try:
        single = asyncio.run(single_p50(urls, runs))
        loads = {c: asyncio.run(load(urls, c, seconds)) for c in (8, 32)}
    finally:
        stop(procs)
    return {"single": single, "load": loads}


SLOW = """
import operator, os, pathlib, time
from typing import Annotated
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

MARKS = pathlib.Path(os.environ["BENCH_PG_MARKS"])

class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]

def n1(state):
    return {"steps": ["n1"]}

def n2(state):
    (MARKS / "n2-started").touch()
    time.sleep(0.2)
    return {"steps": ["n2"]}

def n3(state):
    return {"steps": ["n3"]}

b = StateGraph(S)
for name, fn in (("n1", n1), ("n2", n2), ("n3", n3)):
    b.add_node(name, fn)
b.add_edge(START, "n1"); b.add_edge("n1", "n2"); b.add_edge("n2", "n3"); b.add_edge("n3", END)
workflow = b.compile()
"""


def recovery(server: object, kills: int) -> list[float]:
    """Seconds from ``kill -9`` of the replica running a run to ``join`` returning on the
    other replica, ``kills`` times (each on a fresh database and replica pair)."""
    import tempfile

    from langgraph_sdk import get_sync_client

    times = []
    for _ in range(kills):
        url = server.create_database("recovery")  # type: ignore[attr-defined]
        runs = "runs:\n  lease_seconds: 2\n  retry_backoff_seconds: 0\n  poll_seconds: 0.1\n"
        checkpoint = f"checkpoint:\n  backend: postgres\n  url: {url}\n"
        root = three_node_project("lgp-bench-pg-kill-", BASE + checkpoint + runs)
        marks = Path(tempfile.mkdtemp(prefix="lgp-bench-marks-"))
        (root / "workflows" / "slow.py").write_text(SLOW)
        with (root / "workflows" / "config.yaml").open("a") as f:
            f.write("  slow:\n    path: slow.py\n")
        os.environ["BENCH_PG_MARKS"] = str(marks)
        try:
            urls, procs = start_replicas(root, 2, "slow")
            try:
                first = get_sync_client(url=urls[0], api_key=None)
                thread = first.threads.create()["thread_id"]
                run = first.runs.create(thread, "slow", input={"steps": []})
                deadline = time.monotonic() + 30
                while not (marks / "n2-started").exists():  # bounded: 30 s
                    if time.monotonic() > deadline:
                        raise RuntimeError("the run did not reach its second node in 30 s")
                    time.sleep(0.005)
                os.killpg(procs[0].pid, signal.SIGKILL)
                killed = time.perf_counter()
                procs[0].wait(10)  # reaped, as a supervisor does: a zombie still "runs"
                second = get_sync_client(url=urls[1], api_key=None, timeout=60)
                final = second.runs.join(thread, run["run_id"])
                times.append(time.perf_counter() - killed)
                if final.get("steps") != ["n1", "n2", "n3"]:
                    raise RuntimeError(f"recovered run ended with {final!r}")
            finally:
                stop(procs)
        finally:
            os.environ.pop("BENCH_PG_MARKS", None)
            shutil.rmtree(root, ignore_errors=True)
            shutil.rmtree(marks, ignore_errors=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kills", type=int, default=3)
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
        recovered = recovery(pg, args.kills) if args.kills else []

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
    if recovered:
        print(
            f"recovery after kill -9 of a replica (lease 2 s, {len(recovered)} kills): "
            f"median {statistics.median(recovered):.2f} s, max {max(recovered):.2f} s "
            "(kill to join returning on the other replica; includes re-running the cut-off "
            "node, 0.2 s)"
        )


if __name__ == "__main__":
    main()
