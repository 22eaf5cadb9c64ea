"""Widgets: driven in-process and in a real kernel; saved widget state from nbclient."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, write
from nbclient import NotebookClient
from test_kernel import _execute

from lgp_lab import Lab
from lgp_lab.widgets import SessionExplorer, TraceViewer

HITL = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt

class S(TypedDict, total=False):
    input: str
    decision: str

def ask(state):
    return {"decision": interrupt({"question": "ok?"})}

workflow = StateGraph(S)
workflow.add_node("ask", ask)
workflow.add_edge(START, "ask")
workflow.add_edge("ask", END)
"""


def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def settle_refreshes() -> None:
    """Wait for the refreshes finished runs started: outside a kernel each runs on a
    thread of its own (in a kernel, on the kernel's loop, between cells), and one still
    running would reselect the thread it saw."""
    import threading

    for thread in threading.enumerate():
        if thread.name == "lgp-widget-refresh":
            thread.join(10)


def test_explorer_selection_diff_bytes_and_paging(lab: Lab) -> None:
    for i in range(3):
        lab.run("basic_workflow", f"my item{i} is v{i}", thread_id=f"w{i}")
    for _ in range(5):
        lab.run("basic_workflow", "hello", thread_id="w0")
    explorer = SessionExplorer(lab, page_size=2)
    assert explorer.thread_ids == ["w0", "w2"]  # newest activity first, a page of 2
    assert "of 3" in explorer.thread_count.value and not explorer.next_threads.disabled
    explorer.next_threads.click()
    assert explorer.thread_ids == ["w1"]
    explorer.filter.value = "other_workflow"
    assert explorer.thread_ids == []
    explorer.filter.value = "basic_workflow"
    explorer.threads.value = "w0"
    assert len(explorer.checkpoint_ids) == 2 and "of 24" in explorer.checkpoint_count.value
    latest = explorer.checkpoint_ids[0]
    assert explorer.selected_checkpoint == latest
    assert (
        "step" in explorer.timeline.options[0][0] and "respond" in explorer.timeline.options[0][0]
    )
    changed = {d.channel: d for d in explorer.channel_diff if d.change != "unchanged"}
    assert set(changed) == {"messages"} and changed["messages"].summary == "+1 items (now 12)"
    assert explorer.channel_bytes["messages"] > explorer.channel_bytes["input"]
    assert "messages" in explorer.bytes_html.value
    explorer.next_checkpoints.click()
    assert latest not in explorer.checkpoint_ids and explorer.prev_checkpoints.disabled is False
    # Step 0 of the first run (the oldest, step -1, holds the input in `__start__`).
    first_step = lab.sessions.history("w0", limit=100)[-2].checkpoint_id
    explorer.select_checkpoint(first_step)  # pages back to it
    assert explorer.selected_checkpoint == first_step
    assert explorer.checkpoint_state["input"] == "my item0 is v0"


def test_fork_resume_delete_change_the_data(lab: Lab, project: Path) -> None:
    lab.run("basic_workflow", "my name is Bo", thread_id="src")
    lab.run("basic_workflow", "my name is Cy", thread_id="src")
    hitl = write(project / "hitl.py", HITL)
    waiting = lab.run(str(hitl), "deploy", thread_id="wait")
    assert waiting.status == "interrupted"

    explorer = SessionExplorer(lab)
    explorer.show_thread("src")
    first_run_end = lab.sessions.history("src", limit=100)[4].checkpoint_id
    explorer.select_checkpoint(first_run_end)
    new = explorer.fork("src-copy")
    assert new == "src-copy" and explorer.selected_thread == "src-copy"
    assert lab.sessions.state("src-copy")["facts"] == {"name": "Bo"}
    continued = lab.run("basic_workflow", "what is my name?", thread_id="src-copy")
    assert continued["output"] == "Your name is Bo."  # the fork continues from that point
    assert lab.run("basic_workflow", "what is my name?", thread_id="src")["output"] == (
        "Your name is Cy."
    )

    settle_refreshes()
    explorer.show_thread("wait")
    labels = {value: label for label, value in explorer.threads.options}
    assert not explorer.resume_button.disabled and labels["wait"].startswith("⏸")
    explorer.resume_value.value = '"approved"'
    explorer.resume_button.click()
    assert lab.sessions.state("wait")["decision"] == "approved"
    assert lab.sessions.thread("wait").status == "idle"

    settle_refreshes()
    explorer.show_thread("src-copy")
    explorer.delete_button.click()  # asks first
    assert lab.sessions.thread("src-copy") is not None
    assert "Delete" in explorer.confirm_box.children[0].value
    explorer.confirm_box.children[1].click()  # "Yes, delete"
    assert lab.sessions.thread("src-copy") is None and "src-copy" not in explorer.thread_ids


def test_trace_viewer_and_links(lab: Lab) -> None:
    result = lab.run("basic_workflow", "x" * 5000, thread_id="tv")
    viewer = TraceViewer(lab)
    assert viewer.trace_ids[0] == result.trace_id
    label = viewer.traces.options[0][0]
    assert "basic_workflow v1" in label and "langgraph-platform" in label
    assert "$20/mo ÷ 1" in label  # the subscription's allocation, not a per-run price
    trace = viewer.select(result.trace_id)
    assert [s.name for s in trace.spans] == ["remember", "respond"]
    # Long values: shortened in the display, the original length shown next to them.
    assert "input_full_length&quot;: 5000" in viewer.spans.value
    assert "x" * 301 not in viewer.spans.value
    assert "Langfuse not configured" in viewer.detail.value
    explorer = viewer.open_session()
    assert explorer.selected_thread == "tv"
    assert explorer.selected_checkpoint == result.checkpoint_id
    back = explorer.open_trace()
    assert back.trace.trace_id == result.trace_id


def test_widgets_refresh_when_runs_finish(lab: Lab) -> None:
    explorer = SessionExplorer(lab)
    viewer = TraceViewer(lab)
    lab.run("basic_workflow", "new run", thread_id="fresh")
    wait_for(lambda: "fresh" in explorer.thread_ids)
    wait_for(lambda: len(viewer.trace_ids) == 1)
    explorer.close()
    viewer.close()


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_refresh_after_the_lab_closed_is_dropped(project: Path) -> None:
    """%unload_ext closes the lab while a widget may still refresh: nothing is raised on
    the refresh thread (an unhandled thread exception fails this test)."""
    from lgp_lab.widgets._render import on_kernel_thread

    lab = Lab(root=project)
    lab.run("basic_workflow", "hello", thread_id="t")
    explorer = SessionExplorer(lab)
    explorer.threads.value = "t"
    lab.close()
    on_kernel_thread(explorer.refresh)  # no kernel here: runs on a thread of its own
    settle_refreshes()
    explorer.close()


def test_widget_models_in_a_real_kernel(project: Path) -> None:
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(project))
    try:
        reply, _ = _execute(
            kc,
            "%load_ext lgp_lab\n"
            "%lgp_run basic_workflow -i 'my name is Kim' -t k-a -q\n"
            "ex = %lgp_sessions\n"
            "ex.threads.value = 'k-a'\n"
            "fork = ex.fork('k-b')\n"
            "%lgp_run basic_workflow -i 'what is my name?' -t k-b -q\n",
        )
        assert reply["status"] == "ok", reply
        # The run-finished refresh lands on the kernel's thread after the cell.
        reply, outputs = _execute(
            kc,
            "import time\n"
            "deadline = time.time() + 5\n"
            "while 'k-b' not in ex.thread_ids[:1] and time.time() < deadline:\n"
            "    time.sleep(0.05)\n"
            "print(ex.thread_ids, ex.threads.options[0][0])\n"
            "from lgp_lab import get_lab\n"
            "print(get_lab().sessions.state('k-b')['output'])\n"
            "ex.show_thread('k-b'); ex.delete(confirm=True)\n"
            "print(get_lab().sessions.thread('k-b'))",
        )
        assert reply["status"] == "ok", reply
        text = "".join(m["content"].get("text", "") for m in outputs)
        assert "['k-b', 'k-a']" in text and "Your name is Kim." in text
        assert text.strip().endswith("None")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_notebook_saves_widget_state_with_threads_and_traces(project: Path) -> None:
    nb = nbformat.read(REPO / "notebooks" / "session_explorer.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(project / "notebooks")}},
        store_widget_state=True,
    )
    (project / "notebooks").mkdir(exist_ok=True)
    client.execute()
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    options = [
        label
        for model in state.values()
        if model["model_name"] == "SelectModel"
        for label in model["state"].get("_options_labels", [])
    ]
    assert any("explorer-demo" in label for label in options)
    assert any("basic_workflow v1" in label and "langgraph-platform" in label for label in options)


def test_session_explorer_notebook_is_in_the_repo() -> None:
    assert (REPO / "notebooks" / "session_explorer.ipynb").is_file()
    assert shutil.which("jupyter") is not None


def _refreshes_after_a_run(lab: Lab, monkeypatch, run_input: str) -> int:
    """How many thread-list queries the explorers made because a run finished."""
    import threading

    calls: list[object] = []
    original = lab.sessions.threads

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(lab.sessions, "threads", counting)
    lab.run("basic_workflow", run_input, thread_id=run_input)
    # Outside a kernel the refresh runs in a helper thread: wait for those (bounded).
    for thread in threading.enumerate():
        if thread.name == "lgp-widget-refresh":
            thread.join(5.0)
    monkeypatch.setattr(lab.sessions, "threads", original)
    return len(calls)


def test_a_collected_explorer_stops_listening(lab: Lab, monkeypatch) -> None:
    import gc
    import weakref

    import comm
    import ipywidgets as w
    import ipywidgets.widgets.widget as widget_module
    from comm.base_comm import CommManager

    # What ipywidgets' weak-reference mode does (and a kernel that lets go of a widget):
    # neither the widget registry nor the comm manager keeps widgets alive.
    monkeypatch.setattr(widget_module, "_instances", weakref.WeakValueDictionary())

    class WeakCommManager(CommManager):
        def unregister_comm(self, comm: object) -> None:
            self.comms.pop(comm.comm_id, None)  # type: ignore[attr-defined]

    manager = WeakCommManager()
    manager.comms = weakref.WeakValueDictionary()  # type: ignore[assignment]
    monkeypatch.setattr(comm, "get_comm_manager", lambda: manager)
    plain = weakref.ref(w.VBox([w.Button()]))
    gc.collect()
    assert plain() is None  # the setup lets an unreferenced widget go

    explorer = SessionExplorer(lab)
    assert _refreshes_after_a_run(lab, monkeypatch, "live") == 1
    gone = weakref.ref(explorer)
    del explorer
    gc.collect()
    assert gone() is None, "the Lab's run listener kept the explorer alive"
    assert _refreshes_after_a_run(lab, monkeypatch, "after-gc") == 0


def test_a_hidden_explorer_does_not_query_after_runs(lab: Lab, monkeypatch) -> None:
    explorer = SessionExplorer(lab)
    explorer._view_count = 1  # what the frontend sends when it renders a view
    assert _refreshes_after_a_run(lab, monkeypatch, "shown") == 1
    explorer._view_count = 0  # the cell was re-run or its output cleared
    assert _refreshes_after_a_run(lab, monkeypatch, "hidden-1") == 0
    assert _refreshes_after_a_run(lab, monkeypatch, "hidden-2") == 0
    assert "hidden-2" not in explorer.thread_ids
    explorer._view_count = 1  # shown again: one refresh brings it up to date
    assert {"hidden-1", "hidden-2"} <= set(explorer.thread_ids)
    explorer.close()
    assert _refreshes_after_a_run(lab, monkeypatch, "closed") == 0
