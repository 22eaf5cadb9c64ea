"""The studio (%lgp_studio): driven in-process on a real Lab, in a real kernel (widget
model state via nbclient), as a static notebook, and its committed bundle rebuilt.

The JupyterLab page itself is tested in tests/test_studio_lab.py.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from conftest import REPO, write
from nbclient import NotebookClient

from lgp_lab import Lab
from lgp_lab.errors import WorkflowInputError
from lgp_lab.widgets._studio_graph import describe_graph, graph_svg
from lgp_lab.widgets._studio_json import MORE, Limits, preview, subtree
from lgp_lab.widgets.studio import Studio

# The studio's live events are applied on the engine loop: they must never hold it.
pytestmark = pytest.mark.loop_watchdog

FLOW = """
import time
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    text: str
    steps: list[str]
    answer: str

def plan(s):
    time.sleep(DELAY)
    return {"steps": ["plan"], "text": s.get("text", "") + "!"}

def act(s):
    time.sleep(DELAY)
    return {"steps": s.get("steps", []) + ["act"]}

def review(s):
    time.sleep(DELAY)
    return {"answer": "reviewed " + s.get("text", "")}

graph = StateGraph(S)
graph.add_node("plan", plan)
graph.add_node("act", act)
graph.add_node("review", review)
graph.add_edge(START, "plan")
graph.add_edge("plan", "act")
graph.add_edge("act", "review")
graph.add_edge("review", END)
"""

HITL = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt

class S(TypedDict, total=False):
    input: str
    decision: str

def ask(state):
    return {"decision": interrupt({"question": "ship it?", "options": ["yes", "no"]})}

graph = StateGraph(S)
graph.add_node("ask", ask)
graph.add_edge(START, "ask")
graph.add_edge("ask", END)
"""


def flow_source(delay: float = 0.0) -> str:
    """The 3-node flow; ``delay`` seconds per node (for the page to see each light)."""
    return FLOW.replace("DELAY", repr(delay))


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate`` until true, bounded (events arrive from the engine thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what} not met within {timeout}s")


@pytest.fixture
def flow(project: Path) -> Path:
    write(project / "hitl.py", HITL)
    return write(project / "flow.py", flow_source())


# ---------------------------------------------------------------------- graph


def test_graph_has_nodes_conditional_edges_subgraphs_and_interrupts() -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class S(TypedDict):
        x: int

    def bump(s: S) -> dict:
        return {"x": s["x"] + 1}

    inner = StateGraph(S)
    inner.add_node("inner_a", bump)
    inner.add_node("inner_b", bump)
    inner.add_edge(START, "inner_a")
    inner.add_edge("inner_a", "inner_b")
    outer = StateGraph(S)
    outer.add_node("route", bump)
    outer.add_node("sub", inner.compile())
    outer.add_node("approve", bump)
    outer.add_edge(START, "route")
    outer.add_conditional_edges(
        "route", lambda s: "sub" if s["x"] else "approve", ["sub", "approve"]
    )
    outer.add_edge("sub", END)
    outer.add_edge("approve", END)
    graph = outer.compile(checkpointer=InMemorySaver(), interrupt_before=["approve"])

    shape = describe_graph(graph, name="outer", version=3)
    nodes = {n["id"]: n for n in shape["flat"]["nodes"]}
    assert set(nodes) == {"__start__", "route", "sub", "approve", "__end__"}
    assert nodes["approve"]["interrupt_before"] and not nodes["route"]["interrupt_before"]
    assert nodes["sub"]["subgraph"]
    conditional = {(e["source"], e["target"]) for e in shape["flat"]["edges"] if e["conditional"]}
    assert conditional == {("route", "sub"), ("route", "approve")}
    xray = {n["id"]: n for n in shape["xray"]["nodes"]}
    assert xray["sub:inner_a"]["parent"] == "sub" and xray["sub:inner_a"]["name"] == "inner_a"
    svg = graph_svg(shape["flat"], title="outer v3")
    assert svg.startswith("<svg") and svg.count('class="lgp-node"') == 5
    assert ">route<" in svg and "⏸ approve" in svg and 'stroke-dasharray="5,4"' in svg


def test_static_svg_lays_out_loops_without_recursing() -> None:
    chain = [f"n{i}" for i in range(1500)]
    nodes = [{"id": i, "name": i, "kind": "node", "interrupt_before": False,
              "interrupt_after": False} for i in ["__start__", *chain]]  # fmt: skip
    edges = [{"source": a, "target": b, "conditional": False}
             for a, b in zip(["__start__", *chain], chain, strict=False)]  # fmt: skip
    edges.append({"source": "n1499", "target": "n0", "conditional": True})  # a loop back
    svg = graph_svg({"nodes": nodes, "edges": edges})
    assert svg.count('class="lgp-node"') == 1501


def test_studio_draws_the_workflow_and_follows_a_reload(lab: Lab, flow: Path) -> None:
    studio = Studio("flow.py", lab=lab)
    try:
        names = [n["name"] for n in studio.graph["flat"]["nodes"]]
        assert names == ["__start__", "plan", "act", "review", "__end__"]
        assert studio.graph["version"] == 1
        assert studio.schemas["input"]["properties"]["text"]["type"] == "string"
        assert studio.schemas["default_input"] == {"text": "test"}
        handle = lab.watch("flow.py")
        assert handle.wait_ready(5)
        studio.refresh()  # picks the watch up
        source = flow.read_text().replace(
            'graph.add_edge("review", END)',
            'graph.add_node("publish", review)\n'
            'graph.add_edge("review", "publish")\ngraph.add_edge("publish", END)',
        )
        flow.write_text(source)
        wait_for(lambda: studio.graph.get("version") == 2, what="redraw after the reload")
        assert "publish" in [n["name"] for n in studio.graph["flat"]["nodes"]]
    finally:
        studio.close()


# ---------------------------------------------------------------------- live runs


def test_runs_from_other_front_ends_light_nodes_in_order(lab: Lab, flow: Path) -> None:
    studio = Studio("flow.py", lab=lab)
    other = Studio("hitl.py", lab=lab)
    try:
        result = lab.run("flow.py", {"text": "hi"}, thread_id="live-1")  # as %lgp_run does
        wait_for(lambda: (studio.live.get("run") or {}).get("status") == "complete")
        live = studio.live
        assert live["order"] == ["plan", "act", "review"]
        assert live["run"]["trace_id"] == result.trace_id
        assert live["run"]["thread_id"] == "live-1"
        assert all(live["nodes"][n]["status"] == "ok" for n in ("plan", "act", "review"))
        assert all(live["nodes"][n]["duration_ms"] >= 0 for n in ("plan", "act", "review"))
        ends = [e for e in live["events"] if e["type"] == "node_end"]
        assert ends[0]["update"] == {"steps": ["plan"], "text": "hi!"}
        assert other.live["run"] is None  # another workflow's studio is not lit
        # A run through lab.runs (the API's and the SDK's path) reaches it too.
        run = studio.run({"text": "yo"}, thread_id="live-2")
        studio.join(run)
        wait_for(lambda: studio.live["run"]["thread_id"] == "live-2"
                 and studio.live["run"]["status"] == "complete")  # fmt: skip
        assert studio.live["order"] == ["plan", "act", "review"]
        assert lab.sessions.state("live-2")["answer"] == "reviewed yo!"
        # The thread list follows (applied on the kernel's side after the run).
        wait_for(lambda: studio.threads["total"] == 2, what="thread list refresh")
    finally:
        studio.close()
        other.close()


def test_runs_light_nodes_with_every_trace_exporter_off(project: Path, flow: Path) -> None:
    from lgp_lab.config import load_config

    config = load_config("experiment", project)
    config.observability.local = False  # no trace store, no console, no Langfuse
    with Lab(config=config, console=False) as quiet:
        assert quiet.engine.call(quiet.atracing()) is None  # nothing traces runs...
        studio = Studio("flow.py", lab=quiet)
        try:
            quiet.run("flow.py", {"text": "hi"}, thread_id="untraced")
            wait_for(lambda: (studio.live.get("run") or {}).get("status") == "complete")
            assert studio.live["order"] == ["plan", "act", "review"]  # ...yet the studio sees
            wait_for(lambda: studio.threads["total"] == 1, what="thread list refresh")
            assert quiet.engine.call(quiet._atrace_store()) is None  # and nothing is stored
        finally:
            studio.close()


def test_runs_through_the_served_api_and_the_sdk_light_it_too(lab: Lab, flow: Path) -> None:
    from langgraph_sdk import get_sync_client

    from lgp_lab.server.background import start_server

    studio = Studio("flow.py", lab=lab)
    handle = start_server(lab, ["flow.py"], port=0)
    client = get_sync_client(url=handle.url)
    try:
        thread = client.threads.create()
        out = client.runs.wait(thread["thread_id"], "flow", input={"text": "sdk"})
        assert out["answer"] == "reviewed sdk!"
        wait_for(lambda: (studio.live.get("run") or {}).get("thread_id") == thread["thread_id"]
                 and studio.live["run"]["status"] == "complete", what="the SDK run")  # fmt: skip
        assert studio.live["order"] == ["plan", "act", "review"]
    finally:
        client.http.client.close()
        handle.stop()
        studio.close()


def test_a_running_thread_shows_busy_then_idle(lab: Lab, project: Path) -> None:
    write(project / "slow.py", flow_source(0.3))
    studio = Studio("slow.py", lab=lab)
    try:
        run = studio.run({"text": "s"}, thread_id="slow-1")

        def status() -> str | None:
            items = studio.threads.get("items") or []
            return next((t["status"] for t in items if t["thread_id"] == "slow-1"), None)

        wait_for(lambda: status() == "busy", what="the thread listed as busy")
        studio.join(run)
        wait_for(lambda: status() == "idle", what="the thread listed as idle")
    finally:
        studio.close()


CHAT = """
import itertools
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph

model = GenericFakeChatModel(
    messages=itertools.cycle([AIMessage("the studio streams every token")])
)

def chat(state):
    return {"messages": [model.invoke(state["messages"])]}

graph = StateGraph(MessagesState)
graph.add_node("chat", chat)
graph.add_edge(START, "chat")
graph.add_edge("chat", END)
"""


def test_chat_model_tokens_stream_into_the_studio(
    lab: Lab, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lgp_lab.widgets.studio as studio_module

    monkeypatch.setattr(studio_module, "_TOKEN_FLUSH_S", 0.0)
    write(project / "chat.py", CHAT)
    studio = Studio("chat.py", lab=lab)
    seen: list[str] = []
    studio.observe(lambda c: seen.append((c["new"].get("tokens") or {}).get("chat", "")),
                   names="live")  # fmt: skip
    try:
        run = studio.run({"messages": [{"role": "user", "content": "hi"}]}, thread_id="chat-1")
        studio.join(run)
        wait_for(lambda: studio.live.get("tokens", {}).get("chat")
                 == "the studio streams every token", what="the streamed tokens")  # fmt: skip

        # Streamed token by token (with no batching window, one update per token).
        grown = [t for i, t in enumerate(seen) if t and (i == 0 or t != seen[i - 1])]
        assert len(grown) > 3 and all(b.startswith(a) for a, b in itertools.pairwise(grown))
        state = lab.sessions.state("chat-1")
        assert state["messages"][-1].content == "the studio streams every token"
    finally:
        studio.close()


@pytest.mark.parametrize("node", ["sync", "async"])
def test_chat_model_tokens_of_runs_from_other_front_ends_stream_too(
    lab: Lab, project: Path, monkeypatch: pytest.MonkeyPatch, node: str
) -> None:
    import lgp_lab.widgets.studio as studio_module

    monkeypatch.setattr(studio_module, "_TOKEN_FLUSH_S", 0.0)
    source = CHAT.replace("the studio streams every token", "a cell streams every token")
    if node == "async":
        source = source.replace("def chat(state):\n    return {\"messages\": [model.invoke(",
                                "async def chat(state):\n    return {\"messages\": "
                                "[await model.ainvoke(")  # fmt: skip
        assert "await model.ainvoke" in source
    write(project / "chat.py", source)
    studio = Studio("chat.py", lab=lab)
    seen: list[str] = []
    studio.observe(lambda c: seen.append((c["new"].get("tokens") or {}).get("chat", "")),
                   names="live")  # fmt: skip
    try:
        # As %lgp_run does: the run asks for no messages stream; the open studio gets the
        # tokens all the same, one by one while the model streams.
        result = lab.run("chat.py", {"messages": [("user", "hi")]}, thread_id=f"cell-{node}")
        wait_for(lambda: studio.live.get("tokens", {}).get("chat")
                 == "a cell streams every token", what="the streamed tokens")  # fmt: skip
        grown = [t for i, t in enumerate(seen) if t and (i == 0 or t != seen[i - 1])]
        assert len(grown) > 3 and all(b.startswith(a) for a, b in itertools.pairwise(grown))
        assert result.state["messages"][-1].content == "a cell streams every token"
    finally:
        studio.close()
    # With no studio open, runs add no callback: the model is called as plain LangGraph
    # calls it.
    tracing = lab.engine.call(lab.awatched_tracing())
    assert not tracing.wants_tokens


def test_a_closed_studio_stops_listening(lab: Lab, flow: Path) -> None:
    studio = Studio("flow.py", lab=lab)
    tracing = lab._call(lab.atracing())
    assert studio._exporter in tracing.exporters
    studio.close()
    assert studio._exporter not in tracing.exporters
    lab.run("flow.py", {"text": "x"}, thread_id="after-close")
    assert studio.live["run"] is None


# ---------------------------------------------------------------------- threads, time travel


def test_thread_timeline_pages_state_diff_and_bytes(lab: Lab, flow: Path) -> None:
    for i in range(2):
        lab.run("flow.py", {"text": f"t{i}"}, thread_id="pages")
    studio = Studio("flow.py", lab=lab, page_size=3, thread_id="pages")
    try:
        thread = studio.thread
        assert thread["info"]["thread_id"] == "pages" and thread["total"] == 10
        assert len(thread["checkpoints"]) == 3 and thread["has_more"]
        assert [c["nodes"] for c in thread["checkpoints"]] == [["review"], ["act"], ["plan"]]
        assert studio.checkpoint["state"]["answer"] == "reviewed t1!"
        (diff,) = studio.checkpoint["diff"]
        assert (diff["channel"], diff["change"]) == ("answer", "changed")
        assert "reviewed t1!" in diff["summary"]
        assert set(studio.checkpoint["bytes"]) == {"text", "steps", "answer"}
        last = thread["checkpoints"][-1]["checkpoint_id"]
        studio.select_thread("pages", before=last)
        assert [c["step"] for c in studio.thread["checkpoints"]] == [5, 4, 3]
        studio.select_thread("pages", before=studio.thread["checkpoints"][-1]["checkpoint_id"])
        studio.select_thread("pages", before=studio.thread["checkpoints"][-1]["checkpoint_id"])
        assert not studio.thread["has_more"] and len(studio.thread["checkpoints"]) == 1
    finally:
        studio.close()


def test_fork_with_edit_reruns_a_branch_from_an_earlier_checkpoint(lab: Lab, flow: Path) -> None:
    lab.run("flow.py", {"text": "hi"}, thread_id="tt")
    studio = Studio("flow.py", lab=lab, thread_id="tt")
    try:
        after_plan = next(c for c in studio.thread["checkpoints"] if c["nodes"] == ["plan"])
        studio.select_checkpoint(after_plan["checkpoint_id"])
        assert studio.checkpoint["state"] == {"text": "hi!", "steps": ["plan"]}
        out = studio.fork({"text": "EDITED"})
        studio.join(out["run"])
        assert out["thread_id"] == "tt"
        final = lab.sessions.state("tt")
        assert final == {"text": "EDITED", "steps": ["plan", "act"], "answer": "reviewed EDITED"}
        # A branch: the edit's checkpoint hangs off the earlier one; the old run stays.
        history = lab.sessions.history("tt", limit=50)
        edit = next(c for c in history if c.checkpoint_id == out["checkpoint_id"])
        assert edit.parent_checkpoint_id == after_plan["checkpoint_id"]
        old_answers = [lab.sessions.state("tt", c.checkpoint_id).get("answer") for c in history]
        assert "reviewed hi!" in old_answers
        # Into a new thread: the original thread is not touched.
        before = lab.sessions.count_checkpoints("tt")
        studio.select_thread("tt")
        studio.select_checkpoint(after_plan["checkpoint_id"])
        branch = studio.fork({"text": "OTHER"}, new_thread=True)
        studio.join(branch["run"])
        assert branch["thread_id"] != "tt" and lab.sessions.count_checkpoints("tt") == before
        assert lab.sessions.state(branch["thread_id"])["answer"] == "reviewed OTHER"
    finally:
        studio.close()


def test_bad_edits_and_actions_are_clear_errors(lab: Lab, flow: Path) -> None:
    lab.run("flow.py", {"text": "hi"}, thread_id="bad")
    studio = Studio("flow.py", lab=lab, thread_id="bad")
    try:
        with pytest.raises(WorkflowInputError, match="state edit does not fit workflow 'flow'"):
            studio.fork({"text": "x"}, as_node="no_such_node")
        with pytest.raises(WorkflowInputError, match="not waiting on an interrupt"):
            studio.resume("yes")
        # From the page: an error in the status line, nothing raised into the kernel.
        studio._on_msg(studio, {"type": "fork", "thread_id": "bad",
                                "checkpoint_id": studio.checkpoint["checkpoint_id"],
                                "values": {"text": 1}, "as_node": "nope"}, [])  # fmt: skip
        assert studio.wait_pending(10)
        wait_for(lambda: studio.status.get("kind") == "error", what="error in the status line")
        assert "nope" in studio.status["text"]
        studio._on_msg(studio, {"type": "explode"}, [])
        assert studio.status["kind"] == "error"
        assert "unknown studio action 'explode'" in studio.status["text"]
        everything = Studio(lab=lab)
        with pytest.raises(WorkflowInputError, match="opened without a workflow"):
            everything.run({"text": "x"})
        everything.close()
    finally:
        studio.close()


def test_interrupt_resumed_from_the_form_streams_the_rest(lab: Lab, flow: Path) -> None:
    studio = Studio("hitl.py", lab=lab)
    first = lab.run("hitl.py", thread_id="ask-1")
    assert first.status == "interrupted"
    studio.select_thread("ask-1")
    try:
        wait_for(lambda: (studio.live.get("nodes") or {}).get("ask", {}).get("status")
                 == "interrupted", what="the waiting node marked")  # fmt: skip
        info = studio.thread["info"]
        assert info["status"] == "interrupted"
        assert info["interrupts"][0]["value"] == {"question": "ship it?", "options": ["yes", "no"]}
        assert info["interrupts"][0]["node"] == "ask"
        studio._on_msg(studio, {"type": "resume", "thread_id": "ask-1", "value": "yes"}, [])
        wait_for(lambda: (studio.live.get("run") or {}).get("status") == "complete",
                 what="the resumed run's end")  # fmt: skip
        assert studio.live["order"] == ["ask"]
        assert lab.sessions.state("ask-1")["decision"] == "yes"
        wait_for(lambda: studio.thread["info"]["status"] == "idle", what="thread refresh")
    finally:
        studio.close()


def test_a_breakpoint_shows_the_next_node_and_continues(lab: Lab) -> None:
    from langgraph.graph import END, START, StateGraph
    from typing_extensions import TypedDict

    class S(TypedDict):
        x: int

    def bump(s: S) -> dict:
        return {"x": s["x"] + 1}

    builder = StateGraph(S)
    builder.add_node("a", bump)
    builder.add_node("b", bump)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", END)
    graph = builder.compile(interrupt_before=["b"])
    studio = Studio(graph, lab=lab)
    try:
        marked = {n["id"]: n["interrupt_before"] for n in studio.graph["flat"]["nodes"]}
        assert marked["b"] and not marked["a"]
        lab.run(graph, {"x": 1}, thread_id="bp")
        studio.select_thread("bp")
        assert studio.thread["next"] == ["b"]
        studio._on_msg(studio, {"type": "continue", "thread_id": "bp"}, [])
        wait_for(lambda: lab.sessions.state("bp") == {"x": 3}, what="the continued run")
        wait_for(lambda: studio.thread.get("next") == [], what="thread refresh")
    finally:
        studio.close()


def test_delete_from_the_page_and_every_thread_mode(lab: Lab, flow: Path) -> None:
    lab.run("flow.py", {"text": "a"}, thread_id="keep")
    lab.run("hitl.py", thread_id="drop")
    studio = Studio(lab=lab)  # every thread; the open thread's workflow is drawn
    try:
        assert studio.graph == {} and studio.threads["total"] == 2
        studio._on_msg(studio, {"type": "select_thread", "thread_id": "drop"}, [])
        wait_for(lambda: studio.checkpoint.get("thread_id") == "drop", what="thread opened")
        wait_for(lambda: studio.graph.get("name") == "hitl", what="its graph drawn")
        studio._on_msg(studio, {"type": "delete", "thread_id": "drop"}, [])
        wait_for(lambda: studio.threads["total"] == 1, what="thread list after delete")
        assert lab.sessions.thread("drop") is None and studio.thread == {}
        assert [t["thread_id"] for t in studio.threads["items"]] == ["keep"]
    finally:
        studio.close()


# ---------------------------------------------------------------------- big states


def test_big_state_preview_and_show_more() -> None:
    state = {"doc": "x" * 1_000_000, "rows": list(range(5000)), "deep": {"a": {"b": {"c": {
        "d": {"e": {"f": {"g": 1}}}}}}}}  # fmt: skip
    shown = preview(state)
    assert len(json.dumps(shown)) < 5_000
    doc = shown["doc"][MORE]
    assert doc["kind"] == "string" and doc["length"] == 1_000_000 and doc["path"] == ["doc"]
    assert shown["rows"][-1][MORE] == {"kind": "items", "count": 4950, "path": ["rows"]}
    assert subtree(state, ["deep", "a", "b"]) == {"c": {"d": {"e": {"f": {"g": 1}}}}}
    grown = preview(state["doc"], Limits().grown(), ["doc"])
    assert len(grown[MORE]["head"]) == 6000
    with pytest.raises(KeyError, match="no 'nope'"):
        subtree(state, ["nope"])


def test_a_1mb_state_opens_small_and_expands(lab: Lab, project: Path) -> None:
    write(project / "big.py", """
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START, END

        class S(TypedDict, total=False):
            blob: str
            items: list[int]

        def fill(s):
            return {"blob": "y" * 1_000_000, "items": list(range(3000))}

        graph = StateGraph(S)
        graph.add_node("fill", fill)
        graph.add_edge(START, "fill")
        graph.add_edge("fill", END)
    """)  # fmt: skip
    lab.run("big.py", {}, thread_id="big")
    studio = Studio("big.py", lab=lab, thread_id="big")
    try:
        assert len(json.dumps(studio.checkpoint)) < 10_000
        assert studio.checkpoint["bytes"]["blob"] > 1_000_000
        studio._on_msg(studio, {"type": "more", "path": ["blob"]}, [])
        assert len(studio.checkpoint["state"]["blob"][MORE]["head"]) == 6000
        studio.more(["items"])
        assert len(studio.checkpoint["state"]["items"]) == 1001
        studio.select_checkpoint(studio.checkpoint["checkpoint_id"])  # as a refresh does
        assert len(studio.checkpoint["state"]["items"]) == 1001
        assert len(studio.checkpoint["state"]["blob"][MORE]["head"]) == 6000
    finally:
        studio.close()


# ---------------------------------------------------------------------- display


def test_mimebundle_has_the_widget_and_an_inline_svg(lab: Lab, flow: Path) -> None:
    studio = Studio("flow.py", lab=lab)
    try:
        data, _meta = studio._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in data
        html = data["text/html"]
        assert "<svg" in html and all(f">{n}<" in html for n in ("plan", "act", "review"))
        assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    finally:
        studio.close()


def _execute_notebook(project: Path, cells: list[str], **options) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3",
        resources={"metadata": {"path": str(project)}}, **options,
    )  # fmt: skip
    client.execute()
    return nb


def test_widget_model_state_in_a_real_kernel(flow: Path, project: Path) -> None:
    nb = _execute_notebook(
        project,
        [
            "%load_ext lgp_lab",
            "s = %lgp_studio flow.py\ns",
            'r = %lgp_run flow.py -i \'{"text": "kernel"}\' -t k-1 -q',
            # The after-run refresh lands on the kernel's loop: await (not sleep) lets it
            # run; then send the final state in this cell, where nbclient records it.
            "import asyncio, time\n"
            "deadline = time.monotonic() + 10\n"
            "while s.threads.get('total') != 1 and time.monotonic() < deadline:\n"
            "    await asyncio.sleep(0.02)\n"
            "s.select_thread('k-1')\n"
            "s.send_state()\n"
            "print(s.live['order'], s.live['run']['status'])",
        ],
        store_widget_state=True,
    )
    assert "['plan', 'act', 'review'] complete" in nb.cells[3].outputs[0]["text"]
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    studio = next(m["state"] for m in state.values() if "graph" in m["state"])
    assert [n["name"] for n in studio["graph"]["flat"]["nodes"]][1:4] == ["plan", "act", "review"]
    assert studio["live"]["order"] == ["plan", "act", "review"]
    assert studio["threads"]["items"][0]["thread_id"] == "k-1"
    assert studio["checkpoint"]["state"]["answer"] == "reviewed kernel!"
    assert "lgp-node" in studio["_esm"]  # the bundled front end ships with the model


def test_static_notebook_shows_the_graph_as_inline_svg(flow: Path, project: Path) -> None:
    """``jupyter nbconvert --execute``: no widget front end, the text/html is the picture."""
    from nbconvert import HTMLExporter

    nb = _execute_notebook(project, ["%load_ext lgp_lab", "%lgp_studio flow.py"])
    (output,) = nb.cells[1].outputs
    html = output["data"]["text/html"]
    assert "<svg" in html and ">plan<" in html and ">review<" in html
    # No widget output: with the widget's saved state it would win over the picture.
    assert "application/vnd.jupyter.widget-view+json" not in output["data"]
    page, _ = HTMLExporter().from_notebook_node(nb)
    assert 'class="lgp-studio-static"' in page and ">review<" in page


# ---------------------------------------------------------------------- the bundle


def test_committed_bundle_is_current(tmp_path: Path) -> None:
    """CI catches a stale lgp_lab/widgets/static/studio.js: rebuilt from js/studio with the
    committed lock file (scripts/test.sh runs `npm ci --prefix js/studio`)."""
    studio_js = REPO / "js" / "studio"
    if shutil.which("node") is None:
        pytest.fail("node is not installed: run scripts/test.sh (it apt-installs nodejs)")
    if not (studio_js / "node_modules" / "esbuild").is_dir():
        pytest.fail("js/studio/node_modules is missing: run `npm ci --prefix js/studio`")
    out = tmp_path / "studio.js"
    subprocess.run(["node", str(studio_js / "build.mjs"), str(out)], check=True, timeout=120)
    committed = (REPO / "lgp_lab" / "widgets" / "static" / "studio.js").read_bytes()
    assert out.read_bytes() == committed, "run `npm run build --prefix js/studio` and commit"
    assert b"https://" not in committed.replace(b"http://www.w3.org/2000/svg", b"")
