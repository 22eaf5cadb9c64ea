"""The Lab runtime against a real SQLite file."""

from __future__ import annotations

import _thread
import asyncio
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import write

from lgp_lab import Lab
from lgp_lab.errors import LabClosedError, WorkflowRunError

ASYNC_FLOW = """
import asyncio
from typing import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    output: str

async def slow(state):
    await asyncio.sleep(float(state.get("input") or 0))
    return {"output": "slept " + state["input"]}

workflow = StateGraph(S)
workflow.add_node("slow", slow)
workflow.add_edge(START, "slow")
workflow.add_edge("slow", END)
"""

FAILING = """
from typing import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    count: int

def count(state):
    if state["input"] == "fail":
        raise RuntimeError("asked to fail")
    return {"count": state.get("count", 0) + 1}

workflow = StateGraph(S)
workflow.add_node("count", count)
workflow.add_edge(START, "count")
workflow.add_edge("count", END)
"""


def test_second_run_on_a_thread_sees_the_first(lab: Lab) -> None:
    first = lab.run("basic_workflow", "Remember my name is Alice", thread_id="t-1")
    assert first.status == "complete" and first.thread_id == "t-1"
    second = lab.run("basic_workflow", "What is my name?", thread_id="t-1")
    assert second.state["output"] == "Your name is Alice."
    assert len(second.state["messages"]) == 4


def test_result_fields_and_checkpoint_metadata(lab: Lab) -> None:
    result = lab.run("basic_workflow", {"input": "hi"})
    assert result.new_thread and len(result.thread_id) >= 8
    assert result.workflow == "basic_workflow" and result.version == 1
    assert result.environment == "experiment" and result.duration_s > 0
    assert result["output"] == "You said: hi"
    # The reported checkpoint is the thread's newest one in the file.
    db = sqlite3.connect(lab.checkpoint_path)
    latest, meta = db.execute(
        "SELECT checkpoint_id, CAST(metadata AS TEXT) FROM checkpoints WHERE thread_id=? "
        "ORDER BY checkpoint_id DESC LIMIT 1",
        (result.thread_id,),
    ).fetchone()
    assert latest == result.checkpoint_id
    assert '"workflow": "basic_workflow"' in meta and '"workflow_version": 1' in meta
    assert '"environment": "experiment"' in meta
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"checkpoints", "writes"} <= tables


def test_async_nodes_run(lab: Lab, project: Path) -> None:
    path = write(project / "aflow.py", ASYNC_FLOW)
    assert lab.run(str(path), "0.01").state["output"] == "slept 0.01"


def test_failed_run_names_node_and_keeps_checkpoints(lab: Lab, project: Path) -> None:
    path = str(write(project / "failing.py", FAILING))
    lab.run(path, "ok", thread_id="f")
    lab.run(path, "ok", thread_id="f")
    before = lab.sessions.history("f", limit=100)
    state_before = lab.sessions.state("f", before[0].checkpoint_id)
    with pytest.raises(WorkflowRunError) as err:
        lab.run(path, "fail", thread_id="f")
    assert err.value.node == "count"
    assert err.value.location is not None and err.value.location.file.endswith("failing.py")
    assert "asked to fail" in str(err.value) and "failing.py:10" in str(err.value)
    after = {c.checkpoint_id for c in lab.sessions.history("f", limit=100)}
    assert {c.checkpoint_id for c in before} <= after
    assert (
        lab.sessions.state("f", before[0].checkpoint_id)
        == state_before
        == {
            "input": "ok",
            "count": 2,
        }
    )
    assert lab.run(path, "ok", thread_id="f").state["count"] == 3


def test_bad_input_is_a_clear_error(lab: Lab) -> None:
    with pytest.raises(WorkflowRunError, match="rejected the input"):
        lab.run("basic_workflow", {"nonexistent_key": 1})


def test_notebook_graph_objects_run(lab: Lab) -> None:
    ns: dict = {}
    exec(ASYNC_FLOW.replace("workflow", "graph"), ns)
    builder = ns["graph"]
    result = lab.run(builder, "0", thread_id="g", name="mygraph")
    assert result.workflow == "mygraph" and result.version == 1
    assert lab.run(builder.compile(), "0", name="mygraph").version == 1  # same builder
    ns2: dict = {}
    exec(ASYNC_FLOW.replace("workflow", "graph"), ns2)
    assert lab.run(ns2["graph"], "0", name="mygraph").version == 2  # cell re-run


def test_interrupt_and_resume(lab: Lab, project: Path) -> None:
    path = write(
        project / "hitl.py",
        """
        from typing import TypedDict
        from langgraph.graph import StateGraph, START, END
        from langgraph.types import interrupt

        class S(TypedDict, total=False):
            input: str
            approved: str

        def ask(state):
            return {"approved": interrupt({"question": "approve " + state["input"] + "?"})}

        workflow = StateGraph(S)
        workflow.add_node("ask", ask)
        workflow.add_edge(START, "ask")
        workflow.add_edge("ask", END)
        """,
    )
    waiting = lab.run(str(path), "deploy", thread_id="h")
    assert waiting.status == "interrupted"
    assert waiting.interrupts == [{"question": "approve deploy?"}]
    done = lab.run(str(path), thread_id="h", resume="yes")
    assert done.status == "complete" and done.state["approved"] == "yes"


def test_keyboard_interrupt_cancels_the_run_and_keeps_checkpoints(lab: Lab, project: Path) -> None:
    path = str(write(project / "aflow.py", ASYNC_FLOW))
    lab.run(path, "0", thread_id="k")
    ids = [c.checkpoint_id for c in lab.sessions.history("k")]
    threading.Timer(0.3, _thread.interrupt_main).start()
    with pytest.raises(KeyboardInterrupt):  # (bench/ times how promptly)
        lab.run(path, "30", thread_id="k")
    # The cancelled run wrote its input checkpoint at most; the earlier ones are intact.
    after = [c.checkpoint_id for c in lab.sessions.history("k", limit=50)]
    assert after[-len(ids) :] == ids
    assert lab.sessions.state("k", ids[0])["output"] == "slept 0"
    assert lab.run(path, "0", thread_id="k").state["output"] == "slept 0"


def test_close_releases_everything(project: Path) -> None:
    lab = Lab(root=project)
    lab.run("basic_workflow", "hi")
    engine_thread = lab.engine._thread
    assert engine_thread is not None and engine_thread.is_alive()
    lab.close()
    assert not engine_thread.is_alive()
    with pytest.raises(LabClosedError):
        lab.run("basic_workflow", "hi")
    lab.close()  # idempotent


def test_async_api_on_a_running_loop(project: Path) -> None:
    async def main() -> str:
        lab = Lab(root=project)
        try:
            # arun must be awaited on the Lab's engine loop; from another loop, hop over.
            fut = asyncio.wrap_future(lab.engine.submit(lab.arun("basic_workflow", "hey")))
            return (await fut).state["output"]
        finally:
            await asyncio.to_thread(lab.close)

    assert asyncio.run(main()) == "You said: hey"


WRITER = """
import sys
from lgp_lab import Lab
with Lab() as lab:
    for i in range(int(sys.argv[2])):
        lab.run("basic_workflow", "my color is c%d" % i, thread_id=sys.argv[1])
print("ok")
"""


def test_processes_share_one_file_without_lock_errors(project: Path) -> None:
    with Lab(root=project) as lab:
        lab.run("basic_workflow", "my pet is Rex", thread_id="shared")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, tid, "15"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tid in ("shared", "p2", "p3", "p4")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    with Lab(root=project) as lab:
        facts = lab.run("basic_workflow", "what is my pet?", thread_id="shared").state
        assert facts["output"] == "Your pet is Rex." and facts["facts"]["color"] == "c14"
        assert lab.sessions.count_threads() == 4


def test_a_timeout_error_raised_by_a_node_propagates(lab: Lab, project: Path) -> None:
    path = write(
        project / "to.py",
        ASYNC_FLOW.replace(
            "await asyncio.sleep", "raise TimeoutError('slow backend'); await asyncio.sleep"
        ),
    )
    with pytest.raises(WorkflowRunError, match="slow backend"):
        lab.run(str(path), "0")


def test_input_of_the_wrong_type_is_refused_before_running(lab: Lab) -> None:
    from lgp_lab.errors import WorkflowInputError

    wrong = r"(?s)'facts' = 5 does not fit .*dict\[str, str\]"
    with pytest.raises(WorkflowInputError, match=wrong):
        lab.run("basic_workflow", {"input": "x", "facts": 5}, thread_id="typed")
    assert lab.sessions.thread("typed") is None  # nothing was written


def test_resume_on_a_thread_not_waiting_is_refused(lab: Lab) -> None:
    from lgp_lab.errors import WorkflowInputError

    lab.run("basic_workflow", "hi", thread_id="done")
    with pytest.raises(WorkflowInputError, match="not waiting on an interrupt"):
        lab.run("basic_workflow", thread_id="done", resume="yes")


def test_concurrent_first_loads_give_one_handle(lab: Lab, project: Path) -> None:
    path = write(project / "race.py", FAILING)

    async def both() -> list[object]:
        return list(await asyncio.gather(*(lab.aload(str(path)) for _ in range(4))))

    handles = lab.engine.call(both())
    assert all(h is handles[0] for h in handles)
    assert list(lab.workflows) == ["race"]


def test_a_save_during_the_load_is_seen_as_a_change(lab: Lab, project: Path) -> None:
    # The module edits its own file while it is imported: the stamp must predate the read.
    path = write(
        project / "selfedit.py",
        FAILING + "with open(__file__, 'a') as f:\n    f.write('# saved while loading\\n')\n",
    )
    workflow = lab.load(str(path))
    assert workflow.is_stale()


def test_close_bounds_each_step_and_closes_the_database_last(project: Path) -> None:
    lab = Lab(root=project)
    lab.run("basic_workflow", "hi")
    saver = lab.engine.call(lab.acheckpointer())
    order: list[str] = []

    class SlowMcp:
        async def aclose(self) -> None:
            order.append("mcp")
            try:
                await asyncio.sleep(3600)  # a server that never answers its shutdown
            except asyncio.CancelledError:
                order.append("mcp cut off at its own bound")
                raise

    lab._mcp = SlowMcp()
    notes: list[str] = []
    lab.warn = notes.append
    lab.close()
    assert order == ["mcp", "mcp cut off at its own bound"]
    assert any("MCP sessions" in n for n in notes)
    assert saver.conn._connection is None  # the database was still closed, last
    assert not lab.engine.running


def test_close_cancels_in_flight_runs_before_closing_the_database(lab: Lab, project: Path) -> None:
    import concurrent.futures

    path = write(project / "slow.py", ASYNC_FLOW)
    lab.load(str(path))
    future = lab.engine.submit(lab.arun(str(path), "30", thread_id="inflight"))
    deadline = threading.Event()
    while not lab._runs and not deadline.wait(0.01):
        pass
    lab.close()
    with pytest.raises(concurrent.futures.CancelledError):
        future.result(timeout=5)


def test_concurrent_runs_on_one_thread_queue_instead_of_forking(lab: Lab, project: Path) -> None:
    path = write(
        project / "lists.py",
        """
        import asyncio
        import operator
        from typing import Annotated
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START

        class S(TypedDict, total=False):
            item: str
            items: Annotated[list, operator.add]

        async def add(state: S):
            await asyncio.sleep(0)  # let the other runs interleave if they could
            return {"items": [state["item"]]}

        graph = StateGraph(S).add_node(add).add_edge(START, "add")
        """,
    )
    lab.load(str(path))

    async def many() -> list[object]:
        return list(
            await asyncio.gather(
                *(lab.arun(str(path), {"item": f"i{n}"}, thread_id="shared") for n in range(24))
            )
        )

    lab.engine.call(many())
    final = lab.sessions.state("shared")["items"]
    assert sorted(final) == sorted(f"i{n}" for n in range(24))  # none lost to a fork


def test_a_static_breakpoint_is_an_interrupted_run(lab, project) -> None:
    """A graph compiled with ``interrupt_before`` stops there as in LangGraph (state up to
    the breakpoint, ``next`` set); the run reads ``interrupted``, and ``None`` continues."""
    from langgraph.checkpoint.memory import InMemorySaver

    write(
        project / "workflows" / "paused.py",
        """
        import operator
        from typing import Annotated

        from langgraph.graph import END, START, StateGraph
        from typing_extensions import TypedDict


        class S(TypedDict, total=False):
            items: Annotated[list[str], operator.add]


        b = StateGraph(S)
        b.add_node("a", lambda s: {"items": ["a"]})
        b.add_node("b", lambda s: {"items": ["b"]})
        b.add_edge(START, "a")
        b.add_edge("a", "b")
        b.add_edge("b", END)
        builder = b
        workflow = b.compile(interrupt_before=["b"])
        """,
    )
    first = lab.run("workflows/paused.py", {"items": []}, thread_id="bp")
    assert first.status == "interrupted" and first.interrupts == []
    assert first.state == {"items": ["a"]}
    # The oracle: plain LangGraph stops at the same place with the same state.
    import importlib.util

    spec = importlib.util.spec_from_file_location("paused_oracle", project / "workflows/paused.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plain = module.builder.compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
    conf = {"configurable": {"thread_id": "x"}}
    assert plain.invoke({"items": []}, conf) == first.state
    assert plain.get_state(conf).next == ("b",)
    second = lab.run("workflows/paused.py", None, thread_id="bp")
    assert second.status == "complete"
    assert second.state == plain.invoke(None, conf) == {"items": ["a", "b"]}
