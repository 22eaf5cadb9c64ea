"""Runs outlive the process that accepted them: a server killed with ``kill -9`` mid-run
is restarted, and the run resumes from its last checkpoint (nodes that completed are not
run again), attempt 2, and ends ``success``; a run lost too often ends ``error``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import cli_env, write
from serve_process import ServeProcess
from test_backends import backend_config  # noqa: F401  (sqlite and postgres, one suite)

# What both test graphs start with: a state of steps, and a file of side effects.
EFFECTS_GRAPH = """
import operator
import os
import pathlib
import time
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

EFFECTS = pathlib.Path(os.environ["LGP_TEST_EFFECTS"])


class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


def note(line):
    with (EFFECTS / "effects.txt").open("a") as f:
        f.write(line + "\\n")

"""

SLOW = (
    EFFECTS_GRAPH
    + """

def n1(state):
    note("n1")
    return {"steps": ["n1"]}


def n2(state):
    note("n2-start")
    deadline = time.monotonic() + 60
    while not (EFFECTS / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    note("n2")
    return {"steps": ["n2"]}


def n3(state):
    note("n3")
    return {"steps": ["n3"]}


b = StateGraph(S)
for name, fn in (("n1", n1), ("n2", n2), ("n3", n3)):
    b.add_node(name, fn)
b.add_edge(START, "n1")
b.add_edge("n1", "n2")
b.add_edge("n2", "n3")
b.add_edge("n3", END)
workflow = b.compile()
"""
)


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_run_killed_mid_node_resumes_from_its_checkpoint_after_restart(
    backend_config: str,  # noqa: F811 (the fixture imported above)
    project: Path,
    tmp_path: Path,
) -> None:
    from langgraph_sdk import get_sync_client

    effects = tmp_path / "effects"
    effects.mkdir()
    write(project / "workflows" / "slow.py", SLOW)
    env = cli_env(LGP_TEST_EFFECTS=str(effects))
    log = tmp_path / "serve.log"
    first = ServeProcess(project, ["workflows/slow.py"], env, log).start()
    second = ServeProcess(project, ["workflows/slow.py"], env, log)
    try:
        client = get_sync_client(url=first.url, api_key=None)
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "slow", input={"steps": []})
        lines = lambda: (effects / "effects.txt").read_text().split()  # noqa: E731
        _wait_for(lambda: (effects / "effects.txt").exists() and "n2-start" in lines(),
                  30, "n2 to start")  # fmt: skip
        # n1 completed once its checkpoint is written; with LangGraph's default
        # durability ("async") that write may still be in flight as n2 starts.
        _wait_for(lambda: client.threads.get_state(thread)["values"].get("steps") == ["n1"],
                  30, "n1's checkpoint")  # fmt: skip
        first.kill()
        (effects / "release").touch()

        second.start()
        client = get_sync_client(url=second.url, api_key=None)
        final = client.runs.join(thread, run["run_id"])
        assert final["steps"] == ["n1", "n2", "n3"]
        # n1 completed before the kill: it is not run again. n2 was cut off: it runs
        # again from the checkpoint n1 left.
        assert lines() == ["n1", "n2-start", "n2-start", "n2", "n3"]
        after = client.runs.get(thread, run["run_id"])
        assert after["status"] == "success"
        assert after["attempt"] == 2
        assert client.threads.get(thread)["status"] == "idle"
        assert f"Resuming from checkpoint: {thread}" in second.stderr()
    finally:
        first.kill()
        second.stop()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(10)
    return proc.pid


def _orphan(
    lab,
    thread_id: str,
    status: str,
    attempt: int,
    input: dict,
    *,
    owner: str | None = None,
    lease_until: float | None = None,
) -> str:
    """A run row as a process that died left it (by default a dead process here)."""
    import socket
    import uuid

    from lgp_lab.runtime.runs.records import _now

    run_id = str(uuid.uuid4())
    now = _now().isoformat()
    row = {
        "run_id": run_id, "thread_id": thread_id, "assistant_id": "a", "status": status,
        "multitask_strategy": "enqueue", "attempt": attempt, "created_at": now,
        "updated_at": now, "metadata": {},
        "kwargs": {"input": input, "config": {"configurable": {"graph_id": "basic_workflow"}},
                   "stream_mode": ["values"]},
        "owner": owner or f"{socket.gethostname()}:{_dead_pid()}:dead",
        "lease_until": time.time() + 60 if lease_until is None else lease_until,
    }  # fmt: skip

    async def put() -> None:
        await (await lab.runs.astore()).put(row)

    lab._call(put())
    return run_id


@pytest.fixture
def lab(backend_config: str, project: Path):  # noqa: F811
    """A Lab on the backend (the conftest one, after the backend's config is written)."""
    from lgp_lab import Lab

    with Lab(root=project) as lab:
        yield lab


def test_a_pending_run_of_a_dead_process_runs_when_the_next_one_starts(lab) -> None:
    lab.load("workflows/basic_workflow.py")
    lab.thread_records.create("orphaned")
    run_id = _orphan(lab, "orphaned", "pending", 1, {"input": "left behind"})
    lab._call(lab.runs.astart())
    state = lab._call(lab.runs.ajoin("orphaned", run_id))
    assert "left behind" in str(state)
    run = lab._call(lab.runs.aget("orphaned", run_id))
    assert (run.status, run.attempt) == ("success", 1)  # it had not started: attempt 1


def test_a_run_lost_too_often_ends_error(lab) -> None:
    lab.load("workflows/basic_workflow.py")
    lab.thread_records.create("unlucky")
    max_attempts = lab.config.runs.max_attempts
    # "running" in the row: it had started, so this adoption is attempt max + 1.
    run_id = _orphan(lab, "unlucky", "running", max_attempts, {"input": "x"})
    lab._call(lab.runs.astart())
    run = lab._call(lab.runs.aget("unlucky", run_id))
    assert run.status == "error"
    assert run.attempt == max_attempts + 1


def test_runs_of_a_live_process_are_not_adopted(lab) -> None:
    import socket
    import uuid

    from lgp_lab.runtime.runs.records import _now

    lab.load("workflows/basic_workflow.py")
    lab.thread_records.create("alive")
    # The parent of this test process is alive: its runs stay its own.
    now = _now().isoformat()
    run_id = str(uuid.uuid4())

    async def put() -> None:
        await (await lab.runs.astore()).put({
            "run_id": run_id, "thread_id": "alive", "assistant_id": "a", "status": "pending",
            "multitask_strategy": "enqueue", "attempt": 1, "created_at": now,
            "updated_at": now, "metadata": {}, "kwargs": {"input": {"input": "x"}},
            "owner": f"{socket.gethostname()}:{os.getppid()}:other",
            "lease_until": time.time() + 60,
        })  # fmt: skip

    lab._call(put())
    lab._call(lab.runs.astart())
    run = lab._call(lab.runs.aget("alive", run_id))
    assert run.status == "pending"


def test_a_run_of_another_machine_is_adopted_only_when_its_lease_ran_out(lab) -> None:
    """Another machine's process cannot be checked: its lease decides."""
    lab.load("workflows/basic_workflow.py")
    lab.thread_records.create("far")
    held = _orphan(lab, "far", "pending", 1, {"input": "a"}, owner="elsewhere:1:x",
                   lease_until=time.time() + 300)  # fmt: skip
    lab._call(lab.runs.astart())
    assert lab._call(lab.runs.aget("far", held)).status == "pending"
    lab.thread_records.create("far2")
    lapsed = _orphan(lab, "far2", "pending", 1, {"input": "b"}, owner="elsewhere:2:y",
                     lease_until=time.time() - 1)  # fmt: skip
    lab._call(lab.runs.astart())
    assert "b" in str(lab._call(lab.runs.ajoin("far2", lapsed)))
    assert lab._call(lab.runs.aget("far2", lapsed)).status == "success"


FLAKY = (
    EFFECTS_GRAPH
    + """

def first(state):
    note("first")
    return {"steps": ["first"]}


def flaky(state):
    note("flaky")
    if (EFFECTS / "effects.txt").read_text().split().count("flaky") == 1:
        raise ConnectionError("the upstream service hiccuped")
    return {"steps": ["flaky"]}


b = StateGraph(S)
b.add_node("first", first)
b.add_node("flaky", flaky)
b.add_edge(START, "first")
b.add_edge("first", "flaky")
b.add_edge("flaky", END)
workflow = b.compile()
"""
)


@pytest.mark.parametrize("retry", [True, False])
def test_retry_on_error_resumes_a_failed_run_from_its_checkpoint(
    lab, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, retry: bool
) -> None:
    monkeypatch.setenv("LGP_TEST_EFFECTS", str(tmp_path))
    write(project / "workflows" / "flaky.py", FLAKY)
    lab.config.runs.retry_on_error = retry
    lab.config.runs.retry_backoff_seconds = 0.01
    wf = lab.load("workflows/flaky.py")
    lab.thread_records.create("t")

    async def go():
        run = await lab.runs.acreate(
            thread_id="t", assistant_id="a", graph_id=wf, input={"steps": []}
        )
        values = await lab.runs.ajoin("t", run.run_id)
        return values, await lab.runs.aget("t", run.run_id)

    values, run = lab._call(go())
    effects = (tmp_path / "effects.txt").read_text().split()
    if retry:
        assert (run.status, run.attempt) == ("success", 2)
        assert values["steps"] == ["first", "flaky"]
        assert effects == ["first", "flaky", "flaky"]  # `first` is not run again
    else:
        assert (run.status, run.attempt) == ("error", 1)
        assert "hiccuped" in str(values)
        assert effects == ["first", "flaky"]


def test_a_live_process_that_stopped_renewing_loses_its_runs_to_replicas(
    lab,
    backend_config: str,  # noqa: F811
) -> None:
    """With replicas (PostgreSQL) the lease decides: a process that stopped renewing it
    (stuck, or killed and not yet reaped) has lost its runs. One SQLite server renews no
    lease: its runs stay its own while its process lives."""
    import socket

    lab.load("workflows/basic_workflow.py")
    lab.thread_records.create("stuck")
    run_id = _orphan(lab, "stuck", "pending", 1, {"input": "z"},
                     owner=f"{socket.gethostname()}:{os.getppid()}:stuck",
                     lease_until=time.time() - 1)  # fmt: skip
    lab._call(lab.runs.astart())
    if backend_config == "postgres":
        assert "z" in str(lab._call(lab.runs.ajoin("stuck", run_id)))
        assert lab._call(lab.runs.aget("stuck", run_id)).status == "success"
    else:
        assert lab._call(lab.runs.aget("stuck", run_id)).status == "pending"


# n2 blocks only where it runs first (the replica that gets stuck); where the run is
# resumed it goes straight through.
STUCK_ONCE = SLOW.replace(
    """    note("n2-start")
    deadline""",
    """    first = "n2-start" not in (EFFECTS / "effects.txt").read_text().split()
    note("n2-start")
    deadline = time.monotonic() if not first else None
    deadline""",
).replace("deadline = time.monotonic() + 60", "deadline = deadline or time.monotonic() + 60")


def test_a_stuck_replica_that_lost_its_lease_stops_and_does_not_overwrite_the_run(
    project: Path, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replica A stops renewing (stuck) mid-node; B adopts the run once A's lease ran out
    and finishes it from the checkpoint. When A comes back, it finds the run taken: it
    stops there (n3 runs once, on B) and does not write its own end over B's record."""
    from lgp_lab import Lab

    effects = tmp_path / "effects"
    effects.mkdir()
    (effects / "effects.txt").touch()
    monkeypatch.setenv("LGP_TEST_EFFECTS", str(effects))
    write(project / "workflows" / "slow.py", STUCK_ONCE)
    write(project / "config" / "experiment.yaml",
          f"checkpoint:\n  backend: postgres\n  url: {postgres_url}\n  pool_max_size: 4\n"
          "observability:\n  console: false\nruns:\n  lease_seconds: 1.5\n"
          "  retry_backoff_seconds: 0\n  poll_seconds: 0.1\n")  # fmt: skip
    lines = lambda: (effects / "effects.txt").read_text().split()  # noqa: E731
    with Lab(root=project) as a, Lab(root=project) as b:
        a.load("workflows/slow.py")
        b.load("workflows/slow.py")
        a._call(a.runs.astart())
        a.thread_records.create("shared")
        run = a._call(a.runs.acreate(thread_id="shared", assistant_id="slow", graph_id="slow",
                                     input={"steps": []}))  # fmt: skip
        _wait_for(lambda: "n2-start" in lines(), 30, "n2 to start on A")
        a._call(a.runs._ownership.aclose())  # A is stuck: it renews no lease from now on
        b._call(b.runs.astart())
        _wait_for(lambda: b._call(b.runs.aget("shared", run.run_id)).status == "success",
                  30, "B to adopt and finish the run")  # fmt: skip
        assert lines() == ["n1", "n2-start", "n2-start", "n2", "n3"]

        async def wake_up() -> None:  # A renews again: it finds the run taken
            a.runs._ownership.start()

        a._call(wake_up())
        _wait_for(lambda: run.run_id not in a.runs._owned(), 10, "A to let the run go")
        (effects / "release").touch()  # A's n2 thread returns now; its graph must not go on
        final = a._call(a.runs.ajoin("shared", run.run_id))  # followed on B's record
        time.sleep(0.5)
        record = b._call(b.runs.aget("shared", run.run_id))
    assert final["steps"] == ["n1", "n2", "n3"]
    assert lines().count("n3") == 1
    assert (record.status, record.attempt) == ("success", 2)
