"""The one conformance suite every storage backend passes: SQLite (a real file) and
PostgreSQL (a real server, tests/postgres.py), each test run on both.

Store by store (runs, thread records, assistants, session queries, traces, schema
version) the same calls must give the same rows; then end to end: a Lab on the backend
runs workflows, threads persist across Labs, interrupts resume, the store persists, and
the official ``langgraph_sdk`` works against ``lgp-lab serve`` on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from conftest import cli_env, write
from typing_extensions import TypedDict

from lgp_lab.config import load_config

BACKENDS = ["sqlite", "postgres"]
# Database calls must never hold a Lab's engine loop (tests/loop_watchdog.py).
pytestmark = pytest.mark.loop_watchdog


@pytest.fixture(params=BACKENDS)
def backend_config(request: pytest.FixtureRequest, project: Path) -> str:
    """Points the temp project's experiment config at the backend; returns its name."""
    checkpoint = "checkpoint:\n  backend: sqlite\n"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        checkpoint = f"checkpoint:\n  backend: postgres\n  url: {url}\n  pool_max_size: 4\n"
    write(project / "config" / "experiment.yaml", checkpoint + "observability:\n  console: false\n")
    return request.param


class Db:
    """The backend's checkpointer (opened the way the Lab opens it) on a private loop."""

    def __init__(self, project: Path) -> None:
        self.config = load_config(start=project)
        self._runner = asyncio.Runner()
        self.saver: Any = None

    def run(self, coro: Any) -> Any:
        return self._runner.run(coro)

    def open(self) -> Db:
        from lgp_lab.storage import create_checkpointer

        self.saver = self.run(create_checkpointer(self.config))
        return self

    def close(self) -> None:
        from lgp_lab.storage import close_checkpointer

        with contextlib.suppress(Exception):
            self.run(close_checkpointer(self.saver))
        self._runner.close()

    def store(self, kind: str) -> Any:
        import lgp_lab.storage as cp

        return getattr(cp, f"{kind}_store_for")(self.saver)

    def trace_store(self) -> Any:
        if self.config.checkpoint.backend == "postgres":
            from lgp_lab.storage.postgres.traces import PostgresTraceStore

            return PostgresTraceStore(self.saver.conn)
        from lgp_lab.storage.sqlite.traces import LocalTraceStore

        return LocalTraceStore(self.saver.conn, self.saver.lock)

    def graph(self, *, interrupting: bool = False) -> Any:
        """A two-node graph on this checkpointer (``b`` may interrupt for a value)."""
        from langgraph.graph import END, START, StateGraph
        from langgraph.types import interrupt

        class S(TypedDict, total=False):
            items: Annotated[list, operator.add]

        def a(state: S) -> S:
            return {"items": ["a"]}

        def b(state: S) -> S:
            return {"items": [interrupt("more?") if interrupting else "b"]}

        builder = StateGraph(S)
        builder.add_node("a", a)
        builder.add_node("b", b)
        builder.add_edge(START, "a")
        builder.add_edge("a", "b")
        builder.add_edge("b", END)
        return builder.compile(checkpointer=self.saver)

    def invoke(self, thread_id: str, value: Any = None, **metadata: Any) -> Any:
        graph = self.graph(interrupting=metadata.pop("interrupting", False))
        config = {"configurable": {"thread_id": thread_id}, "metadata": metadata}
        return self.run(graph.ainvoke(value if value is not None else {"items": []}, config))

    def state(self, thread_id: str) -> Any:
        return self.run(self.graph().aget_state({"configurable": {"thread_id": thread_id}}))


@pytest.fixture
def db(backend_config: str, project: Path) -> Iterator[Db]:
    opened = Db(project).open()
    try:
        yield opened
    finally:
        opened.close()


def _run_row(run_id: str, thread_id: str, created: str, **changes: Any) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "thread_id": thread_id,
        "assistant_id": "asst",
        "status": "pending",
        "multitask_strategy": "reject",
        "attempt": 1,
        "created_at": created,
        "updated_at": created,
        "kwargs": {"input": {"q": "ü", "n": [1, 2]}, "config": {}},
        "metadata": {"who": "ann"},
        **changes,
    }


# ---------------------------------------------------------------------- runs


def test_runs_put_get_list_status_delete(db: Db) -> None:
    runs = db.store("run")
    t0 = "2026-01-01T00:00:00+00:00"
    for run_id, created in [("r1", t0), ("r2", t0), ("r3", "2026-01-01T00:00:01+00:00")]:
        db.run(runs.put(_run_row(run_id, "T", created)))
    db.run(runs.put(_run_row("x1", "other", t0)))

    got = db.run(runs.get("T", "r1"))
    assert got == _run_row("r1", "T", t0)
    assert db.run(runs.get(None, "r1")) == got
    assert db.run(runs.get("other", "r1")) is None
    assert db.run(runs.get(None, "nope")) is None
    # newest first; runs created in the same instant: the later insert first
    listed = db.run(runs.list("T", limit=10, offset=0))
    assert [r["run_id"] for r in listed] == ["r3", "r2", "r1"]
    assert [r["run_id"] for r in db.run(runs.list("T", limit=1, offset=1))] == ["r2"]

    db.run(runs.set_status("r2", "running", "2026-01-01T00:00:05+00:00"))
    db.run(runs.set_status("r1", "pending", "2026-01-01T00:00:06+00:00", attempt=2))
    assert db.run(runs.get("T", "r1"))["attempt"] == 2
    running = db.run(runs.list("T", limit=10, offset=0, status="running"))
    assert [(r["run_id"], r["updated_at"]) for r in running] == [
        ("r2", "2026-01-01T00:00:05+00:00")
    ]
    orphans = db.run(runs.orphans(("pending", "running")))
    assert sorted(r["run_id"] for r in orphans) == ["r1", "r2", "r3", "x1"]

    assert db.run(runs.delete("r3")) is True
    assert db.run(runs.delete("r3")) is False
    assert db.run(runs.delete_thread("T")) == 2
    assert db.run(runs.list("T", limit=10, offset=0)) == []
    assert db.run(runs.get(None, "x1")) is not None


def test_runs_rollback_deletes_the_checkpoints_of_one_run(db: Db) -> None:
    db.invoke("T", run_id="R1", workflow="wf")
    before = db.state("T").values
    db.invoke("T", run_id="R2", workflow="wf")
    assert db.state("T").values["items"] == ["a", "b", "a", "b"]
    deleted = db.run(db.store("run").delete_checkpoints_of_run("T", "R2"))
    assert deleted >= 3  # input, a, b
    assert db.state("T").values == before
    assert db.run(db.store("run").delete_checkpoints_of_run("T", "R2")) == 0
    # the thread continues from R1's state
    db.invoke("T", run_id="R3", workflow="wf")
    assert db.state("T").values["items"] == ["a", "b", "a", "b"]


def test_run_ownership_stale_adopt_open_runs(db: Db) -> None:
    """What keeps a run alive past its process (runtime.runs.ownership), alike on both."""
    import socket

    runs = db.store("run")
    now = time.time()
    dead = f"{socket.gethostname()}:999999999:dead"  # this machine, a process long gone
    t0, t1 = "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:01+00:00"
    db.run(runs.put({**_run_row("o1", "T", t0), "owner": dead, "lease_until": now - 5}))
    db.run(runs.put({**_run_row("o2", "T", t1), "owner": "me", "lease_until": now + 60}))
    finished = _run_row("o3", "U", t0, status="success")
    db.run(runs.put({**finished, "owner": dead, "lease_until": now - 5}))

    stale = db.run(runs.stale("me", now))
    assert [(r["run_id"], r["owner"]) for r in stale] == [("o1", dead)]
    assert abs(stale[0]["lease_until"] - (now - 5)) < 0.01
    assert {k: v for k, v in stale[0].items() if k not in ("owner", "lease_until")} == (
        _run_row("o1", "T", t0)
    )
    opened = db.run(runs.open_runs("T"))
    assert [(r["run_id"], r["owner"]) for r in opened] == [("o1", dead), ("o2", "me")]
    assert abs(opened[1]["lease_until"] - (now + 60)) < 0.01

    # adoption is a compare-and-set on the owner: one process wins
    assert db.run(runs.adopt("o1", dead, "me", now + 60, 2)) is True
    assert db.run(runs.adopt("o1", dead, "other", now + 60, 2)) is False
    adopted = db.run(runs.get(None, "o1"))
    assert (adopted["attempt"], adopted["status"]) == (2, "pending")
    assert db.run(runs.stale("me", now)) == []
    assert db.run(runs.adopt("o3", dead, "me", now + 60, 2)) is False  # finished: not open

    # an end written by an owner that lost the run is refused (fenced on the owner)
    t2 = "2026-01-01T00:00:02+00:00"
    assert db.run(runs.set_status("o1", "success", t2, owner=dead)) is False
    assert db.run(runs.get(None, "o1"))["status"] == "pending"
    assert db.run(runs.set_status("o1", "running", t2, owner="me")) is True
    assert db.run(runs.get(None, "o1"))["status"] == "running"

    assert db.run(runs.run_checkpointed("T", "o1")) is False
    db.invoke("T", run_id="o1", workflow="wf")
    assert db.run(runs.run_checkpointed("T", "o1")) is True
    assert db.run(runs.run_checkpointed("T", "o2")) is False

    # a run with nothing else open on its thread is taken at once
    db.run(runs.put({**_run_row("v1", "V", t0), "owner": "me", "lease_until": now + 60}))
    assert db.run(runs.claim_run("v1", "V", "me", now + 60)) is True

    # runs taken from a live owner: on replicas (PostgreSQL) the row says who took them;
    # one SQLite server's runs are adopted only once its process is gone
    lost = db.run(runs.lost(dead, ["o1", "v1", "nope"]))
    assert lost == ({"o1": "me", "v1": "me"} if runs.distributed else {})
    assert db.run(runs.lost("me", ["o1", "v1"])) == {}


# ---------------------------------------------------------------------- threads


def test_thread_records_insert_get_touch_delete(db: Db) -> None:
    threads = db.store("thread")
    assert db.run(threads.insert("T", {"user": "ann", "n": 1}, 100.0)) is True
    assert db.run(threads.insert("T", {"user": "bob"}, 101.0)) is False
    assert db.run(threads.get("T")) == {
        "thread_id": "T",
        "created_at": 100.0,
        "updated_at": 100.0,
        "metadata": {"user": "ann", "n": 1},
        "status": "idle",
        "owner": None,
    }
    # merge by top-level key; busy keeps its owner; another status clears it
    busy = db.run(threads.touch("T", 102.0, metadata={"n": 2}, status="busy", owner="h:1"))
    assert busy["metadata"] == {"user": "ann", "n": 2} and busy["owner"] == "h:1"
    assert busy["created_at"] == 100.0 and busy["updated_at"] == 102.0
    assert db.run(threads.touch("T", 103.0, metadata={"k": True}))["owner"] == "h:1"
    idle = db.run(threads.touch("T", 104.0, status="idle"))
    assert idle["status"] == "idle" and idle["owner"] is None
    replaced = db.run(threads.touch("T", 105.0, metadata={"only": 1}, replace=True))
    assert replaced["metadata"] == {"only": 1}
    assert db.run(threads.get("T")) == {**replaced, "created_at": 100.0}
    # touching a missing thread creates it
    made = db.run(threads.touch("U", 106.0, status="busy", owner="h:2"))
    assert (made["status"], made["owner"], made["created_at"]) == ("busy", "h:2", 106.0)
    assert sorted(r["thread_id"] for r in db.run(threads.records())) == ["T", "U"]
    assert [r["thread_id"] for r in db.run(threads.records(["U", "nope"]))] == ["U"]
    assert db.run(threads.records([])) == []
    assert db.run(threads.delete("U")) is True
    assert db.run(threads.delete("U")) is False


def test_thread_search_filters_sorts_and_pages(db: Db) -> None:
    from lgp_lab.runtime.threads import assistant_id_for, contains

    threads = db.store("thread")
    db.run(threads.insert("t-int", {"n": 1, "tags": ["a", "b"], "who": {"id": 7}}, 10.0))
    db.run(threads.insert("t-str", {"n": "1", "ok": True, "tags": ["b"]}, 20.0))
    db.run(threads.insert("t-bool", {"n": True, "ok": False}, 30.0))
    db.invoke("t-run", workflow="wf")  # checkpoints only, no record
    db.invoke("t-both", workflow="wf")
    db.run(threads.insert("t-both", {"graph_id": "mine"}, 5.0))

    def ids(metadata: dict[str, Any] | None = None, **kw: Any) -> list[str]:
        rows = db.run(threads.search(metadata=metadata, **kw))
        if metadata and not threads.sql_filterable(metadata):  # the domain's exact check
            rows = [r for r in rows if contains(r["metadata"], metadata)]
        return sorted(r["thread_id"] for r in rows)

    every = {r["thread_id"]: r for r in db.run(threads.search())}
    assert set(every) == {"t-int", "t-str", "t-bool", "t-run", "t-both"}
    run_only = every["t-run"]
    assert run_only["metadata"] == {"graph_id": "wf", "assistant_id": assistant_id_for("wf")}
    assert run_only["has_record"] is False and run_only["workflow"] == "wf"
    assert run_only["last_checkpoint_id"] is not None and run_only["record_status"] is None
    assert run_only["created_at"] <= run_only["updated_at"] <= time.time() + 1
    # a record's own graph_id wins over the workflow's; the derived assistant_id stays
    assert every["t-both"]["metadata"] == {
        "graph_id": "mine",
        "assistant_id": assistant_id_for("wf"),
    }
    assert every["t-both"]["created_at"] == 5.0 and every["t-int"]["updated_at"] == 10.0

    assert ids({"n": 1}) == ["t-int"]
    assert ids({"n": "1"}) == ["t-str"]
    assert ids({"n": True}) == ["t-bool"]
    assert ids({"graph_id": "wf"}) == ["t-run"]
    assert ids({"assistant_id": assistant_id_for("wf")}) == ["t-both", "t-run"]
    if threads.sql_filterable({"tags": ["b"]}):  # nested values, where SQL decides them
        assert ids({"tags": ["b"]}) == ["t-int", "t-str"]
        assert ids({"who": {"id": 7}}) == ["t-int"]
    assert ids(ids=["t-str", "t-run", "nope"]) == ["t-run", "t-str"]
    assert db.run(threads.count()) == 5
    assert db.run(threads.count(metadata={"n": 1})) == 1
    assert db.run(threads.count(ids=["t-int", "t-bool"])) == 2

    by_id = db.run(threads.search(sort_by="thread_id", descending=False, limit=2, offset=1))
    assert [r["thread_id"] for r in by_id] == ["t-both", "t-int"]
    newest = db.run(threads.search(sort_by="updated_at", limit=2))
    assert {r["thread_id"] for r in newest} == {"t-run", "t-both"}  # checkpoint times: now
    oldest = db.run(threads.search(sort_by="created_at", descending=False, limit=1))
    assert oldest[0]["thread_id"] == "t-both"


def test_thread_checkpoint_queries_copy_and_prune(db: Db) -> None:
    threads = db.store("thread")
    db.invoke("src", workflow="wf")
    db.invoke("src", workflow="wf")
    db.invoke("held", workflow="wf", interrupting=True)
    assert db.run(threads.has_checkpoints("src")) is True
    assert db.run(threads.has_checkpoints("nope")) is False
    rows = {r[0]: r for r in db.run(threads.checkpoint_threads())}
    assert set(rows) == {"src", "held"}
    only = db.run(threads.checkpoint_threads("src"))
    assert len(only) == 1 and only[0][3] == "wf" and only[0][1] < only[0][2]
    flagged = db.run(threads.flagged([(t, rows[t][2]) for t in rows]))
    assert flagged == {"held": {"__interrupt__"}}
    assert db.run(threads.search(flag="__interrupt__"))[0]["thread_id"] == "held"

    copied = db.run(threads.copy_checkpoints("src", "dst"))
    assert copied == 8  # two runs of input + a + b + end... as stored, all of them
    assert db.state("dst").values == db.state("src").values == {"items": ["a", "b"] * 2}
    history = db.run(_history(db, "dst"))
    assert len(history) == copied
    deleted = db.run(threads.prune_history("dst"))
    assert deleted == copied - 1
    assert db.state("dst").values == {"items": ["a", "b"] * 2}
    assert len(db.run(_history(db, "dst"))) == 1
    assert len(db.run(_history(db, "src"))) == copied  # the source is untouched
    # the pruned thread runs on from its latest state
    db.invoke("dst", workflow="wf")
    assert db.state("dst").values == {"items": ["a", "b"] * 3}


async def _history(db: Db, thread_id: str) -> list[Any]:
    graph = db.graph()
    return [s async for s in graph.aget_state_history({"configurable": {"thread_id": thread_id}})]


def test_thread_search_through_the_domain_is_jsonb_containment(
    backend_config: str, project: Path
) -> None:
    """Whatever the store decides in SQL, ThreadRecords answers alike on both."""
    from lgp_lab import Lab
    from lgp_lab.runtime.threads import assistant_id_for

    with Lab(root=project) as lab:
        records = lab.thread_records
        records.create("t-int", metadata={"n": 1, "tags": ["a", "b"], "who": {"id": 7, "x": 1}})
        records.create("t-str", metadata={"n": "1", "ok": True, "tags": ["b"]})
        records.create("t-null", metadata={"n": None})
        lab.run("basic_workflow", {"input": "hi"}, thread_id="t-run")

        def ids(**filters: Any) -> list[str]:
            return sorted(t["thread_id"] for t in records.search(limit=100, **filters))

        assert ids(metadata={"n": 1}) == ["t-int"]
        assert ids(metadata={"n": None}) == ["t-null"]
        assert ids(metadata={"tags": ["b"]}) == ["t-int", "t-str"]
        assert ids(metadata={"who": {"id": 7}}) == ["t-int"]
        assert ids(metadata={"graph_id": "basic_workflow"}) == ["t-run"]
        aid = assistant_id_for("basic_workflow")
        assert ids(metadata={"assistant_id": aid}) == ["t-run"]
        assert ids(values={"input": "hi"}) == ["t-run"]
        assert ids(status="idle") == ["t-int", "t-null", "t-run", "t-str"]
        assert records.count(metadata={"tags": ["b"]}) == 2
        assert records.count(metadata={"assistant_id": aid}) == 1
        assert records.count() == 4
        page = records.search(sort_by="thread_id", sort_order="asc", limit=2, offset=1)
        assert [t["thread_id"] for t in page] == ["t-null", "t-run"]


# ---------------------------------------------------------------------- assistants


def test_assistants_versions(db: Db) -> None:
    store = db.store("assistant")
    first = {
        "assistant_id": "A",
        "graph_id": "wf",
        "config": {"configurable": {"k": 1}},
        "context": {"tone": "dry"},
        "metadata": {"team": "x"},
        "name": "first",
        "description": None,
    }
    assert db.run(store.insert(first, 10.0)) is True
    assert db.run(store.insert({**first, "name": "again"}, 11.0)) is False
    assert db.run(store.get("A")) == {**first, "version": 1, "created_at": 10.0, "updated_at": 10.0}
    assert db.run(store.update("A", {"name": "second", "metadata": {"v": 2}}, 12.0)) is True
    assert db.run(store.update("nope", {"name": "x"}, 12.0)) is False
    current = db.run(store.get("A"))
    assert current["version"] == 2 and current["name"] == "second"
    assert current["metadata"] == {"team": "x", "v": 2} and current["context"] == {"tone": "dry"}
    versions = db.run(store.versions("A"))
    assert [(v["version"], v["name"]) for v in versions] == [(2, "second"), (1, "first")]
    assert versions[1]["created_at"] == versions[1]["updated_at"] == 10.0
    assert db.run(store.set_latest("A", 1, 13.0)) is True
    assert db.run(store.set_latest("A", 9, 13.0)) is False
    back = db.run(store.get("A"))
    assert (back["version"], back["name"], back["updated_at"]) == (1, "first", 13.0)
    assert [a["assistant_id"] for a in db.run(store.all())] == ["A"]
    assert db.run(store.delete("A")) is True
    assert db.run(store.delete("A")) is False
    assert db.run(store.versions("A")) == [] and db.run(store.all()) == []


# ---------------------------------------------------------------------- sessions


def test_session_queries(db: Db) -> None:
    sessions = db.store("session")
    db.invoke("one", workflow="wf")
    db.invoke("two", workflow="other")
    db.invoke("two", workflow="other")
    db.invoke("held", workflow="wf", interrupting=True)

    listed = db.run(sessions.list_threads())
    assert [t["thread_id"] for t in listed] == ["held", "two", "one"]  # newest first
    two = listed[1]
    assert two["checkpoints"] == 8 and two["metadata"]["workflow"] == "other"
    assert two["first_checkpoint_id"] < two["last_checkpoint_id"]
    assert {t["thread_id"]: t["status"] for t in listed} == {
        "held": "interrupted",
        "two": "idle",
        "one": "idle",
    }
    assert [t["thread_id"] for t in db.run(sessions.list_threads(workflow="wf"))] == [
        "held",
        "one",
    ]
    assert [t["thread_id"] for t in db.run(sessions.list_threads(limit=1, offset=1))] == ["two"]
    assert [t["thread_id"] for t in db.run(sessions.list_threads(thread_id="one"))] == ["one"]
    assert db.run(sessions.count_threads()) == 3
    assert db.run(sessions.count_threads(workflow="other")) == 1
    assert db.run(sessions.count_checkpoints("two")) == 8
    assert db.run(sessions.latest_checkpoint_id("two")) == two["last_checkpoint_id"]
    assert db.run(sessions.latest_checkpoint_id("nope")) is None

    page = db.run(sessions.list_checkpoints("two", limit=3))
    assert [c["checkpoint_id"] for c in page] == sorted(
        (c["checkpoint_id"] for c in page), reverse=True
    )
    assert page[0]["checkpoint_id"] == two["last_checkpoint_id"]
    assert page[0]["nodes"] == ["b"] and page[1]["nodes"] == ["a"]
    assert page[0]["parent_checkpoint_id"] == page[1]["checkpoint_id"]
    rest = db.run(sessions.list_checkpoints("two", limit=20, before=page[-1]["checkpoint_id"]))
    assert len(rest) == 5 and rest[0]["checkpoint_id"] < page[-1]["checkpoint_id"]
    tasks = db.run(sessions.task_nodes("two", page[1]["checkpoint_id"]))
    assert list(tasks.values()) == ["b"]
    assert db.run(sessions.task_nodes("two", None)) == {}

    # A state edit beside the loop's checkpoint (a fork from the one before b's) was not
    # written by b, though b's writes hang off the same parent.
    graph = db.graph()
    parent = {"configurable": {"thread_id": "two", "checkpoint_id": page[1]["checkpoint_id"]}}
    edited = db.run(graph.aupdate_state(parent, {"items": ["edited"]}, as_node="a"))
    [edit] = db.run(sessions.list_checkpoints("two", limit=1))
    assert edit["checkpoint_id"] == edited["configurable"]["checkpoint_id"]
    assert (edit["metadata"]["source"], edit["nodes"]) == ("update", [])
    assert db.run(sessions.list_checkpoints("two", limit=2))[1]["nodes"] == ["b"]


# ---------------------------------------------------------------------- traces


def test_trace_store_writes_lists_and_reads(db: Db) -> None:
    from lgp_lab.observability.model import RunTrace, SpanRecord

    store = db.trace_store()

    async def record() -> None:
        await store.setup()
        for i in range(3):
            run = RunTrace(
                trace_id=f"{i:02d}" + "ab" * 15,
                workflow="wf" if i < 2 else "other",
                workflow_version=1,
                thread_id=f"T{i % 2}",
                environment="experiment",
                input={"q": i},
                tags=["x"],
                metadata={"i": i},
                started_at=1000.0 + i,
            )
            run.spans.append(SpanRecord("s1", "a", 1000.0 + i, input={"q": i}, output={"r": i}))
            run.spans.append(SpanRecord("s2", "b", 1000.5 + i, kind="llm", usage={"in": 3}))
            run.status, run.output, run.duration_ms = "complete", {"r": i}, 5.0
            store.on_run_end(run)
        # written again (a retried run): replaced, not doubled
        store.on_run_end(run)
        await store.aflush()

    db.run(record())
    listed = db.run(store.list_traces())
    assert [t["trace_id"][:2] for t in listed] == ["02", "01", "00"]
    assert listed[0]["metadata"] == {"i": 2} and listed[0]["tags"] == ["x"]
    assert "input" not in listed[0]
    assert [t["trace_id"][:2] for t in db.run(store.list_traces(workflow="wf"))] == ["01", "00"]
    assert [t["trace_id"][:2] for t in db.run(store.list_traces(thread_id="T0"))] == ["02", "00"]
    assert len(db.run(store.list_traces(limit=1, offset=2))) == 1
    full = db.run(store.get_trace("01" + "ab" * 15))
    assert full["input"] == {"q": 1} and full["output"] == {"r": 1}
    assert [(s["name"], s["kind"], s["usage"]) for s in full["spans"]] == [
        ("a", "node", {}),
        ("b", "llm", {"in": 3}),
    ]
    assert db.run(store.get_trace("01abab")) is None  # too short a prefix
    assert db.run(store.get_trace("01ababab"))["trace_id"] == "01" + "ab" * 15
    assert db.run(store.get_trace("nope")) is None
    assert db.run(store.count_since(1001.0)) == 2


# ---------------------------------------------------------------------- schema


def test_schema_is_versioned_and_upgrade_is_idempotent(db: Db) -> None:
    from lgp_lab.storage import schema

    latest = (
        len(schema.POSTGRES_MIGRATIONS)
        if db.config.checkpoint.backend == "postgres"
        else schema.SQLITE_VERSION
    )
    db.run(schema.upgrade(db.saver))
    assert db.run(schema.schema_version(db.saver)) == latest
    assert db.run(schema.upgrade(db.saver)) == (latest, latest)
    # every table we own is there, with the rows of the version table to say so
    tables = ("lgp_runs", "lgp_threads", "lgp_assistants", "lgp_assistant_versions",
              "lgp_traces", "lgp_spans", "lgp_releases", "lgp_incidents")  # fmt: skip
    for table in tables:
        assert db.run(_count(db, table)) == 0, table
    assert db.run(_count(db, schema.SCHEMA_TABLE)) == latest

    # a database one version behind gets the last migration, and only that
    db.run(_sql(db, f"DELETE FROM {schema.SCHEMA_TABLE} WHERE v = {latest}"))
    db.run(_sql(db, "DROP TABLE lgp_incidents"))
    assert db.run(schema.upgrade(db.saver)) == (latest - 1, latest)
    assert db.run(_count(db, "lgp_incidents")) == 0


async def _sql(db: Db, statement: str) -> list[tuple[Any, ...]]:
    """One statement on the backend's own connection (tuple rows)."""
    if db.config.checkpoint.backend == "postgres":
        from lgp_lab.storage.postgres.checkpoints import PgDb

        pg = PgDb(db.saver)
        if statement.startswith("SELECT"):
            return await pg.fetch(statement)
        await pg.execute(statement)
        return []
    async with db.saver.lock:
        async with db.saver.conn.execute(statement) as cur:
            rows = list(await cur.fetchall())
        await db.saver.conn.commit()
    return rows


async def _count(db: Db, table: str) -> int:
    return int((await _sql(db, f"SELECT COUNT(*) FROM {table}"))[0][0])


# ---------------------------------------------------------------------- protocols


def _stores(db: Db) -> list[tuple[type, Any]]:
    """(protocol, the backend's object) for each resource, made the way the code makes
    them: the Backend's stores, the Lab's trace store, retention's backend."""
    from lgp_lab.storage import backend_for
    from lgp_lab.storage import protocols as p
    from lgp_lab.storage.retention import _backend

    backend = backend_for(db.saver)
    return [
        (p.ThreadStore, backend.threads),
        (p.RunStore, backend.runs),
        (p.AssistantStore, backend.assistants),
        (p.SessionStore, backend.sessions),
        (p.TraceStore, db.trace_store()),
        (p.RetentionBackend, _backend(db.saver)),
    ]


def _drift(protocol: type, cls: type) -> list[str]:
    """How ``cls`` differs from ``protocol``: a member missing, a data member of another
    type's default, a method of another kind (static, async) or other parameters (names,
    kinds, defaults)."""
    import inspect
    import typing

    problems: list[str] = []
    for name, hint in typing.get_type_hints(protocol).items():  # data members
        value = inspect.getattr_static(cls, name, None)
        if not isinstance(value, hint):
            problems.append(f"{name}: {value!r} is not a {hint.__name__}")
    methods = [n for n, v in vars(protocol).items() if not n.startswith("_") and callable(v)]
    for name in methods:  # functions, and static methods (callable too)
        want, got = inspect.getattr_static(protocol, name), inspect.getattr_static(cls, name, None)
        if got is None:
            problems.append(f"{name}: missing")
            continue
        if isinstance(want, staticmethod) != isinstance(got, staticmethod):
            problems.append(f"{name}: staticmethod differs")
        if inspect.iscoroutinefunction(getattr(protocol, name)) != inspect.iscoroutinefunction(
            getattr(cls, name)
        ):
            problems.append(f"{name}: async differs")
        shape = [
            [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]
            for f in (getattr(protocol, name), getattr(cls, name))
        ]
        if shape[0] != shape[1]:
            problems.append(f"{name}: {shape[1]} != protocol's {shape[0]}")
    return problems


def test_every_store_is_an_instance_of_its_protocol(db: Db, backend_config: str) -> None:
    for protocol, store in _stores(db):
        assert isinstance(store, protocol), (protocol.__name__, type(store).__name__)
        # this backend's own class (PostgreSQL's trace store subclasses SQLite's)
        assert type(store).__module__.startswith(f"lgp_lab.storage.{backend_config}."), store


def test_store_signatures_match_their_protocols(db: Db) -> None:
    for protocol, store in _stores(db):
        assert _drift(protocol, type(store)) == [], (protocol.__name__, type(store).__name__)


def test_a_store_that_drifts_from_its_protocol_is_caught() -> None:
    from lgp_lab.storage.protocols import RunStore, ThreadStore
    from lgp_lab.storage.sqlite.runs import SqliteRunStore
    from lgp_lab.storage.sqlite.threads import SqliteThreadStore

    class Renamed(SqliteThreadStore):
        async def get(self, thread: str) -> dict[str, Any] | None:  # type: ignore[override]
            return None

    class Defaulted(SqliteThreadStore):
        async def records(self, ids: list[str] | None = None) -> list[dict[str, Any]]:
            return []  # not in the protocol: free to differ

        async def count(self, *, metadata: Any = None, ids: Any = ()) -> int:  # type: ignore[override]
            return 0

    class Synchronous(SqliteRunStore):
        distributed = 0  # type: ignore[assignment]

        def delete(self, run_id: str) -> bool:  # type: ignore[override]
            return False

    assert _drift(ThreadStore, SqliteThreadStore) == []
    assert [p.split(":")[0] for p in _drift(ThreadStore, Renamed)] == ["get"]
    assert [p.split(":")[0] for p in _drift(ThreadStore, Defaulted)] == ["count"]
    assert [p.split(":")[0] for p in _drift(RunStore, Synchronous)] == ["distributed", "delete"]


# ---------------------------------------------------------------------- end to end


HITL = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.store.base import BaseStore
from langgraph.types import interrupt

class S(TypedDict, total=False):
    question: str
    answer: str
    seen: int

def ask(state: S, store: BaseStore):
    answer = interrupt(state["question"])
    item = store.get(("counts",), "asked")
    seen = (item.value["n"] if item else 0) + 1
    store.put(("counts",), "asked", {"n": seen})
    return {"answer": answer, "seen": seen}

graph = StateGraph(S)
graph.add_node("ask", ask)
graph.add_edge(START, "ask")
graph.add_edge("ask", END)
"""


def test_lab_runs_persist_resume_and_store(backend_config: str, project: Path) -> None:
    from langgraph.types import Command

    from lgp_lab import Lab

    write(project / "workflows" / "hitl.py", HITL)
    with Lab(root=project) as lab:
        first = lab.run("basic_workflow", {"input": "my name is Ann"}, thread_id="t1")
        assert first.status == "complete"
        paused = lab.run("workflows/hitl.py", {"question": "ship?"}, thread_id="h1")
        assert paused.status == "interrupted"
        assert lab.sessions.thread("h1").status == "interrupted"
        assert [t.trace_id for t in lab.traces.list(thread_id="t1")]
    with Lab(root=project) as lab:  # another Lab (process) on the same database
        again = lab.run("basic_workflow", {"input": "what is my name?"}, thread_id="t1")
        assert "Ann" in str(again.state["output"])
        assert lab.sessions.thread("t1").checkpoints > 4
        done = lab.run("workflows/hitl.py", Command(resume="yes"), thread_id="h1")
        assert done.status == "complete"
        assert done.state == {"question": "ship?", "answer": "yes", "seen": 1}
        assert lab.store.get(("counts",), "asked").value == {"n": 1}
        assert {t.workflow for t in lab.traces.list()} == {"basic_workflow", "hitl"}
    with Lab(root=project) as lab:
        assert lab.store.get(("counts",), "asked").value == {"n": 1}
        assert [t.thread_id for t in lab.sessions.threads()] == ["h1", "t1"]


KEY = "k" * 40


def test_session_view_holds_every_channel_get_state_holds(
    backend_config: str, project: Path
) -> None:
    """A channel no node wrote (``facts`` after "hello": the reducer's empty dict) is in
    the invoke result and in ``get_state``; ``GET /sessions/{id}`` shows it too."""
    from lgp_lab import Lab
    from lgp_lab.server.background import start_server

    config = project / "config" / "experiment.yaml"
    config.write_text(config.read_text() + f"server:\n  api_keys: [{KEY}]\n")
    with Lab(root=project) as lab:
        handle = start_server(lab, ["basic_workflow"], port=0)
        try:
            with httpx.Client(base_url=handle.url, timeout=30) as api:
                auth = {"Authorization": f"Bearer {KEY}"}
                body = {"input": "hello", "thread_id": "s1"}
                result = api.post("/workflows/basic_workflow/invoke", headers=auth, json=body)
                assert result.status_code == 200, result.text
                assert result.json()["result"]["facts"] == {}
                session = api.get("/sessions/s1", headers=auth)
                assert session.status_code == 200, session.text
        finally:
            handle.stop()
        graph = lab.workflows["basic_workflow"].graph
        snapshot = lab.engine.call(graph.aget_state({"configurable": {"thread_id": "s1"}}))
    assert session.json()["latest_state"] == result.json()["result"] == snapshot.values


def _runs_in_database(backend: str, project: Path, request: pytest.FixtureRequest) -> int:
    """How many run records the backend's database holds (where the server wrote)."""
    if backend == "postgres":
        import psycopg

        with psycopg.connect(request.getfixturevalue("postgres_url")) as conn:
            return conn.execute("SELECT COUNT(*) FROM lgp_runs").fetchone()[0]
    import sqlite3

    with contextlib.closing(sqlite3.connect(project / ".lgp" / "checkpoints.sqlite")) as conn:
        return conn.execute("SELECT COUNT(*) FROM lgp_runs").fetchone()[0]


@pytest.fixture
def served_cli(backend_config: str, project: Path) -> Iterator[str]:
    """``lgp-lab serve`` as a real subprocess on a free port, on the backend."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = cli_env(LGP_API_KEY=KEY)
    write(project / "workflows" / "hitl.py", HITL)
    argv = [sys.executable, "-m", "lgp_lab", "serve", "basic_workflow", "workflows/hitl.py"]
    proc = subprocess.Popen(
        [*argv, "--env", "experiment", "--port", str(port)],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # bounded: 60 s of 0.1 s probes
            if proc.poll() is not None:
                pytest.fail(f"lgp-lab serve exited: {proc.stdout.read().decode()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/ok", timeout=1).status_code < 500:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("lgp-lab serve did not answer within 60 s")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        proc.stdout.close()


def test_official_sdk_against_lgp_lab_serve(
    served_cli: str, backend_config: str, project: Path, request: pytest.FixtureRequest
) -> None:
    from langgraph_sdk import get_sync_client
    from langgraph_sdk.errors import NotFoundError

    client = get_sync_client(url=served_cli, api_key=KEY)
    thread = client.threads.create(metadata={"user": "ann"})
    tid = thread["thread_id"]
    out = client.runs.wait(tid, "basic_workflow", input={"input": "my name is Ann"})
    assert "output" in out
    again = client.runs.wait(tid, "basic_workflow", input={"input": "what is my name?"})
    assert "Ann" in str(again["output"])
    state = client.threads.get_state(tid)
    assert state["values"]["output"] == again["output"] and state["next"] == []
    history = client.threads.get_history(tid, limit=50)
    assert len(history) >= 6
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    runs = client.runs.list(tid)
    assert [r["status"] for r in runs] == ["success", "success"]
    with pytest.raises(NotFoundError):
        client.runs.list("no-such-thread")
    assert _runs_in_database(backend_config, project, request) == 2
    found = client.threads.search(metadata={"user": "ann"})
    assert [t["thread_id"] for t in found] == [tid] and found[0]["status"] == "idle"
    client.store.put_item(["prefs", "ann"], "color", {"v": "green"})
    assert client.store.get_item(["prefs", "ann"], "color")["value"] == {"v": "green"}
    listed = client.store.search_items(["prefs"])
    assert [i["key"] for i in listed["items"]] == ["color"]
    copied = client.threads.copy(tid)
    assert client.threads.get_state(copied["thread_id"])["values"] == state["values"]
    updated = client.threads.update(tid, metadata={"team": "x"})
    assert updated["metadata"]["user"] == "ann" and updated["metadata"]["team"] == "x"
    custom = client.assistants.create("basic_workflow", name="terse", metadata={"v": 1})
    client.assistants.update(custom["assistant_id"], metadata={"v": 2})
    versions = client.assistants.get_versions(custom["assistant_id"])
    assert [v["version"] for v in versions] == [2, 1]
    third = client.runs.wait(tid, custom["assistant_id"], input={"input": "hello"})
    assert "hello" in str(third["output"])
    # an interrupt over the API, resumed with a Command; the node's store write persists
    asked = client.threads.create()["thread_id"]
    paused = client.runs.wait(asked, "hitl", input={"question": "ship?"})
    assert paused["__interrupt__"][0]["value"] == "ship?"
    assert client.threads.get(asked)["status"] == "interrupted"
    done = client.runs.wait(asked, "hitl", command={"resume": "yes"})
    assert (done["answer"], done["seen"]) == ("yes", 1)
    assert client.threads.get(asked)["status"] == "idle"
    assert client.store.get_item(["counts"], "asked")["value"] == {"n": 1}

    client.threads.delete(tid)
    left = client.threads.search(metadata={"user": "ann"})
    assert [t["thread_id"] for t in left] == [copied["thread_id"]]  # the copy stays
    # its runs went with it; the interrupted thread's two stay
    assert _runs_in_database(backend_config, project, request) == 2
