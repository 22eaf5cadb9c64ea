"""Session queries answered in SQL over a real checkpoint file."""

from __future__ import annotations

import datetime as dt

import pytest

from lgp_lab import Lab
from lgp_lab.runtime.sessions import checkpoint_time


def test_threads_are_listed_with_counts_and_times(lab: Lab) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    lab.run("basic_workflow", "a", thread_id="one")
    lab.run("basic_workflow", "b", thread_id="one")
    lab.run("basic_workflow", "c", thread_id="two")
    threads = lab.sessions.threads()
    assert [t.thread_id for t in threads] == ["two", "one"]  # newest activity first
    one = threads[1]
    assert one.workflow == "basic_workflow" and one.environment == "experiment"
    assert one.checkpoints == lab.sessions.count_checkpoints("one") == 8  # 4 per run
    assert start < one.created_at < one.updated_at < dt.datetime.now(dt.UTC)
    assert lab.sessions.thread("one") == one
    assert lab.sessions.thread("nope") is None
    assert lab.sessions.count_threads() == 2
    assert lab.sessions.count_threads("basic_workflow") == 2
    assert lab.sessions.count_threads("other") == 0
    assert lab.sessions.threads("other") == []
    assert [t.thread_id for t in lab.sessions.threads(limit=1, offset=1)] == ["one"]
    assert one.to_dict()["created_at"].endswith("Z")


def test_history_pages_and_state_at_a_checkpoint(lab: Lab) -> None:
    for word in ("x", "y", "z"):
        lab.run("basic_workflow", word, thread_id="h")
    first_page = lab.sessions.history("h", limit=5)
    second_page = lab.sessions.history("h", limit=5, before=first_page[-1].checkpoint_id)
    third = lab.sessions.history("h", limit=5, before=second_page[-1].checkpoint_id)
    ids = [c.checkpoint_id for c in first_page + second_page + third]
    assert len(ids) == len(set(ids)) == 12
    assert ids == sorted(ids, reverse=True)
    assert first_page[0].workflow_version == 1 and first_page[0].source == "loop"
    assert lab.sessions.state("h")["input"] == "z"
    oldest_loop = [c for c in third if c.source == "loop"][-1]
    assert lab.sessions.state("h", oldest_loop.checkpoint_id)["input"] == "x"
    assert "__start__" not in lab.sessions.state("h")


def test_delete_thread(lab: Lab) -> None:
    lab.run("basic_workflow", "a", thread_id="gone")
    lab.sessions.delete("gone")
    assert lab.sessions.thread("gone") is None and lab.sessions.state("gone") == {}


def test_checkpoint_time_decodes_uuid6() -> None:
    from langgraph.checkpoint.base.id import uuid6

    now = dt.datetime.now(dt.UTC)
    decoded = checkpoint_time(str(uuid6(clock_seq=3)))
    assert decoded is not None and abs((decoded - now).total_seconds()) < 1
    assert checkpoint_time("not-a-uuid") is None
    assert checkpoint_time("12345678-1234-4234-8234-123456789012") is None  # uuid4


ASKING = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt

class S(TypedDict, total=False):
    input: str
    a: str
    b: str

def first(state):
    return {"a": interrupt("first question")}

def second(state):
    return {"b": interrupt({"ask": "second"})}

workflow = StateGraph(S)
workflow.add_node("first", first)
workflow.add_node("second", second)
workflow.add_edge(START, "first")
workflow.add_edge(START, "second")
workflow.add_edge("first", END)
workflow.add_edge("second", END)
"""


def test_thread_status_and_pending_interrupts_match_langgraph(lab: Lab, project) -> None:
    from conftest import write
    from langgraph.types import Command

    write(project / "workflows" / "asking.py", ASKING)
    result = lab.run("workflows/asking.py", {"input": "x"}, thread_id="q")
    assert result.status == "interrupted"
    info = lab.sessions.thread("q")
    assert info.status == "interrupted"
    assert {(i.node, str(i.value)) for i in info.interrupts} == {
        ("first", "first question"),
        ("second", "{'ask': 'second'}"),
    }
    # The same ids LangGraph's own state snapshot reports.
    graph = lab.workflows["asking"].graph
    snapshot = lab._call(graph.aget_state({"configurable": {"thread_id": "q"}}))
    assert {i.id for i in info.interrupts} == {i.id for i in snapshot.interrupts}
    assert info.to_dict()["interrupts"][0].keys() == {"id", "value", "node"}

    # Answer one of the two: the other is still pending.
    first_id = next(i.id for i in info.interrupts if i.node == "first")
    lab.run("workflows/asking.py", thread_id="q", resume={first_id: "A"})
    info = lab.sessions.thread("q")
    assert info.status == "interrupted" and [i.node for i in info.interrupts] == ["second"]
    lab._call(graph.ainvoke(Command(resume="B"), {"configurable": {"thread_id": "q"}}))
    info = lab.sessions.thread("q")
    assert info.status == "idle" and info.interrupts == []
    assert lab.sessions.state("q") == {"input": "x", "a": "A", "b": "B"}
    assert [t.status for t in lab.sessions.threads()] == ["idle"]


def test_a_failed_run_leaves_the_thread_in_error(lab: Lab, project) -> None:
    from conftest import write

    from lgp_lab.errors import WorkflowRunError

    write(
        project / "workflows" / "boom.py",
        """
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START, END

        class S(TypedDict, total=False):
            input: str

        def boom(state):
            raise RuntimeError("no")

        workflow = StateGraph(S)
        workflow.add_node("boom", boom)
        workflow.add_edge(START, "boom")
        workflow.add_edge("boom", END)
        """,
    )
    with pytest.raises(WorkflowRunError):
        lab.run("workflows/boom.py", {"input": "x"}, thread_id="e")
    assert lab.sessions.thread("e").status == "error"
    assert lab.sessions.threads()[0].status == "error"
    lab.run("basic_workflow", "hi", thread_id="fine")
    assert lab.sessions.thread("fine").status == "idle"


def test_a_thread_with_a_run_in_flight_is_busy(lab: Lab) -> None:
    lab.run("basic_workflow", "a", thread_id="b")
    with lab.sessions.active.running("b"), lab.sessions.active.running("b"):
        assert lab.sessions.thread("b").status == "busy"
    assert "b" not in lab.sessions.active
    with lab.sessions.active.running("b"):
        assert [t.status for t in lab.sessions.threads()] == ["busy"]
    assert lab.sessions.thread("b").status == "idle"


WAITING = """
import time
from pathlib import Path
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

STARTED, RELEASE = Path({started!r}), Path({release!r})

class S(TypedDict, total=False):
    input: str

def hold(state):
    STARTED.write_text("1")
    for _ in range(600):  # bounded wait for the test's go-ahead
        if RELEASE.exists():
            break
        time.sleep(0.01)
    return {{"input": "done"}}

workflow = StateGraph(S)
workflow.add_node("hold", hold)
workflow.add_edge(START, "hold")
workflow.add_edge("hold", END)
"""


def test_a_running_workflow_makes_its_thread_busy(lab: Lab, project, tmp_path) -> None:
    import threading
    import time

    from conftest import write

    started, release = tmp_path / "started", tmp_path / "release"
    write(
        project / "workflows" / "waiting.py",
        WAITING.format(started=str(started), release=str(release)),
    )
    lab.run("basic_workflow", "first", thread_id="w")  # the thread exists
    runner = threading.Thread(target=lambda: lab.run("workflows/waiting.py", {}, thread_id="w"))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert started.exists()
        assert lab.sessions.thread("w").status == "busy"
    finally:
        release.write_text("go")
        runner.join(30)
    assert lab.sessions.thread("w").status == "idle"
