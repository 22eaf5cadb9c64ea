"""Session queries answered in SQL over a real checkpoint file."""

from __future__ import annotations

import datetime as dt

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
