"""Three ``lgp-lab serve`` replicas on one PostgreSQL database, 32 concurrent clients
through a round-robin client, one replica killed with ``kill -9`` mid-load, three times:
every accepted run ends ``success`` exactly once, every thread's final state holds every
accepted run (each completed step once), ``join`` from a surviving replica returns, and
the killed replica's runs are adopted within lease + 5 s."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from conftest import cli_env, write
from serve_process import ServeProcess

LEASE_S = 4.0
CLIENTS = 32
RUNS_PER_CLIENT = 4

FLOW = """
import operator
import os
import time
from typing import Annotated

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

EFFECTS = os.environ["LGP_TEST_EFFECTS"]


class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


def step(name):
    def node(state: S, config: RunnableConfig) -> S:
        run_id = config["configurable"]["run_id"]
        # The side effect, once per execution (O_APPEND: whole lines across processes).
        fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, f"{run_id} {name}\\n".encode())
        finally:
            os.close(fd)
        time.sleep(0.04)
        return {"steps": [f"{run_id}:{name}"]}

    return node


b = StateGraph(S)
for name in ("a", "b", "c"):
    b.add_node(name, step(name))
b.add_edge(START, "a")
b.add_edge("a", "b")
b.add_edge("b", "c")
b.add_edge("c", END)
workflow = b.compile()
"""


SLOWFLOW = """
import operator
import time
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


def step(name):
    def node(state):
        time.sleep(0.6)
        return {"steps": [name]}

    return node


b = StateGraph(S)
for name in ("a", "b", "c"):
    b.add_node(name, step(name))
b.add_edge(START, "a")
b.add_edge("a", "b")
b.add_edge("b", "c")
b.add_edge("c", END)
workflow = b.compile()
"""


@pytest.fixture
def replicas(project: Path, postgres_url: str, tmp_path: Path):
    effects = tmp_path / "effects.log"
    write(project / "workflows" / "flow.py", FLOW)
    write(project / "workflows" / "slowflow.py", SLOWFLOW)
    write(
        project / "config" / "experiment.yaml",
        f"checkpoint:\n  backend: postgres\n  url: {postgres_url}\n  pool_max_size: 6\n"
        f"runs:\n  lease_seconds: {LEASE_S}\n  poll_seconds: 0.2\n"
        "  retry_backoff_seconds: 0.2\n"
        "server:\n  rate_limit_per_minute: 0\nobservability:\n  console: false\n",
    )
    env = cli_env(LGP_TEST_EFFECTS=str(effects))
    procs = [
        ServeProcess(
            project,
            ["workflows/flow.py", "workflows/slowflow.py"],
            env,
            tmp_path / f"replica{i}.log",
        )
        for i in range(3)
    ]
    try:
        for proc in procs:
            proc.start()
        yield procs, effects
    finally:
        for proc in procs:
            proc.stop()


def _open_owned_by(url: str, pid: int) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT count(*) FROM lgp_runs WHERE status IN ('pending', 'running') "
            "AND split_part(owner, ':', 2) = %s",
            (str(pid),),
        ).fetchone()[0]


def _open_runs(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT run_id, thread_id, status, owner, attempt, cancel_action, "
            "lease_until - now() FROM lgp_runs WHERE status IN ('pending', 'running') "
            "ORDER BY created_at"
        ).fetchall()


async def _load_round(procs: list[ServeProcess], victim: int, url: str) -> dict:
    from langgraph_sdk import get_client

    clients = [get_client(url=p.url, api_key=None, timeout=30) for p in procs]
    rr = itertools.count()
    accepted: dict[str, list[str]] = {}  # thread -> accepted run ids
    kill_at = CLIENTS * RUNS_PER_CLIENT // 3
    created = 0
    killed = asyncio.Event()
    kill_time = 0.0

    def next_client() -> int:
        while True:
            i = next(rr) % len(clients)
            if not (killed.is_set() and i == victim):
                return i

    async def client_task() -> None:
        nonlocal created, kill_time
        for attempt in range(5):  # a thread created on the victim as it dies: retry
            try:
                thread = (await clients[next_client()].threads.create())["thread_id"]
                break
            except Exception:
                if attempt == 4:
                    raise
        accepted[thread] = []
        for _ in range(RUNS_PER_CLIENT):
            for attempt in range(5):  # bounded: a refused connection goes to the next one
                try:
                    # durability="sync": a step is complete once its checkpoint is
                    # written (LangGraph's default "async" may still be writing it when
                    # the process dies, and then the step runs again).
                    run = await clients[next_client()].runs.create(
                        thread, "flow", input={"steps": []}, multitask_strategy="enqueue",
                        durability="sync",
                    )  # fmt: skip
                    accepted[thread].append(run["run_id"])
                    break
                except Exception:
                    if attempt == 4:
                        raise
            created += 1
            if created == kill_at and not killed.is_set():
                killed.set()
                kill_time = time.monotonic()
                procs[victim].kill()
            await asyncio.sleep(0.01)

    await asyncio.gather(*(client_task() for _ in range(CLIENTS)))
    # The killed replica's runs are adopted by the others within lease + 5 s.
    victim_pid = procs[victim].proc.pid
    deadline = kill_time + LEASE_S + 5
    while _open_owned_by(url, victim_pid) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    adopted_in = time.monotonic() - kill_time
    left = _open_owned_by(url, victim_pid)
    # join from a surviving replica returns, for every accepted run.
    survivor = clients[(victim + 1) % len(clients)]
    finals = {}
    for thread, runs in accepted.items():
        for run_id in runs:
            try:
                await asyncio.wait_for(survivor.runs.join(thread, run_id), 60)
            except TimeoutError:
                raise AssertionError(
                    f"join of {run_id} timed out; open runs: {_open_runs(url)}\n"
                    + "\n".join(p.stderr()[-2000:] for p in procs)
                ) from None
        finals[thread] = (await survivor.threads.get_state(thread))["values"]
    statuses = {
        run_id: (await survivor.runs.get(thread, run_id))["status"]
        for thread, runs in accepted.items()
        for run_id in runs
    }
    return {
        "accepted": accepted,
        "finals": finals,
        "statuses": statuses,
        "left": left,
        "adopted_in": adopted_in,
    }


def test_three_replicas_survive_kill_9_under_load(replicas, postgres_url: str) -> None:
    procs, effects = replicas
    for round_ in range(3):
        victim = round_ % len(procs)
        result = asyncio.run(_load_round(procs, victim, postgres_url))
        assert result["left"] == 0, f"round {round_}: runs still held by the dead replica"
        assert result["adopted_in"] <= LEASE_S + 5
        assert set(result["statuses"].values()) == {"success"}, Counter(result["statuses"].values())
        for thread, runs in result["accepted"].items():
            steps = result["finals"][thread]["steps"]
            counts = Counter(steps)
            for run_id in runs:
                for node in ("a", "b", "c"):
                    # Each completed step of each accepted run is in the state once.
                    assert counts[f"{run_id}:{node}"] == 1, (round_, thread, run_id, node)
        procs[victim].start()  # back to three replicas for the next round

    # A node runs twice only when it was cut off mid-execution: per run, at most the one
    # step in flight when its replica died.
    executions = Counter(tuple(line.split()) for line in effects.read_text().splitlines())
    per_run = Counter(run for (run, _node), n in executions.items() if n > 1)
    assert all(n == 1 for n in per_run.values()), per_run
    assert all(n <= 2 for n in executions.values())


def test_stream_join_and_cancel_from_another_replica(replicas) -> None:
    """A run executing on replica 0 is streamed, joined and cancelled through replica 1."""
    from langgraph_sdk import get_sync_client

    procs, _effects = replicas
    owner = get_sync_client(url=procs[0].url, api_key=None)
    other = get_sync_client(url=procs[1].url, api_key=None)
    thread = owner.threads.create()["thread_id"]
    run = owner.runs.create(thread, "slowflow", input={"steps": []}, stream_mode=["updates"])
    parts = list(other.runs.join_stream(thread, run["run_id"], stream_mode=["updates"]))
    updates = [p.data for p in parts if p.event == "updates"]
    # The owner notices the request within its poll: the later steps reach the joiner.
    assert {"c": {"steps": ["c"]}} in updates, parts
    assert other.runs.join(thread, run["run_id"])["steps"] == ["a", "b", "c"]
    assert other.runs.get(thread, run["run_id"])["status"] == "success"

    # The multitask strategies see the run on the other replica.
    import httpx

    busy = owner.runs.create(thread, "slowflow", input={"steps": []})
    with pytest.raises(httpx.HTTPStatusError) as refused:
        other.runs.create(thread, "slowflow", input={"steps": []}, multitask_strategy="reject")
    assert refused.value.response.status_code == 409
    newer = other.runs.create(
        thread, "slowflow", input={"steps": []}, multitask_strategy="interrupt"
    )
    assert other.runs.join(thread, newer["run_id"])["steps"][-3:] == ["a", "b", "c"]
    assert owner.runs.get(thread, busy["run_id"])["status"] == "interrupted"
    assert other.runs.get(thread, newer["run_id"])["status"] == "success"

    # Cancel through a replica that does not run it: the owner stops it.
    run = owner.runs.create(thread, "slowflow", input={"steps": []})
    other.runs.cancel(thread, run["run_id"], wait=True)
    assert other.runs.get(thread, run["run_id"])["status"] == "interrupted"
    assert owner.runs.get(thread, run["run_id"])["status"] == "interrupted"


def test_reject_holds_across_replicas_under_concurrent_creates(replicas) -> None:
    """Concurrent `reject` runs on one idle thread, sent to all three replicas at once:
    exactly one is accepted (the check and the insert are one step in the database)."""
    from langgraph_sdk import get_client

    procs, _effects = replicas

    async def main() -> tuple[int, int]:
        clients = [get_client(url=p.url, api_key=None) for p in procs]
        thread = (await clients[0].threads.create())["thread_id"]

        async def create(i: int) -> int:
            try:
                await clients[i % len(clients)].runs.create(
                    thread, "slowflow", input={"steps": []}, multitask_strategy="reject"
                )
            except Exception as exc:
                return getattr(getattr(exc, "response", None), "status_code", 0)
            return 200

        codes = await asyncio.gather(*(create(i) for i in range(12)))
        return codes.count(200), codes.count(409)

    accepted, refused = asyncio.run(main())
    assert (accepted, refused) == (1, 11)
