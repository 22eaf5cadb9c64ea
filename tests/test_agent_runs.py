"""Agent Server runs, driven by the official ``langgraph_sdk`` clients (async and sync)
and ``RemoteGraph`` against real uvicorn on 127.0.0.1 (a free port), on a real SQLite
file. Chat models are langchain_core's fake ones.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REPO, write

from lgp_lab import Lab
from lgp_lab.server.background import start_server

pytest.importorskip("langgraph_sdk")
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

LIST_GRAPH = """
import operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    items: Annotated[list, operator.add]

def a(state): return {"items": ["a"]}
def b(state): return {"items": ["b"]}
def c(state): return {"items": ["c"]}

graph = StateGraph(S)
graph.add_node(a); graph.add_node(b); graph.add_node(c)
graph.add_edge(START, "a"); graph.add_edge("a", "b"); graph.add_edge("b", "c")
graph.add_edge("c", END)
"""

# A chat graph: tokens from a fake chat model, a custom event, a subgraph, an interrupt.
CHAT_GRAPH = """
import itertools
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.config import get_stream_writer
from langgraph.graph import StateGraph, START, END, MessagesState

model = GenericFakeChatModel(messages=itertools.cycle([AIMessage("hello there friend")]))

async def reply(state):
    get_stream_writer()({"progress": "thinking"})
    return {"messages": [await model.ainvoke(state["messages"])]}

def note(state):
    return {"messages": [AIMessage("noted", id="note-" + str(len(state["messages"])))]}

sub = StateGraph(MessagesState)
sub.add_node("note", note)
sub.add_edge(START, "note")
sub.add_edge("note", END)

graph = StateGraph(MessagesState)
graph.add_node("reply", reply)
graph.add_node("inner", sub.compile())
graph.add_edge(START, "reply")
graph.add_edge("reply", "inner")
graph.add_edge("inner", END)
"""

HITL_GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt

class S(TypedDict, total=False):
    question: str
    answer: str

def ask(state):
    return {"answer": interrupt({"question": state.get("question", "ok?")})}

def done(state):
    return {"answer": state["answer"] + "!"}

graph = StateGraph(S)
graph.add_node(ask); graph.add_node(done)
graph.add_edge(START, "ask"); graph.add_edge("ask", "done"); graph.add_edge("done", END)
"""

# `first` is quick; `hold` waits (bounded) until the run is cancelled.
SLOW_GRAPH = """
import asyncio, operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    items: Annotated[list, operator.add]

def first(state): return {"items": ["first"]}

async def hold(state):
    await asyncio.sleep(30)
    return {"items": ["held"]}

graph = StateGraph(S)
graph.add_node(first); graph.add_node(hold)
graph.add_edge(START, "first"); graph.add_edge("first", "hold"); graph.add_edge("hold", END)
"""

FAILING_GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str

def boom(state):
    raise ValueError("the model refused")

graph = StateGraph(S)
graph.add_node(boom)
graph.add_edge(START, "boom"); graph.add_edge("boom", END)
"""

# Reads the run's context (context_schema) and a configurable value.
CONTEXT_GRAPH = """
from dataclasses import dataclass
from typing_extensions import TypedDict
from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph, START, END
from langgraph.runtime import Runtime

@dataclass
class Ctx:
    user: str = "nobody"

class S(TypedDict, total=False):
    out: str

def who(state, config: RunnableConfig, runtime: Runtime[Ctx]):
    return {"out": runtime.context.user + ":" + config["configurable"].get("tone", "plain")}

graph = StateGraph(S, context_schema=Ctx)
graph.add_node(who)
graph.add_edge(START, "who"); graph.add_edge("who", END)
"""

GRAPHS = {
    "lists": LIST_GRAPH,
    "chat": CHAT_GRAPH,
    "hitl": HITL_GRAPH,
    "slow": SLOW_GRAPH,
    "failing": FAILING_GRAPH,
    "ctx": CONTEXT_GRAPH,
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Lab]]:
    root = tmp_path_factory.mktemp("runs") / "proj"
    shutil.copytree(REPO / "config", root / "config")
    for name, text in GRAPHS.items():
        write(root / "workflows" / f"{name}.py", text)
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("LGP_", "LANGFUSE_")):
                mp.delenv(name, raising=False)
        mp.chdir(root)
        with Lab(root=root, console=False) as lab:
            handle = start_server(lab, [f"workflows/{n}.py" for n in GRAPHS], port=0)
            yield handle.url, lab
            handle.stop()


_OPEN: list[Any] = []


def sdk(url: str) -> Any:
    """An async SDK client, closed when the ``run`` it was made in ends."""
    client = get_client(url=url)
    _OPEN.append(client)
    return client


def run(coro: Any) -> Any:
    async def closing() -> Any:
        try:
            return await coro
        finally:
            while _OPEN:
                await _OPEN.pop().aclose()

    return asyncio.run(closing())


async def collect(parts: Any) -> list[Any]:
    return [part async for part in parts]


def checkpoint_count(lab: Lab, thread_id: str) -> int:
    with sqlite3.connect(lab.checkpoint_path) as db:
        (n,) = db.execute(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ? AND checkpoint_ns = ''",
            (thread_id,),
        ).fetchone()
    return n


# ---------------------------------------------------------------- create / wait / stream


def test_wait_and_background_run_join_get_list(server) -> None:
    url, _lab = server

    async def main() -> None:
        client = sdk(url)
        thread = await client.threads.create()
        tid = thread["thread_id"]
        created: list[dict] = []
        out = await client.runs.wait(
            tid, "lists", input={"items": ["x"]}, on_run_created=created.append
        )
        assert out == {"items": ["x", "a", "b", "c"]}
        assert created and created[0]["thread_id"] == tid  # from Content-Location

        run = await client.runs.create(tid, "lists", input={"items": ["y"]}, metadata={"k": 1})
        assert run["status"] in ("pending", "running") and run["thread_id"] == tid
        assert run["multitask_strategy"] == "reject" and run["metadata"] == {"k": 1}
        joined = await client.runs.join(tid, run["run_id"])
        assert joined["items"] == ["x", "a", "b", "c", "y", "a", "b", "c"]
        got = await client.runs.get(tid, run["run_id"])
        assert got["status"] == "success" and got["assistant_id"] != "lists"
        listed = await client.runs.list(tid)
        assert listed[0]["run_id"] == run["run_id"] and len(listed) == 2
        assert [r["status"] for r in await client.runs.list(tid, status="success")] == [
            "success",
            "success",
        ]
        # The thread records the graph and assistant of its runs, and is idle again.
        info = await client.threads.get(tid)
        assert info["metadata"]["graph_id"] == "lists"
        assert info["metadata"]["assistant_id"] == got["assistant_id"]
        assert info["status"] == "idle"

        await client.runs.delete(tid, run["run_id"])
        with pytest.raises(NotFoundError):
            await client.runs.get(tid, run["run_id"])

    run(main())


def test_stream_every_mode(server) -> None:
    url, _lab = server
    modes = ["values", "updates", "messages-tuple", "messages", "custom", "debug", "tasks",
             "checkpoints", "events"]  # fmt: skip

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        parts = await collect(client.runs.stream(tid, "chat", input="hi", stream_mode=modes))
        events = [p.event for p in parts]
        assert events[0] == "metadata" and set(parts[0].data) == {"run_id", "attempt"}
        assert events[-1] == "end"
        for needed in ("values", "updates", "messages", "messages/metadata", "messages/partial",
                       "messages/complete", "custom", "debug", "tasks", "checkpoints",
                       "events"):  # fmt: skip
            assert needed in events, needed
        # messages-tuple: [chunk, metadata] token by token from the chat model.
        tuples = [p.data for p in parts if p.event == "messages"]
        tokens = "".join(m["content"] for m, _meta in tuples if m["type"] == "AIMessageChunk")
        assert tokens == "hello there friend"
        assert all(meta["langgraph_node"] == "reply" for m, meta in tuples
                   if m["type"] == "AIMessageChunk")  # fmt: skip
        partials = [p.data[0]["content"] for p in parts if p.event == "messages/partial"]
        assert partials[-1] == "hello there friend" and len(partials) > 1
        complete = [p.data[0] for p in parts if p.event == "messages/complete"]
        assert any(m["content"] == "hello there friend" for m in complete)
        assert {"progress": "thinking"} in [p.data for p in parts if p.event == "custom"]
        debug = [p.data for p in parts if p.event == "debug" and p.data["type"] == "checkpoint"]
        assert debug[-1]["payload"]["checkpoint"]["thread_id"] == tid
        assert debug[-1]["payload"]["parent_checkpoint"]["checkpoint_id"]
        final = [p.data for p in parts if p.event == "values"][-1]
        assert [m["content"] for m in final["messages"]][-2:] == ["hello there friend", "noted"]
        assert {p.data["name"] for p in parts if p.event == "tasks"} >= {"reply", "inner"}
        assert any(p.data["event"] == "on_chat_model_stream" for p in parts
                   if p.event == "events")  # fmt: skip

        # A single mode as a string; subgraphs name their namespace.
        sub = await collect(
            client.runs.stream(tid, "chat", input="again", stream_mode="updates",
                               stream_subgraphs=True)
        )  # fmt: skip
        names = [p.event for p in sub]
        assert "updates" in names and any(n.startswith("updates|inner:") for n in names)

    run(main())


def test_join_stream_replays_after_last_event_id(server) -> None:
    url, _lab = server

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        run_ = await client.runs.create(
            tid, "lists", input={"items": []}, stream_mode=["values", "updates"],
            stream_resumable=True,
        )  # fmt: skip
        await client.runs.join(tid, run_["run_id"])
        everything = await collect(client.runs.join_stream(tid, run_["run_id"], last_event_id="-1"))
        names = [p.event for p in everything]
        assert names[0] == "metadata" and names[-1] == "end"
        assert [p.data for p in everything if p.event == "updates"] == [
            {"a": {"items": ["a"]}}, {"b": {"items": ["b"]}}, {"c": {"items": ["c"]}},
        ]  # fmt: skip
        ids = [p.id for p in everything]
        assert all(ids) and len(set(ids)) == len(ids)
        rest = await collect(client.runs.join_stream(tid, run_["run_id"], last_event_id=ids[2]))
        assert [p.id for p in rest] == ids[3:]
        only = await collect(client.runs.join_stream(
            tid, run_["run_id"], last_event_id="-1", stream_mode="updates"))  # fmt: skip
        assert {p.event for p in only} == {"metadata", "updates", "end"}

        # Joining a run in flight: its events from then on, to the end.
        slow = await client.runs.create(tid, "slow", input={"items": []}, stream_mode="updates")
        stream = client.runs.join_stream(tid, slow["run_id"])
        await client.runs.cancel(tid, slow["run_id"])
        seen = await collect(stream)
        assert seen and seen[-1].event == "end" and seen[-1].data["status"] == "interrupted"

    run(main())


# ---------------------------------------------------------------- cancel


async def _started(client: Any, tid: str, **kwargs: Any) -> tuple[str, Any]:
    """Start the slow graph on ``tid``; return its run id once `first` has run."""
    parts = client.runs.stream(tid, "slow", input={"items": []}, stream_mode="updates",
                               on_disconnect="continue", **kwargs)  # fmt: skip
    run_id = None
    async for part in parts:
        if part.event == "metadata":
            run_id = part.data["run_id"]
        if part.event == "updates" and "first" in part.data:
            break
    assert run_id is not None
    return run_id, parts


@pytest.mark.parametrize("action", ["interrupt", "rollback"])
def test_cancel(server, action: str) -> None:
    url, lab = server

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        await client.runs.wait(tid, "lists", input={"items": ["before"]})
        before = checkpoint_count(lab, tid)
        run_id, parts = await _started(client, tid)
        await client.runs.cancel(tid, run_id, wait=True, action=action)
        await parts.aclose()
        state = (await client.threads.get_state(tid))["values"]
        if action == "interrupt":
            assert (await client.runs.get(tid, run_id))["status"] == "interrupted"
            assert state["items"][-1] == "first"  # what it checkpointed stays
            assert checkpoint_count(lab, tid) > before
        else:
            with pytest.raises(NotFoundError):
                await client.runs.get(tid, run_id)  # the run is gone ...
            assert state["items"] == ["before", "a", "b", "c"]  # ... and what it wrote
            assert checkpoint_count(lab, tid) == before
        assert (await client.threads.get(tid))["status"] == "idle"
        with pytest.raises(NotFoundError):
            await client.runs.cancel(tid, "00000000-0000-0000-0000-000000000000")

    run(main())


def test_disconnect_cancels_unless_continue(server) -> None:
    url, _lab = server

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        parts = client.runs.stream(tid, "slow", input={"items": []}, stream_mode="updates")
        async for part in parts:
            if part.event == "metadata":
                run_id = part.data["run_id"]
                break
        await parts.aclose()  # the client goes away: on_disconnect defaults to cancel
        await client.runs.join(tid, run_id)
        assert (await client.runs.get(tid, run_id))["status"] == "interrupted"

        kept, parts = await _started(client, tid)  # on_disconnect="continue"
        await parts.aclose()
        assert (await client.runs.get(tid, kept))["status"] == "running"
        await client.runs.cancel(tid, kept, wait=True)

    run(main())


# ---------------------------------------------------------------- multitask strategies


def test_multitask_strategies(server) -> None:
    url, lab = server

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]

        first, parts = await _started(client, tid)
        with pytest.raises(ConflictError) as refused:
            await client.runs.create(tid, "lists", input={"items": ["no"]})
        assert "already running" in str(refused.value)

        queued = await client.runs.create(
            tid, "lists", input={"items": ["queued"]}, multitask_strategy="enqueue"
        )
        assert (await client.runs.get(tid, queued["run_id"]))["status"] == "pending"
        # interrupt: the slow run stops (keeping `first`), the queued run and this one run.
        last = await client.runs.create(
            tid, "lists", input={"items": ["interrupting"]}, multitask_strategy="interrupt"
        )
        state = await client.runs.join(tid, last["run_id"])
        await parts.aclose()
        assert (await client.runs.get(tid, first))["status"] == "interrupted"
        assert (await client.runs.get(tid, queued["run_id"]))["status"] == "interrupted"
        assert state["items"] == ["first", "interrupting", "a", "b", "c"]

        # rollback: the run in flight and everything it wrote disappear.
        before = checkpoint_count(lab, tid)
        doomed, parts = await _started(client, tid)
        replacement = await client.runs.wait(
            tid, "lists", input={"items": ["rolled"]}, multitask_strategy="rollback"
        )
        await parts.aclose()
        with pytest.raises(NotFoundError):
            await client.runs.get(tid, doomed)
        assert replacement["items"] == state["items"] + ["rolled", "a", "b", "c"]
        assert checkpoint_count(lab, tid) == before + 5  # the replacement's own: input..c

    run(main())


def test_context_config_and_custom_assistants(server) -> None:
    url, _lab = server

    async def main() -> None:
        client = sdk(url)
        out = await client.runs.wait(None, "ctx", input={})
        assert out == {"out": "nobody:plain"}
        out = await client.runs.wait(
            None, "ctx", input={}, context={"user": "ann"},
            config={"configurable": {"tone": "dry"}},
        )  # fmt: skip
        assert out == {"out": "ann:dry"}
        # A custom assistant's config and context are its runs' defaults.
        made = await client.assistants.create(
            "ctx", config={"configurable": {"tone": "warm"}}, context={"user": "bob"}
        )
        tid = (await client.threads.create())["thread_id"]
        assert await client.runs.wait(tid, made["assistant_id"], input={}) == {"out": "bob:warm"}
        out = await client.runs.wait(tid, made["assistant_id"], input={}, context={"user": "cy"})
        assert out == {"out": "cy:warm"}  # the run's own keys win
        listed = await client.runs.list(tid)
        assert {r["assistant_id"] for r in listed} == {made["assistant_id"]}
        info = await client.threads.get(tid)
        assert info["metadata"]["assistant_id"] == made["assistant_id"]
        assert info["metadata"]["graph_id"] == "ctx"
        await client.assistants.delete(made["assistant_id"])

    run(main())


def test_batch_and_cancel_many(server) -> None:
    url, _lab = server

    async def main() -> None:
        client = sdk(url)
        batch = await client.runs.create_batch(
            [{"assistant_id": "lists", "input": {"items": [f"b{i}"]}} for i in range(3)]
        )
        assert len(batch) == 3 and len({r["thread_id"] for r in batch}) == 3

        tid = (await client.threads.create())["thread_id"]
        running, parts = await _started(client, tid)
        queued = await client.runs.create(
            tid, "lists", input={"items": ["q"]}, multitask_strategy="enqueue"
        )
        await client.runs.cancel_many(thread_id=tid, status="pending")
        assert (await client.runs.get(tid, queued["run_id"]))["status"] == "interrupted"
        assert (await client.runs.get(tid, running))["status"] == "running"
        await client.runs.cancel_many(thread_id=tid, status="all")
        await client.runs.join(tid, running)
        await parts.aclose()
        assert (await client.runs.get(tid, running))["status"] == "interrupted"

    run(main())


def test_concurrent_enqueue_keeps_every_update_and_reject_loses_none(server) -> None:
    url, lab = server

    async def clients(tid: str, strategy: str) -> list[Any]:
        async def one(client_no: int) -> list[Any]:
            client = sdk(url)
            out = []
            for i in range(20):
                try:
                    await client.runs.wait(
                        tid, "lists", input={"items": [f"{client_no}-{i}"]},
                        multitask_strategy=strategy,
                    )  # fmt: skip
                    out.append(f"{client_no}-{i}")
                except httpx.HTTPStatusError as exc:  # runs.wait raises the plain httpx error
                    assert exc.response.status_code == 409, exc.response.text
                    out.append(409)
            return out

        return [r for rs in await asyncio.gather(*(one(n) for n in range(16))) for r in rs]

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        accepted = await clients(tid, "enqueue")
        assert 409 not in accepted and len(accepted) == 320
        items = (await client.threads.get_state(tid))["values"]["items"]
        assert sorted(i for i in items if "-" in i) == sorted(accepted)
        # Zero forks: every checkpoint but the first has its predecessor as parent.
        with sqlite3.connect(lab.checkpoint_path) as db:
            rows = db.execute(
                "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints "
                "WHERE thread_id = ? AND checkpoint_ns = '' ORDER BY checkpoint_id",
                (tid,),
            ).fetchall()
        assert all(parent == prev for (_, parent), (prev, _) in zip(rows[1:], rows, strict=False))
        assert len(rows) == 320 * 5

        tid2 = (await client.threads.create())["thread_id"]
        outcome = await clients(tid2, "reject")
        ok = [o for o in outcome if o != 409]
        assert 409 in outcome and ok
        items = (await client.threads.get_state(tid2))["values"]["items"]
        assert sorted(i for i in items if "-" in i) == sorted(ok)  # every 200 is in

    run(main())


# ---------------------------------------------------------------- interrupts, forks


def test_interrupt_resumed_with_command_sync_client(server) -> None:
    url, _lab = server
    client = get_sync_client(url=url)
    tid = client.threads.create()["thread_id"]
    out = client.runs.wait(tid, "hitl", input={"question": "ship it?"})
    assert out["__interrupt__"][0]["value"] == {"question": "ship it?"}
    assert client.threads.get(tid)["status"] == "interrupted"
    runs = client.runs.list(tid)
    assert runs[0]["status"] == "success"  # the run succeeded; its thread waits
    parts = list(client.runs.stream(tid, "hitl", command={"resume": "yes"},
                                    stream_mode="values"))  # fmt: skip
    assert parts[-2].event == "values" and parts[-2].data["answer"] == "yes!"
    assert client.threads.get(tid)["status"] == "idle"
    # Nothing to resume now: the run fails with a clear error.
    with pytest.raises(Exception, match="not waiting on an interrupt"):
        client.runs.wait(tid, "hitl", command={"resume": "again"})


def test_fork_from_checkpoint(server) -> None:
    url, _lab = server

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        await client.runs.wait(tid, "lists", input={"items": ["one"]})
        await client.runs.wait(tid, "lists", input={"items": ["two"]})
        history = await client.threads.get_history(tid, limit=50)
        after_first = next(
            h for h in history if h["values"].get("items") == ["one", "a", "b", "c"]
            and not h["next"]
        )  # fmt: skip
        forked = await client.runs.wait(
            tid, "lists", input={"items": ["fork"]},
            checkpoint_id=after_first["checkpoint"]["checkpoint_id"],
        )  # fmt: skip
        assert forked["items"] == ["one", "a", "b", "c", "fork", "a", "b", "c"]
        oldest = history[-1]["checkpoint"]["checkpoint_id"]
        again = await client.runs.wait(
            tid, "lists", input=None, checkpoint={"checkpoint_id": oldest}
        )
        assert again["items"][0] == "one"

    run(main())


# ---------------------------------------------------------------- stateless, errors


def thread_ids(lab: Lab) -> set[str]:
    with sqlite3.connect(lab.checkpoint_path) as db:
        return {t for (t,) in db.execute("SELECT DISTINCT thread_id FROM checkpoints")}


def test_stateless_runs(server) -> None:
    url, lab = server
    before = thread_ids(lab)

    async def main() -> str:
        client = sdk(url)
        created: list[dict] = []
        out = await client.runs.wait(None, "lists", input={"items": ["s"]},
                                     on_run_created=created.append)  # fmt: skip
        assert out == {"items": ["s", "a", "b", "c"]}
        assert created[0]["thread_id"] is None  # Content-Location: /runs/{run_id}
        parts = await collect(client.runs.stream(None, "lists", input={"items": ["t"]}))
        assert parts[0].event == "metadata" and parts[-1].event == "end"
        assert parts[-2].data == {"items": ["t", "a", "b", "c"]}
        kept = await client.runs.create(None, "lists", input={"items": ["k"]},
                                        on_completion="keep")  # fmt: skip
        assert (await client.runs.join(kept["thread_id"], kept["run_id"]))["items"][0] == "k"
        assert (await client.threads.get(kept["thread_id"]))["values"]["items"][0] == "k"
        return kept["thread_id"]

    kept = run(main())
    assert thread_ids(lab) - before == {kept}  # the temporary threads are gone


# A graph factory that takes its time for a run: the run writes no checkpoint before it
# returns, so only the thread record says the run's thread exists meanwhile.
LATE_GRAPH = """
import asyncio, operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
class S(TypedDict, total=False):
    items: Annotated[list, operator.add]
def a(state): return {"items": ["a"]}
builder = StateGraph(S)
builder.add_node(a); builder.add_edge(START, "a"); builder.add_edge("a", END)
async def make_graph(config):
    if config.get("configurable", {}).get("run_id"):
        await asyncio.sleep(1.0)
    return builder.compile()
"""


def test_stateless_runs_delete_their_thread_unless_kept(project: Path) -> None:
    """As the reference server: a stateless run's thread is deleted when it ends
    (``on_completion="delete"``, the default); ``keep`` keeps it, and the thread exists
    from the moment the run is created, as a thread created for a run does."""
    write(project / "workflows" / "lists.py", LIST_GRAPH)
    write(project / "workflows" / "late.py", LATE_GRAPH)

    async def main(url: str) -> None:
        client = sdk(url)

        async def listed() -> set[str]:
            return {t["thread_id"] for t in await client.threads.search(limit=100)}

        assert await listed() == set()
        out = await client.runs.wait(None, "lists", input={"items": ["w"]})
        assert out == {"items": ["w", "a", "b", "c"]}
        await collect(client.runs.stream(None, "lists", input={"items": ["s"]}))
        assert await listed() == set()  # both temporary threads are gone

        kept = await client.runs.create(None, "late", input={"items": []}, on_completion="keep")
        thread = await client.threads.get(kept["thread_id"])  # at once: no 404
        assert thread["status"] == "busy" and thread["metadata"]["graph_id"] == "late"
        assert await listed() == {kept["thread_id"]}
        assert await client.runs.join(kept["thread_id"], kept["run_id"]) == {"items": ["a"]}
        thread = await client.threads.get(kept["thread_id"])
        assert thread["status"] == "idle" and thread["values"] == {"items": ["a"]}

        waited = await client.runs.wait(None, "lists", input={"items": ["k"]},
                                        on_completion="keep")  # fmt: skip
        assert waited["items"][0] == "k"
        [other] = await listed() - {kept["thread_id"]}
        assert (await client.threads.get(other))["values"] == waited

        # A run that creates its thread (if_not_exists="create") makes it exist at once too.
        made = await client.runs.create("made-for-a-run", "late", input={"items": []},
                                        if_not_exists="create")  # fmt: skip
        assert (await client.threads.get("made-for-a-run"))["status"] == "busy"
        await client.runs.join("made-for-a-run", made["run_id"])

    with Lab(root=project, console=False) as lab:
        handle = start_server(lab, ["workflows/lists.py", "workflows/late.py:make_graph"], port=0)
        try:
            run(main(handle.url))
        finally:
            handle.stop()


def test_errors(server) -> None:
    url, _lab = server

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        with pytest.raises(Exception, match="the model refused"):
            await client.runs.wait(tid, "failing", input={"input": "x"})
        out = await client.runs.wait(tid, "failing", input={"input": "x"}, raise_error=False)
        assert out["__error__"]["error"] == "ValueError"
        assert "node 'boom'" in out["__error__"]["message"]
        parts = await collect(client.runs.stream(tid, "failing", input={"input": "x"}))
        assert [p.event for p in parts][-2:] == ["error", "end"]
        assert (await client.threads.get(tid))["status"] == "error"
        assert (await client.runs.list(tid))[0]["status"] == "error"

        with pytest.raises(NotFoundError, match="assistant 'nope' not found"):
            await client.runs.create(tid, "nope", input={})
        with pytest.raises(NotFoundError, match="thread 'missing-thread' not found"):
            await client.runs.create("missing-thread", "lists", input={})
        with pytest.raises(httpx.HTTPStatusError, match="404"):
            await client.runs.wait("missing-thread", "lists", input={})
        out = await client.runs.wait("made-here", "lists", input={}, if_not_exists="create")
        assert out == {"items": ["a", "b", "c"]}
        with pytest.raises(UnprocessableEntityError, match="stream_mode 'bogus'"):
            await collect(client.runs.stream(tid, "lists", input={}, stream_mode="bogus"))
        with pytest.raises(UnprocessableEntityError, match="multitask_strategy"):
            await client.runs.create(tid, "lists", input={}, multitask_strategy="later")
        with pytest.raises(UnprocessableEntityError, match="unknown key"):
            await client.runs.create(tid, "lists", input={"nope": 1})
        with pytest.raises(UnprocessableEntityError, match="action"):
            await client.runs.cancel(tid, "00000000-0000-0000-0000-000000000000",
                                     action="explode")  # type: ignore[arg-type]  # fmt: skip

    run(main())
    raw = httpx.post(f"{url}/threads/x/runs", json={"input": {}})
    assert raw.status_code == 422 and raw.json()["detail"]


def test_interrupt_before_and_heartbeats(server, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _lab = server
    import lgp_lab.server.agent_api.runs as routes

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        paused = await client.runs.wait(tid, "lists", input={"items": []}, interrupt_before=["b"])
        assert paused == {"items": ["a"]}
        assert (await client.threads.get_state(tid))["next"] == ["b"]
        # As on the Agent Server: the run succeeded, the thread waits at the breakpoint.
        assert (await client.threads.get(tid))["status"] == "interrupted"
        done = await client.runs.wait(tid, "lists", input=None)  # None continues the thread
        assert done == {"items": ["a", "b", "c"]}
        assert (await client.threads.get(tid))["status"] == "idle"

    run(main())

    # An idle stream gets `: heartbeat` comments (the SDK skips them).
    monkeypatch.setattr(routes, "HEARTBEAT_S", 0.05)
    with httpx.Client(base_url=url, timeout=30) as raw:
        tid = raw.post("/threads", json={}).json()["thread_id"]
        body = {"assistant_id": "slow", "input": {"items": []}, "stream_mode": "updates"}
        with raw.stream("POST", f"/threads/{tid}/runs/stream", json=body) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            location = response.headers["content-location"]
            assert location.startswith(f"/threads/{tid}/runs/")
            seen = ""
            for text in response.iter_text():
                seen += text
                if ": heartbeat" in seen:
                    break
        run_id = location.rsplit("/", 1)[1]
        out = raw.get(f"/threads/{tid}/runs/{run_id}/join")  # the hang-up cancelled it
        assert out.json()["items"] == ["first"]
        assert raw.get(f"/threads/{tid}/runs/{run_id}").json()["status"] == "interrupted"


def test_wait_keeps_a_long_run_alive_with_newlines(server, monkeypatch) -> None:
    url, _lab = server
    import lgp_lab.server.agent_api.runs as routes

    monkeypatch.setattr(routes, "HEARTBEAT_S", 0.05)

    async def main() -> None:
        client = sdk(url)
        tid = (await client.threads.create())["thread_id"]
        body = {"assistant_id": "slow", "input": {"items": []}, "on_disconnect": "continue"}
        async with (
            httpx.AsyncClient(base_url=url, timeout=30) as raw,
            raw.stream("POST", f"/threads/{tid}/runs/wait", json=body) as response,
        ):
            assert response.status_code == 200
            chunks = response.aiter_bytes()
            first = await anext(chunks)
            assert first.strip() == b""  # a keep-alive newline: the run is still going
            run_id = response.headers["content-location"].rsplit("/", 1)[1]
            await client.runs.cancel(tid, run_id)
            rest = b"".join([chunk async for chunk in chunks])
        assert json.loads(first + rest) == {"items": ["first"]}

    run(main())


def test_lab_run_holding_a_thread_queues_with_api_runs(server) -> None:
    """``lab.runs.exclusive`` (what Lab.run can hold): plain runs and API runs on one
    thread never fork it."""
    _url, lab = server
    from lgp_lab.runtime.runs import RunConflictError

    async def on_engine() -> None:
        wf = await lab.aload("workflows/lists.py")
        tid = "held-thread"

        async def plain(i: int) -> None:
            async with lab.runs.exclusive(tid):
                await lab.arun(wf, {"items": [f"p{i}"]}, thread_id=tid)

        api = [
            await lab.runs.acreate(
                thread_id=tid, assistant_id="lists", graph_id=wf, input={"items": [f"r{i}"]},
                multitask_strategy="enqueue", if_not_exists="create",
            )
            for i in range(4)
        ]  # fmt: skip
        await asyncio.gather(*(plain(i) for i in range(8)))
        for created in api:
            await lab.runs.ajoin(tid, created.run_id)
        items = (await lab.sessions.astate(tid))["items"]
        assert sorted(i for i in items if i[0] in "pr") == sorted(
            [f"p{i}" for i in range(8)] + [f"r{i}" for i in range(4)]
        )
        with sqlite3.connect(lab.checkpoint_path) as db:
            rows = db.execute(
                "SELECT checkpoint_id, parent_checkpoint_id FROM checkpoints "
                "WHERE thread_id = ? AND checkpoint_ns = '' ORDER BY checkpoint_id",
                (tid,),
            ).fetchall()
        assert all(parent == prev for (_, parent), (prev, _) in zip(rows[1:], rows, strict=False))

        async with lab.runs.exclusive(tid):
            with pytest.raises(RunConflictError, match="outside the API"):
                await lab.runs.acreate(thread_id=tid, assistant_id="lists", graph_id=wf)
            queued = await lab.runs.acreate(
                thread_id=tid, assistant_id="lists", graph_id=wf, multitask_strategy="enqueue"
            )
            assert (await lab.runs.aget(tid, queued.run_id)).status == "pending"
        assert (await lab.runs.ajoin(tid, queued.run_id))["items"][-1] == "c"

    lab.engine.call(on_engine())


def test_domain_api_from_another_loop(server) -> None:
    """lab.runs from outside the engine loop (a notebook cell, a script): calls hop."""
    _url, lab = server

    async def main() -> None:
        runs = lab.runs
        created = await runs.acreate(
            thread_id=None, assistant_id="lists", graph_id="workflows/lists.py",
            input={"items": ["d"]}, on_completion="keep",
        )  # fmt: skip
        assert created.status == "pending" and created.kwargs["temporary"] is False
        final = await runs.ajoin(created.thread_id, created.run_id)
        assert final == {"items": ["d", "a", "b", "c"]}
        listed = await runs.alist(created.thread_id)
        assert [r.status for r in listed] == ["success"]
        with pytest.raises(Exception, match="run 'nope' not found"):
            await runs.acancel(created.thread_id, "nope")

    run(main())


def test_closing_the_lab_stops_runs_in_flight(project: Path) -> None:
    write(project / "workflows" / "slow.py", SLOW_GRAPH)
    lab = Lab(root=project, console=False)
    wf = lab.load("workflows/slow.py")

    async def start() -> tuple[str, str]:
        created = await lab.runs.acreate(
            thread_id=None, assistant_id="slow", graph_id=wf, on_completion="keep",
            stream_mode="updates",
        )  # fmt: skip
        async for _id, event, _data in lab.runs.astream(created.run_id, last_event_id="-1"):
            if event == "updates":
                break  # `first` ran: the run now waits in `hold`
        return created.thread_id, created.run_id

    thread_id, run_id = lab.engine.call(start())
    lab.close()  # bounded: the run is cancelled, its end recorded
    with sqlite3.connect(lab.checkpoint_path) as db:
        (status,) = db.execute("SELECT status FROM lgp_runs WHERE run_id = ?", (run_id,)).fetchone()
        kept = db.execute(
            "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?", (thread_id,)
        ).fetchone()
    assert status == "interrupted" and kept[0] > 0


# ---------------------------------------------------------------- RemoteGraph


def test_remote_graph_as_a_node(server) -> None:
    url, _lab = server
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import END, START, StateGraph
    from langgraph.pregel.remote import RemoteGraph
    from typing_extensions import TypedDict

    class S(TypedDict, total=False):
        items: list

    remote = RemoteGraph("lists", url=url)
    local = StateGraph(S)
    local.add_node("remote", remote)
    local.add_node("after", lambda s: {"items": [*s["items"], "local"]})
    local.add_edge(START, "remote")
    local.add_edge("remote", "after")
    local.add_edge("after", END)
    app = local.compile(checkpointer=InMemorySaver())
    out = app.invoke({"items": ["r"]}, {"configurable": {"thread_id": "remote-parent"}})
    assert out["items"] == ["r", "a", "b", "c", "local"]
    # Streamed through the remote graph, as a plain graph.
    chunks = list(remote.stream({"items": []}, stream_mode="updates"))
    assert [next(iter(c)) for c in chunks] == ["a", "b", "c"]
    # The async side, on a thread of the server (created on first use).
    config = {"configurable": {"thread_id": "remote-async"}}

    async def twice() -> None:
        first = await remote.ainvoke({"items": ["x"]}, config)
        assert first["items"] == ["x", "a", "b", "c"]
        second = await remote.ainvoke({"items": ["y"]}, config)
        assert second["items"] == ["x", "a", "b", "c", "y", "a", "b", "c"]

    run(twice())
    assert remote.get_state(config).values["items"][0] == "x"
