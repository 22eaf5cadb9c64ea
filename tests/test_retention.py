"""Checkpoint retention on both backends: ``lab.retention.prune`` and the TTL sweeper.

Each test runs on a real SQLite file and on a real PostgreSQL server (tests/postgres.py).
What a prune leaves is checked the way users see it: the thread's state, LangGraph's own
``aget_state_history``, the API's ``/threads/{id}/history`` through the official SDK, an
interrupted thread resuming, and plain LangGraph (an in-memory saver running the same
inputs) as the oracle for what continuing a pruned thread gives. On PostgreSQL, LangGraph's
own ``AsyncPostgresSaver.aprune`` is the oracle for what ``keep_latest`` keeps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import runpy
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write

from lgp_lab import Lab
from lgp_lab.errors import ConfigError
from lgp_lab.runtime.retention import resolve_ttl
from lgp_lab.storage.retention import (
    PrunePolicy,
    ThreadNotFoundError,
    parse_age,
    uuid6_floor,
)

BACKENDS = ["sqlite", "postgres"]

# A parent graph with a subgraph node: every run writes root checkpoints and a subgraph
# call's namespace ("child:<task id>"), and accumulates `steps`.
LOOP = """
import operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import END, START, StateGraph


class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]
    blob: str


def inner(state: S) -> S:
    return {"steps": ["inner"]}


sub = StateGraph(S)
sub.add_node("inner", inner)
sub.add_edge(START, "inner")
sub.add_edge("inner", END)
child = sub.compile()


def a(state: S) -> S:
    return {"steps": ["a"], "blob": "x" * 3000 + str(len(state.get("steps", [])))}


def b(state: S) -> S:
    return {"steps": ["b"]}


builder = StateGraph(S)
builder.add_node("a", a)
builder.add_node("child", child)
builder.add_node("b", b)
builder.add_edge(START, "a")
builder.add_edge("a", "child")
builder.add_edge("child", "b")
builder.add_edge("b", END)
graph = builder
"""

# A subgraph that stops at interrupt(): the thread waits with a pending interrupt that
# lives in the subgraph's namespace and on the root's latest checkpoint.
ASK = """
import operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


def question(state: S) -> S:
    answer = interrupt("ok?")
    return {"steps": [f"answer:{answer}"]}


sub = StateGraph(S)
sub.add_node("question", question)
sub.add_edge(START, "question")
sub.add_edge("question", END)
child = sub.compile()


def a(state: S) -> S:
    return {"steps": ["a"]}


builder = StateGraph(S)
builder.add_node("a", a)
builder.add_node("child", child)
builder.add_edge(START, "a")
builder.add_edge("a", "child")
builder.add_edge("child", END)
graph = builder
"""


class Backend:
    """The temp project's database, read directly (SQLite file or PostgreSQL URL)."""

    def __init__(self, name: str, project: Path, url: str | None) -> None:
        self.name, self.project, self.url = name, project, url

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.name == "sqlite":
            with sqlite3.connect(self.project / ".lgp" / "checkpoints.sqlite") as conn:
                return conn.execute(sql, params).fetchall()
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchall()  # type: ignore[arg-type]

    @property
    def writes_table(self) -> str:
        return "writes" if self.name == "sqlite" else "checkpoint_writes"

    def namespaces(self, thread_id: str) -> dict[str, int]:
        rows = self.rows(
            "SELECT checkpoint_ns, COUNT(*) FROM checkpoints WHERE thread_id = ? "
            "GROUP BY checkpoint_ns",
            thread_id,
        )
        return dict(rows)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, project: Path) -> Backend:
    url = None
    checkpoint = "checkpoint:\n  backend: sqlite\n"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        checkpoint = f"checkpoint:\n  backend: postgres\n  url: {url}\n  pool_max_size: 4\n"
    write(project / "config" / "experiment.yaml", checkpoint + "observability:\n  console: false\n")
    write(project / "workflows" / "loop.py", LOOP)
    write(project / "workflows" / "ask.py", ASK)
    return Backend(request.param, project, url)


@pytest.fixture
def lab(db: Backend) -> Iterator[Lab]:
    with Lab(root=db.project) as lab:
        yield lab


def _graph(lab: Lab, name: str) -> Any:
    return lab.load(f"workflows/{name}.py").graph


def _config(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def _state(lab: Lab, name: str, thread_id: str) -> Any:
    return lab.engine.call(_graph(lab, name).aget_state(_config(thread_id)))


def _history(lab: Lab, name: str, thread_id: str) -> list[Any]:
    graph = _graph(lab, name)

    async def collect() -> list[Any]:
        return [s async for s in graph.aget_state_history(_config(thread_id))]

    return lab.engine.call(collect())


def _oracle(db: Backend, name: str, inputs: list[Any], thread_id: str = "o") -> Any:
    """Plain LangGraph on an in-memory saver: the same inputs, the state it ends with."""
    from langgraph.checkpoint.memory import InMemorySaver

    module = runpy.run_path(str(db.project / "workflows" / f"{name}.py"))
    graph = module["builder"].compile(checkpointer=InMemorySaver())
    for value in inputs:
        graph.invoke(value, _config(thread_id))
    return graph.get_state(_config(thread_id))


# ---------------------------------------------------------------------- prune


def test_keep_latest_keeps_state_history_ends_cleanly_and_thread_continues(
    db: Backend, lab: Lab
) -> None:
    inputs = [{"steps": [f"in{i}"]} for i in range(4)]
    for thread_id in ("t1", "t2"):
        for value in inputs:
            lab.run("workflows/loop.py", value, thread_id=thread_id)
    before = _state(lab, "loop", "t1")
    root_before = db.namespaces("t1")[""]
    assert len([ns for ns in db.namespaces("t1") if ns.startswith("child:")]) == 4

    # A run writes root checkpoints input, a, child, b; its subgraph call started from
    # the "a" one. Keeping 3 keeps that one, so the last call stays with it.
    report = lab.retention.prune(keep_latest=3)

    assert report.backend == db.name and not report.dry_run
    assert report.threads_scanned == report.threads_pruned == 2
    left = db.namespaces("t1")
    assert left[""] == 3 and root_before > 3
    assert len([ns for ns in left if ns.startswith("child:")]) == 1
    # Keeping 2 deletes the checkpoint the last call started from: the call goes too.
    lab.retention.prune(keep_latest=2)
    left = db.namespaces("t1")
    assert left == {"": 2}
    after = _state(lab, "loop", "t1")
    assert after.values == before.values and after.next == before.next
    history = _history(lab, "loop", "t1")
    assert [h.config["configurable"]["checkpoint_id"] for h in history] == [
        r[0]
        for r in db.rows(
            "SELECT checkpoint_id FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = '' "
            "ORDER BY checkpoint_id DESC",
            "t1",
        )
    ]
    assert history[-1].parent_config is None  # no link to a deleted checkpoint
    assert (
        history[0].parent_config["configurable"]["checkpoint_id"]
        == (history[1].config["configurable"]["checkpoint_id"])
    )
    # No write is left hanging off a deleted checkpoint.
    orphans = db.rows(
        f"SELECT COUNT(*) FROM {db.writes_table} AS w WHERE NOT EXISTS (SELECT 1 FROM "
        "checkpoints AS c WHERE c.thread_id = w.thread_id AND c.checkpoint_ns = "
        "w.checkpoint_ns AND c.checkpoint_id = w.checkpoint_id)"
    )
    assert orphans[0][0] == 0
    # Continuing the pruned thread gives what plain LangGraph gives.
    lab.run("workflows/loop.py", {"steps": ["in4"]}, thread_id="t1")
    expected = _oracle(db, "loop", [*inputs, {"steps": ["in4"]}])
    assert _state(lab, "loop", "t1").values == expected.values


def test_dry_run_counts_exactly_what_the_prune_then_removes(db: Backend, lab: Lab) -> None:
    for i in range(3):
        lab.run("workflows/loop.py", {"steps": [f"in{i}"]}, thread_id="t")
    total = db.rows("SELECT COUNT(*) FROM checkpoints")[0][0]
    writes = db.rows(f"SELECT COUNT(*) FROM {db.writes_table}")[0][0]

    dry = lab.retention.prune(keep_latest=1, dry_run=True)

    assert dry.dry_run and dry.checkpoints > 0 and dry.writes > 0
    assert db.rows("SELECT COUNT(*) FROM checkpoints")[0][0] == total
    assert db.rows(f"SELECT COUNT(*) FROM {db.writes_table}")[0][0] == writes
    real = lab.retention.prune(keep_latest=1)
    assert (real.checkpoints, real.writes, real.blobs) == (dry.checkpoints, dry.writes, dry.blobs)
    assert db.rows("SELECT COUNT(*) FROM checkpoints")[0][0] == total - real.checkpoints
    assert db.rows(f"SELECT COUNT(*) FROM {db.writes_table}")[0][0] == writes - real.writes
    if db.name == "postgres":
        assert real.blobs > 0
        # Every blob left is one a kept checkpoint references.
        unreferenced = db.rows(
            "SELECT COUNT(*) FROM checkpoint_blobs AS b WHERE NOT EXISTS (SELECT 1 FROM "
            "checkpoints AS c WHERE c.thread_id = b.thread_id AND c.checkpoint_ns = "
            "b.checkpoint_ns AND c.checkpoint -> 'channel_versions' ->> b.channel = b.version)"
        )
        assert unreferenced[0][0] == 0
    again = lab.retention.prune(keep_latest=1)
    assert again.checkpoints == 0 and again.threads_scanned == 0


def _row_bytes(db: Backend) -> int:
    """Bytes held by every checkpoint, write and blob row, summed in the database."""
    if db.name == "sqlite":
        columns = {
            "checkpoints": "thread_id checkpoint_ns checkpoint_id parent_checkpoint_id type "
            "checkpoint metadata",
            "writes": "thread_id checkpoint_ns checkpoint_id task_id task_path idx channel "
            "type value",
        }
        return sum(
            db.rows(
                "SELECT COALESCE(SUM("
                + " + ".join(f"COALESCE(length(CAST({c} AS BLOB)), 0)" for c in cols.split())
                + f"), 0) FROM {table}"
            )[0][0]
            for table, cols in columns.items()
        )
    return sum(
        db.rows(f"SELECT COALESCE(SUM(pg_column_size(t.*)), 0) FROM {table} AS t")[0][0]
        for table in ("checkpoints", "checkpoint_writes", "checkpoint_blobs")
    )


def test_dry_run_estimates_the_bytes_the_prune_then_frees(db: Backend, lab: Lab) -> None:
    for i in range(3):
        lab.run("workflows/loop.py", {"steps": [f"in{i}"]}, thread_id="t")
    before = _row_bytes(db)

    dry = lab.retention.prune(keep_latest=1, dry_run=True)

    assert dry.deleted_bytes > 0 and _row_bytes(db) == before  # counted, nothing removed
    real = lab.retention.prune(keep_latest=1)
    assert real.deleted_bytes == dry.deleted_bytes
    left = db.rows("SELECT COUNT(*) FROM checkpoints")[0][0]
    # The rows deleted held the estimate; kept checkpoints whose parent went lost only
    # that parent id (at most ~64 bytes each on either backend).
    assert 0 <= (before - _row_bytes(db)) - dry.deleted_bytes <= 64 * left


def test_interrupted_thread_keeps_its_interrupt_and_resumes_after_prune(
    db: Backend, lab: Lab
) -> None:
    for i in range(3):
        result = lab.run("workflows/ask.py", {"steps": [f"in{i}"]}, thread_id="q")
        if i < 2:
            lab.resume("q", f"yes{i}")
    assert result.status == "interrupted"
    waiting = _state(lab, "ask", "q")
    assert [i.value for i in waiting.interrupts] == ["ok?"]

    report = lab.retention.prune(keep_latest=1)

    assert report.checkpoints > 0
    state = _state(lab, "ask", "q")
    assert [i.value for i in state.interrupts] == ["ok?"] and state.next == ("child",)
    # The waiting subgraph call kept its namespace; the finished ones went.
    calls = [ns for ns in db.namespaces("q") if ns.startswith("child:")]
    assert len(calls) == 1
    pending = db.rows(
        f"SELECT COUNT(*) FROM {db.writes_table} WHERE thread_id = ? AND channel = '__interrupt__'",
        "q",
    )
    assert pending[0][0] >= 1
    done = lab.resume("q", "yes2")
    assert done.status == "complete"
    from langgraph.types import Command

    module = runpy.run_path(str(db.project / "workflows" / "ask.py"))
    from langgraph.checkpoint.memory import InMemorySaver

    plain = module["builder"].compile(checkpointer=InMemorySaver())
    for i in range(3):
        plain.invoke({"steps": [f"in{i}"]}, _config("o"))
        plain.invoke(Command(resume=f"yes{i}"), _config("o"))
    assert _state(lab, "ask", "q").values == plain.get_state(_config("o")).values


SLOW = """
import operator
import os
import time
from pathlib import Path
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import END, START, StateGraph


class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


def a(state: S) -> S:
    return {"steps": ["a"]}


def wait(state: S) -> S:
    gate = Path(os.environ["LGP_TEST_GATE"])
    if state["steps"][-2:] == ["last", "a"]:  # only the run the test holds
        (gate / "started").touch()
        deadline = time.monotonic() + 20
        while not (gate / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return {"steps": ["wait"]}


builder = StateGraph(S)
builder.add_node("a", a)
builder.add_node("wait", wait)
builder.add_edge(START, "a")
builder.add_edge("a", "wait")
builder.add_edge("wait", END)
graph = builder
"""


def test_a_run_writing_during_the_prune_ends_as_plain_langgraph_would(
    db: Backend, lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lab.run leaves no run record, so the prune does not skip the thread: it prunes
    while the run is half way, and the run's next checkpoints still fit."""
    import threading

    gate = tmp_path / "gate"
    gate.mkdir()
    monkeypatch.setenv("LGP_TEST_GATE", str(gate))
    write(db.project / "workflows" / "slow.py", SLOW)
    inputs = [{"steps": [str(i)]} for i in range(3)] + [{"steps": ["last"]}]
    for value in inputs[:-1]:
        lab.run("workflows/slow.py", value, thread_id="w")
    done: list[Any] = []
    runner = threading.Thread(
        target=lambda: done.append(lab.run("workflows/slow.py", inputs[-1], thread_id="w"))
    )
    runner.start()
    try:
        assert _wait_until(20, (gate / "started").exists)
        report = lab.retention.prune(keep_latest=1)
        assert report.checkpoints > 0 and report.skipped_busy == []
    finally:
        (gate / "go").touch()
        runner.join(30)
    assert done and done[0].status == "complete"
    expected = _oracle(db, "slow", inputs)
    assert _state(lab, "slow", "w").values == expected.values
    history = _history(lab, "slow", "w")
    assert history[0].values == expected.values
    ids = {h.config["configurable"]["checkpoint_id"] for h in history}
    assert all(
        h.parent_config is None or h.parent_config["configurable"]["checkpoint_id"] in ids
        for h in history
    )


def test_older_than_removes_only_old_checkpoints(db: Backend, lab: Lab) -> None:
    for i in range(3):
        lab.run("workflows/loop.py", {"steps": [f"old{i}"]}, thread_id="t")
    old_ids = {r[0] for r in db.rows("SELECT checkpoint_id FROM checkpoints WHERE thread_id = 't'")}
    # The clock moves on past the last old checkpoint before the new ones are written.
    boundary = time.time()
    deadline = boundary + 5
    while time.time() < boundary + 0.3 and time.time() < deadline:
        time.sleep(0.01)
    lab.run("workflows/loop.py", {"steps": ["new"]}, thread_id="t")
    lab.run("workflows/loop.py", {"steps": ["new2"]}, thread_id="t")
    new_ids = {
        r[0] for r in db.rows("SELECT checkpoint_id FROM checkpoints WHERE thread_id = 't'")
    } - old_ids

    report = lab.retention.prune(older_than=dt.timedelta(seconds=time.time() - boundary))

    left = {r[0] for r in db.rows("SELECT checkpoint_id FROM checkpoints WHERE thread_id = 't'")}
    assert new_ids <= left  # everything newer than the cutoff stays
    assert not (left & old_ids)  # the old root checkpoints and their calls went
    assert report.checkpoints == len(old_ids)
    # With a cutoff far in the past nothing is old enough.
    assert lab.retention.prune(older_than=dt.timedelta(days=1)).checkpoints == 0


def test_thread_filter_and_unknown_thread(db: Backend, lab: Lab) -> None:
    for thread_id in ("a", "b"):
        for i in range(3):
            lab.run("workflows/loop.py", {"steps": [str(i)]}, thread_id=thread_id)
    b_before = db.namespaces("b")

    report = lab.retention.prune(keep_latest=1, thread_ids=["a"])

    assert report.threads_scanned == 1 and db.namespaces("a")[""] == 1
    assert db.namespaces("b") == b_before
    with pytest.raises(ThreadNotFoundError, match="'nope' has no checkpoints"):
        lab.retention.prune(keep_latest=1, thread_ids=["a", "nope"])
    with pytest.raises(ValueError, match="keep_latest must be at least 1"):
        lab.retention.prune(keep_latest=0)


def test_threads_with_a_run_in_flight_or_a_delta_channel_are_skipped(db: Backend, lab: Lab) -> None:
    for thread_id in ("busy", "free"):
        for i in range(3):
            lab.run("workflows/loop.py", {"steps": [str(i)]}, thread_id=thread_id)
    # A run queued on "busy" (as another replica or process would leave it).
    lab.engine.call(lab.thread_records.atouch("busy", status="busy"))
    write(
        db.project / "workflows" / "delta.py",
        """
        from typing import Annotated
        from typing_extensions import TypedDict
        from langgraph.channels.delta import DeltaChannel
        from langgraph.graph import END, START, StateGraph

        def extend(state, writes):
            out = list(state or [])
            for w in writes:
                out.extend(w)
            return out

        class S(TypedDict):
            items: Annotated[list, DeltaChannel(extend)]

        def a(state):
            return {"items": ["a"]}

        builder = StateGraph(S)
        builder.add_node("a", a)
        builder.add_edge(START, "a")
        builder.add_edge("a", END)
        graph = builder
        """,
    )
    for _ in range(3):
        lab.run("workflows/delta.py", {"items": ["x"]}, thread_id="delta")
    delta_before = db.namespaces("delta")
    busy_before = db.namespaces("busy")

    report = lab.retention.prune(keep_latest=1)

    assert report.skipped_busy == ["busy"] and report.skipped_delta == ["delta"]
    assert db.namespaces("busy") == busy_before and db.namespaces("delta") == delta_before
    assert db.namespaces("free")[""] == 1
    assert _state(lab, "delta", "delta").values == {"items": ["x", "a"] * 3}


def test_api_history_after_prune_through_the_official_sdk(db: Backend, lab: Lab) -> None:
    import h11  # noqa: F401  (uvicorn's protocol import, off the engine loop)
    from langgraph_sdk import get_sync_client

    from lgp_lab.server.background import start_server

    for i in range(4):
        lab.run("workflows/loop.py", {"steps": [str(i)]}, thread_id="api")
    lab.retention.prune(keep_latest=2)
    handle = start_server(lab, ["workflows/loop.py"], port=0)
    try:
        client = get_sync_client(url=handle.url)
        history = client.threads.get_history("api", limit=100)
        state = client.threads.get_state("api")
    finally:
        handle.stop()
    assert len(history) == 2
    assert history[-1]["parent_checkpoint"] is None
    assert state["values"]["steps"] == _state(lab, "loop", "api").values["steps"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # PostgreSQL: bench/retention.py
def test_sqlite_file_shrinks_and_later_prunes_vacuum_incrementally(db: Backend, lab: Lab) -> None:
    for thread_id in ("a", "b", "c"):
        for i in range(8):
            lab.run("workflows/loop.py", {"steps": [str(i)]}, thread_id=thread_id)
    file = db.project / ".lgp" / "checkpoints.sqlite"

    first = lab.retention.prune(keep_latest=1)

    assert first.size_after < first.size_before / 2
    assert first.vacuum.startswith("VACUUM (file switched to incremental")
    assert file.stat().st_size <= first.size_after
    assert db.rows("PRAGMA auto_vacuum")[0][0] == 2
    for i in range(4):
        lab.run("workflows/loop.py", {"steps": [str(i)]}, thread_id="a")
    lab.traces.list(limit=1)  # the runs' traces are written now, not during the prune
    second = lab.retention.prune(keep_latest=1)
    assert second.vacuum.startswith("incremental vacuum") and second.checkpoints > 0
    assert second.size_after < second.size_before


def test_keep_latest_matches_langgraphs_own_aprune(project: Path, postgres_url: str) -> None:
    """PostgreSQL: the same threads pruned by lgp_lab and by AsyncPostgresSaver.aprune
    (langgraph-checkpoint-postgres' own keep_latest) keep the same rows."""
    from lgp_lab.config import CheckpointConfig
    from lgp_lab.storage.retention import prune

    write(project / "workflows" / "loop.py", LOOP)
    write(project / "workflows" / "ask.py", ASK)
    loop_builder = runpy.run_path(str(project / "workflows" / "loop.py"))["builder"]
    ask_builder = runpy.run_path(str(project / "workflows" / "ask.py"))["builder"]

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        from langgraph.types import Command

        from lgp_lab.storage.postgres.checkpoints import close_postgres_saver, open_postgres_saver

        saver = await open_postgres_saver(CheckpointConfig(backend="postgres", url=postgres_url))
        try:
            loop = loop_builder.compile(checkpointer=saver)
            ask = ask_builder.compile(checkpointer=saver)
            for who in ("ours", "theirs"):
                for i in range(3):
                    await loop.ainvoke({"steps": [str(i)]}, _config(f"{who}-loop"))
                    await ask.ainvoke({"steps": [str(i)]}, _config(f"{who}-ask"))
                    if i < 2:
                        await ask.ainvoke(Command(resume="y"), _config(f"{who}-ask"))
            await prune(saver, PrunePolicy(thread_ids=("ours-loop", "ours-ask")), vacuum="none")
            await saver.aprune(["theirs-loop", "theirs-ask"], strategy="keep_latest")
            return await _shape(saver, "ours"), await _shape(saver, "theirs")
        finally:
            await close_postgres_saver(saver)

    ours, theirs = asyncio.run(scenario())
    assert ours == theirs


async def _shape(saver: Any, who: str) -> dict[str, Any]:
    """Per thread: rows left per table, namespaces kind, roots' parent links."""
    from psycopg.rows import tuple_row

    out: dict[str, Any] = {}
    async with saver.conn.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        for kind in ("loop", "ask"):
            thread_id = f"{who}-{kind}"
            shape = {}
            for table in ("checkpoints", "checkpoint_writes", "checkpoint_blobs"):
                await cur.execute(
                    f"SELECT split_part(checkpoint_ns, ':', 1), COUNT(*) FROM {table} "
                    "WHERE thread_id = %s GROUP BY 1 ORDER BY 1",
                    (thread_id,),
                )
                shape[table] = await cur.fetchall()
            await cur.execute(
                "SELECT checkpoint_ns = '', parent_checkpoint_id IS NULL FROM checkpoints "
                "WHERE thread_id = %s ORDER BY 1, 2",
                (thread_id,),
            )
            shape["parents"] = await cur.fetchall()
            out[kind] = shape
    return out


# ---------------------------------------------------------------------- TTL


def _ttl_config(db: Backend, extra: str) -> None:
    text = (db.project / "config" / "experiment.yaml").read_text()
    text = text.replace("checkpoint:\n", "checkpoint:\n" + extra, 1)
    (db.project / "config" / "experiment.yaml").write_text(text)


def _wait_until(deadline_s: float, check: Any) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_ttl_sweep_deletes_idle_threads_and_keeps_fresh_and_busy_ones(db: Backend) -> None:
    _ttl_config(db, "  ttl: 0.02\n  ttl_sweep_interval_minutes: 600\n")  # 1.2 s idle
    with Lab(root=db.project) as lab:
        assert lab.retention.ttl is not None and lab.retention.ttl.minutes == 0.02
        for thread_id in ("idle", "held"):
            lab.run("workflows/loop.py", {"steps": ["x"]}, thread_id=thread_id)
        lab.thread_records.create("record-only")
        # A thread the Agent API ran: it has a run record and a thread record too.
        run = lab.engine.call(
            lab.runs.acreate(
                thread_id="api",
                assistant_id="loop",
                graph_id="workflows/loop.py",
                input={"steps": ["x"]},
                if_not_exists="create",
            )
        )
        lab.engine.call(lab.runs.ajoin("api", run.run_id))
        assert db.rows("SELECT COUNT(*) FROM lgp_runs WHERE thread_id = 'api'")[0][0] == 1
        lab.engine.call(lab.thread_records.atouch("held", status="busy"))
        idle_since = time.time()
        _wait_until(10, lambda: time.time() > idle_since + 1.5)
        lab.run("workflows/loop.py", {"steps": ["x"]}, thread_id="fresh")

        report = lab.retention.sweep()

        assert sorted(report.threads) == ["api", "idle", "record-only"]
        assert lab.sessions.thread("idle") is None
        assert lab.sessions.thread("api") is None and lab.thread_records.get("api") is None
        assert db.rows("SELECT COUNT(*) FROM lgp_runs WHERE thread_id = 'api'")[0][0] == 0
        assert lab.thread_records.get("record-only") is None
        assert lab.sessions.thread("fresh") is not None
        assert lab.sessions.thread("held") is not None


@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # replicas share one database
def test_one_replica_sweeps_at_a_time_on_postgres(db: Backend) -> None:
    import psycopg

    from lgp_lab.storage.postgres.retention import SWEEP_LOCK_KEY

    _ttl_config(db, "  ttl: 0.001\n  ttl_sweep_interval_minutes: 600\n")
    with Lab(root=db.project) as lab:
        lab.run("workflows/loop.py", {"steps": ["x"]}, thread_id="old")
        _wait_until(10, lambda: not _is_fresh(lab, "old", 0.1))
        # Another replica is sweeping: it holds the lock.
        with psycopg.connect(db.url, autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(%s)", (SWEEP_LOCK_KEY,))
            skipped = lab.retention.sweep()
            assert skipped.by_another and skipped.threads == []
            assert lab.sessions.thread("old") is not None
            other.execute("SELECT pg_advisory_unlock(%s)", (SWEEP_LOCK_KEY,))
        swept = lab.retention.sweep()
        assert not swept.by_another and swept.threads == ["old"]


def _is_fresh(lab: Lab, thread_id: str, seconds: float) -> bool:
    latest = lab.sessions.thread(thread_id)
    return latest is not None and uuid6_floor(time.time() - seconds) <= (
        latest.last_checkpoint_id or ""
    )


def test_ttl_keep_latest_prunes_idle_threads_in_the_background(db: Backend) -> None:
    _ttl_config(
        db, "  ttl: 0.01\n  ttl_strategy: keep_latest\n  ttl_sweep_interval_minutes: 0.01\n"
    )
    with Lab(root=db.project) as lab:
        for i in range(3):
            lab.run("workflows/loop.py", {"steps": [str(i)]}, thread_id="long")
        values = _state(lab, "loop", "long").values
        # The sweeper runs every 0.6 s; once the thread is idle for 0.6 s it is pruned.
        assert _wait_until(20, lambda: db.namespaces("long").get("") == 1), lab.retention.last_sweep
        assert lab.sessions.thread("long") is not None
        assert _state(lab, "loop", "long").values == values


def test_ttl_from_langgraph_json_and_config_wins_key_by_key(project: Path) -> None:
    from lgp_lab.config import load_config
    from lgp_lab.runtime.project import read_project

    spec = {"strategy": "keep_latest", "default_ttl": 43200, "sweep_interval_minutes": 60}
    write(
        project / "langgraph.json",
        json.dumps({"graphs": {}, "checkpointer": {"ttl": spec}}),
    )
    lg = read_project(project / "langgraph.json")
    write(project / "config" / "experiment.yaml", "checkpoint:\n  backend: sqlite\n")
    policy = resolve_ttl(load_config(start=project), lg)
    assert policy is not None
    assert (policy.minutes, policy.strategy, policy.sweep_interval_minutes) == (
        43200,
        "keep_latest",
        60,
    )
    assert policy.source.endswith("langgraph.json")
    write(
        project / "config" / "experiment.yaml",
        "checkpoint:\n  ttl: 30\n  ttl_sweep_interval_minutes: 1\n",
    )
    policy = resolve_ttl(load_config(start=project), lg)
    assert policy is not None
    assert (policy.minutes, policy.strategy, policy.sweep_interval_minutes) == (
        30,
        "keep_latest",
        1,
    )
    assert resolve_ttl(load_config(start=project), None).strategy == "delete"  # type: ignore[union-attr]

    for bad, message in (
        ({"strategy": "archive", "default_ttl": 5}, "strategy must be one of delete, keep_latest"),
        ({"default_ttl": -1}, "default_ttl must be a positive number"),
        ({"default_tll": 5}, "unknown key 'default_tll'"),
    ):
        write(project / "langgraph.json", json.dumps({"graphs": {}, "checkpointer": {"ttl": bad}}))
        with pytest.raises(ConfigError, match=message) as caught:
            resolve_ttl(load_config(start=project), read_project(project / "langgraph.json"))
        assert "langgraph.json" in str(caught.value)


def test_a_malformed_ttl_fails_the_lab_before_the_database_opens(project: Path) -> None:
    write(
        project / "langgraph.json",
        json.dumps({"graphs": {}, "checkpointer": {"ttl": {"strategy": "nope"}}}),
    )
    with Lab(root=project) as lab, pytest.raises(ConfigError, match=r"checkpointer\.ttl\.strategy"):
        lab.run("workflows/basic_workflow.py", "hi")
    assert not (project / ".lgp" / "checkpoints.sqlite").exists()


# ---------------------------------------------------------------------- helpers


def test_parse_age_and_uuid6_floor() -> None:
    assert parse_age("30d") == dt.timedelta(days=30)
    assert parse_age("1d12h") == dt.timedelta(hours=36)
    assert parse_age("90m") == dt.timedelta(minutes=90)
    assert parse_age("2w") == dt.timedelta(weeks=2)
    for bad in ("", "30", "3x", "d30", "1d 2"):
        with pytest.raises(ValueError, match="is not an age"):
            parse_age(bad)
    from langgraph.checkpoint.base.id import uuid6

    before = uuid6_floor(time.time())
    made = str(uuid6())
    after = uuid6_floor(time.time() + 0.01)
    assert before <= made < after
    assert PrunePolicy(older_than=dt.timedelta(0)).cutoff_id() > made
