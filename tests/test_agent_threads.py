"""The Agent Server API's assistants, threads and store, driven by the official
``langgraph_sdk`` clients (async and sync) against real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import write

from lgp_lab import Lab
from lgp_lab.server.background import start_server

pytestmark = pytest.mark.loop_watchdog  # no route may block the engine loop

KEY = "agent-threads-key"

ASKING = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt


class S(TypedDict, total=False):
    question: str
    answer: str
    log: list[str]


def ask(state):
    reply = interrupt({"question": state.get("question", "ok?")})
    return {"answer": reply}


def done(state):
    return {"log": [*state.get("log", []), "done:" + str(state.get("answer"))]}


workflow = StateGraph(S)
workflow.add_node("ask", ask)
workflow.add_node("done", done)
workflow.add_edge(START, "ask")
workflow.add_edge("ask", "done")
workflow.add_edge("done", END)
"""

NESTED = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from langgraph.types import interrupt


class S(TypedDict, total=False):
    text: str


def shout(state):
    if state.get("text") == "?":
        return {"text": str(interrupt("inner question"))}
    return {"text": state.get("text", "").upper()}


inner = StateGraph(S)
inner.add_node("shout", shout)
inner.add_edge(START, "shout")
inner.add_edge("shout", END)

workflow = StateGraph(S)
workflow.add_node("inner", inner.compile())
workflow.add_edge(START, "inner")
workflow.add_edge("inner", END)
"""


GATED = """
import asyncio
from pathlib import Path
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END


class S(TypedDict, total=False):
    gate: str
    passed: bool


async def wait(state):
    for _ in range(2000):  # bounded: 20 s at most
        if Path(state["gate"]).exists():
            return {"passed": True}
        await asyncio.sleep(0.01)
    return {"passed": False}


workflow = StateGraph(S)
workflow.add_node("wait", wait)
workflow.add_edge(START, "wait")
workflow.add_edge("wait", END)
"""


@pytest.fixture
def served(project: Path) -> Iterator[tuple[str, Lab]]:
    write(
        project / "config" / "experiment.yaml",
        f"""
        server:
          api_keys: [{KEY}]
          cors_origins: "https://chat.example.com, http://localhost:*"
        observability:
          console: false
        """,
    )
    write(project / "workflows" / "asking.py", ASKING)
    write(project / "workflows" / "nested.py", NESTED)
    write(project / "workflows" / "gated.py", GATED)
    # uvicorn imports its HTTP protocol (h11, ~0.2 s) on the engine loop when it starts;
    # the clients here import it anyway (requests-threads.md asks start_server to do it).
    import h11  # noqa: F401

    with Lab(root=project) as lab:
        targets = ["basic_workflow", *(f"workflows/{n}.py" for n in ("asking", "nested", "gated"))]
        handle = start_server(lab, targets, port=0)
        yield handle.url, lab
        handle.stop()


def test_sdk_async_assistants_threads_state_and_store(served: tuple[str, Lab]) -> None:
    url, lab = served
    asyncio.run(_async_flow(url, lab))


async def _async_flow(url: str, lab: Lab) -> None:
    from langgraph_sdk import get_client
    from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

    from lgp_lab.runtime.threads import assistant_id_for

    client = get_client(url=url, api_key=KEY)

    # ------------------------------------------------------------ assistants
    found = await client.assistants.search()
    assert {a["graph_id"] for a in found} == {"basic_workflow", "asking", "nested", "gated"}
    assert all(a["metadata"] == {"created_by": "system"} for a in found)
    basic = next(a for a in found if a["graph_id"] == "basic_workflow")
    assert basic["assistant_id"] == assistant_id_for("basic_workflow")
    assert basic["description"].startswith("Remembers facts")
    # the same id langgraph-api derives for a graph id ("agent" is the SDK docs' example)
    assert assistant_id_for("agent") == "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
    assert (await client.assistants.get(basic["assistant_id"]))["graph_id"] == "basic_workflow"
    assert (await client.assistants.get("asking"))["assistant_id"] == assistant_id_for("asking")
    assert [a["graph_id"] for a in await client.assistants.search(graph_id="asking")] == ["asking"]
    assert await client.assistants.search(metadata={"created_by": "user"}) == []
    assert await client.assistants.count() == 4
    with pytest.raises(NotFoundError) as missing:
        await client.assistants.get(str(uuid.uuid4()))
    assert "not found" in missing.value.message and "basic_workflow" in missing.value.message

    drawn = await client.assistants.get_graph("asking")
    assert {"ask", "done", "__start__", "__end__"} <= {n["id"] for n in drawn["nodes"]}
    assert {(e["source"], e["target"]) for e in drawn["edges"]} >= {("ask", "done")}
    flat = await client.assistants.get_graph("nested")
    deep = await client.assistants.get_graph("nested", xray=True)
    assert "inner:shout" not in {n["id"] for n in flat["nodes"]}
    assert "inner:shout" in {n["id"] for n in deep["nodes"]}
    schemas = await client.assistants.get_schemas("asking")
    assert schemas["graph_id"] == "asking"
    assert set(schemas["state_schema"]["properties"]) == {"question", "answer", "log"}
    assert "question" in schemas["input_schema"]["properties"]
    assert "log" in schemas["output_schema"]["properties"]
    subgraphs = await client.assistants.get_subgraphs("nested")
    assert list(subgraphs) == ["inner"]
    assert "text" in subgraphs["inner"]["state_schema"]["properties"]
    assert await client.assistants.get_subgraphs("asking") == {}

    # ------------------------------------------------------------ threads
    thread = await client.threads.create(metadata={"user": "ann"}, graph_id="asking")
    tid = thread["thread_id"]
    assert uuid.UUID(tid) and thread["status"] == "idle" and thread["values"] == {}
    assert thread["metadata"] == {"user": "ann", "graph_id": "asking"}
    with pytest.raises(ConflictError):
        await client.threads.create(thread_id=tid)
    again = await client.threads.create(thread_id=tid, if_exists="do_nothing")
    assert again["thread_id"] == tid and again["metadata"]["user"] == "ann"
    empty = await client.threads.get_state(tid)
    assert empty["values"] == {} and empty["next"] == [] and empty["checkpoint"] is None
    assert await client.threads.get_history(tid) == []

    # A thread created over the SDK continues in the notebook (lab.run) ...
    result = await asyncio.to_thread(lab.run, "asking", {"question": "ship it?"}, thread_id=tid)
    assert result.status == "interrupted"
    info = lab.sessions.thread(tid)
    assert info is not None and info.workflow == "asking" and info.status == "interrupted"
    got = await client.threads.get(tid)
    assert got["status"] == "interrupted" and got["values"] == {"question": "ship it?"}
    [(task_id, [pending])] = got["interrupts"].items()
    assert pending["value"] == {"question": "ship it?"} and pending["id"]
    state = await client.threads.get_state(tid)
    assert state["next"] == ["ask"] and state["values"] == {"question": "ship it?"}
    assert state["tasks"][0]["id"] == task_id and state["tasks"][0]["name"] == "ask"
    assert state["tasks"][0]["interrupts"][0]["value"] == {"question": "ship it?"}
    assert state["interrupts"][0]["id"] == pending["id"]
    assert state["checkpoint"]["thread_id"] == tid and state["checkpoint"]["checkpoint_ns"] == ""
    assert state["parent_checkpoint"]["checkpoint_id"] and state["created_at"]
    assert (await client.threads.search(status="interrupted"))[0]["thread_id"] == tid

    # ... and an answer given in the notebook shows over the SDK.
    done = await asyncio.to_thread(lab.resume, tid, "yes")
    assert done.status == "complete"
    final = await client.threads.get_state(tid)
    assert final["values"]["log"] == ["done:yes"] and final["next"] == []
    assert (await client.threads.get(tid))["status"] == "idle"

    # state at a checkpoint, by id and by checkpoint object; history with paging
    history = await client.threads.get_history(tid, limit=100)
    assert len(history) == lab.sessions.count_checkpoints(tid) >= 4
    assert history[0]["checkpoint"]["checkpoint_id"] == final["checkpoint"]["checkpoint_id"]
    older = history[2]
    at = await client.threads.get_state(tid, checkpoint_id=older["checkpoint"]["checkpoint_id"])
    assert at["values"] == older["values"] and at["next"] == older["next"]
    at2 = await client.threads.get_state(tid, checkpoint=older["checkpoint"])
    assert at2["checkpoint"] == older["checkpoint"]
    page = await client.threads.get_history(tid, limit=2, before=history[1]["checkpoint"])
    assert [s["checkpoint"]["checkpoint_id"] for s in page] == [
        s["checkpoint"]["checkpoint_id"] for s in history[2:4]
    ]
    updates = await client.threads.get_history(tid, limit=100, metadata={"source": "loop"})
    assert updates and all(s["metadata"]["source"] == "loop" for s in updates)
    with pytest.raises(NotFoundError):
        await client.threads.get_state(tid, checkpoint_id="1f000000-0000-6000-8000-000000000000")

    # update_state as a node, then __copy__, then a bad node: a 422, nothing written
    written = await client.threads.update_state(tid, {"answer": "edited"}, as_node="ask")
    assert written["checkpoint"]["thread_id"] == tid
    edited = await client.threads.get_state(tid)
    assert edited["values"]["answer"] == "edited" and edited["next"] == ["done"]
    assert edited["metadata"]["source"] == "update"
    assert edited["metadata"]["workflow"] == "asking"  # the thread still names its graph
    copied = await client.threads.update_state(tid, None, as_node="__copy__")
    assert copied["checkpoint"]["checkpoint_id"] != written["checkpoint"]["checkpoint_id"]
    assert (await client.threads.get_state(tid))["values"]["answer"] == "edited"
    before = lab.sessions.count_checkpoints(tid)
    with pytest.raises(UnprocessableEntityError) as bad:
        await client.threads.update_state(tid, {"answer": "x"}, as_node="nope")
    assert "nope" in bad.value.message
    assert lab.sessions.count_checkpoints(tid) == before

    # patch merges metadata; search filters metadata, values, status; sort and page
    patched = await client.threads.update(tid, metadata={"stage": "review"})
    assert patched["metadata"] == {"user": "ann", "graph_id": "asking", "stage": "review"}
    assert [t["thread_id"] for t in await client.threads.search(metadata={"user": "ann"})] == [tid]
    assert await client.threads.search(metadata={"user": "bob"}) == []
    hits = await client.threads.search(values={"log": ["done:yes"]})
    assert [t["thread_id"] for t in hits] == [tid]
    assert await client.threads.search(values={"answer": "other"}) == []

    # A thread written only by lab.run shows over the SDK, found by its graph
    await asyncio.to_thread(lab.run, "basic_workflow", "my name is Zoe", thread_id="nb-thread-1")
    nb = await client.threads.get("nb-thread-1")
    assert nb["metadata"]["graph_id"] == "basic_workflow"
    assert nb["metadata"]["assistant_id"] == assistant_id_for("basic_workflow")
    assert nb["values"]["facts"] == {"name": "Zoe"} and nb["status"] == "idle"
    by_graph = await client.threads.search(metadata={"graph_id": "basic_workflow"})
    assert [t["thread_id"] for t in by_graph] == ["nb-thread-1"]
    nb_state = await client.threads.get_state("nb-thread-1")
    assert nb_state["values"]["facts"] == {"name": "Zoe"}
    newest = await client.threads.search(limit=1)
    assert [t["thread_id"] for t in newest] == ["nb-thread-1"]  # most recently updated
    oldest = await client.threads.search(sort_by="created_at", sort_order="asc", limit=1)
    assert [t["thread_id"] for t in oldest] == [tid]
    second = await client.threads.search(limit=1, offset=1)
    assert [t["thread_id"] for t in second] == [tid]
    assert await client.threads.count() == 2
    assert await client.threads.count(metadata={"graph_id": "asking"}) == 1

    # copy: a new thread with the whole history and the metadata
    twin = await client.threads.copy(tid)
    assert twin["thread_id"] != tid and twin["metadata"]["stage"] == "review"
    assert lab.sessions.count_checkpoints(twin["thread_id"]) == lab.sessions.count_checkpoints(tid)
    assert (await client.threads.get_state(twin["thread_id"]))["values"]["answer"] == "edited"

    # prune: keep_latest drops the history, keeps the state; delete drops the thread
    pruned = await client.threads.prune([twin["thread_id"], "no-such"], strategy="keep_latest")
    assert pruned == {"pruned_count": 1}
    assert lab.sessions.count_checkpoints(twin["thread_id"]) == 1
    assert (await client.threads.get_state(twin["thread_id"]))["values"]["answer"] == "edited"
    assert lab.sessions.count_checkpoints(tid) > 1  # the original keeps its history
    spare = await client.threads.copy(tid)
    assert await client.threads.prune([spare["thread_id"]]) == {"pruned_count": 1}
    assert lab.sessions.thread(spare["thread_id"]) is None

    # extract: values by path, alongside select
    [extracted] = await client.threads.search(
        ids=[tid, "no-such"],
        select=["thread_id"],
        extract={"last": "values.log[-1]", "who": "metadata.user", "none": "values.log[9]"},
    )
    assert extracted == {
        "thread_id": tid,
        "extracted": {"last": "done:yes", "who": "ann", "none": None},
    }
    with pytest.raises(UnprocessableEntityError):
        await client.threads.search(extract={"bad": "values..x"})

    # delete: record and checkpoints; then 404s
    await client.threads.delete(twin["thread_id"])
    assert lab.sessions.thread(twin["thread_id"]) is None
    with pytest.raises(NotFoundError):
        await client.threads.get(twin["thread_id"])
    with pytest.raises(NotFoundError):
        await client.threads.delete(twin["thread_id"])
    with pytest.raises(NotFoundError):
        await client.threads.get_state("no-such-thread")

    # a thread with no graph cannot take a state update: 409 saying how to fix it
    bare = await client.threads.create()
    with pytest.raises(ConflictError) as no_graph:
        await client.threads.update_state(bare["thread_id"], {"answer": "x"})
    assert "graph_id" in no_graph.value.message
    # a client cannot point a thread at a file to import
    await client.threads.update(bare["thread_id"], metadata={"graph_id": "../evil.py"})
    with pytest.raises(ConflictError) as evil:
        await client.threads.update_state(bare["thread_id"], {"answer": "x"})
    assert "'../evil.py'" in evil.value.message and "not found" in evil.value.message

    # supersteps seed a new thread's state
    seeded = await client.threads.create(
        graph_id="asking",
        supersteps=[{"updates": [{"values": {"question": "seeded?"}, "as_node": "ask"}]}],
    )
    seeded_state = await client.threads.get_state(seeded["thread_id"])
    assert seeded_state["values"] == {"question": "seeded?"} and seeded_state["next"] == ["done"]

    # ------------------------------------------------------------ store
    store = await asyncio.to_thread(lambda: lab.store)
    await client.store.put_item(["users", "ann"], "prefs", {"theme": "dark", "n": 1})
    await client.store.put_item(["users", "bob"], "prefs", {"theme": "light", "n": 2})
    await client.store.put_item(["docs"], "readme", {"text": "hello"})
    item = await client.store.get_item(["users", "ann"], "prefs")
    assert item["value"] == {"theme": "dark", "n": 1} and item["namespace"] == ["users", "ann"]
    assert item["created_at"] and item["updated_at"]
    # the same store the workflows' nodes get
    got_item = await asyncio.to_thread(lambda: lab._call(store.aget(("users", "ann"), "prefs")))
    assert got_item.value == {"theme": "dark", "n": 1}
    assert await client.store.get_item(["users", "ann"], "missing") is None
    hits = await client.store.search_items(["users"], filter={"theme": "light"})
    assert [(i["namespace"], i["key"]) for i in hits["items"]] == [(["users", "bob"], "prefs")]
    assert len((await client.store.search_items(["users"], limit=1))["items"]) == 1
    spaces = await client.store.list_namespaces(prefix=["users"])
    assert sorted(spaces["namespaces"]) == [["users", "ann"], ["users", "bob"]]
    assert (await client.store.list_namespaces(max_depth=1))["namespaces"] == [["docs"], ["users"]]
    await client.store.delete_item(["users", "ann"], "prefs")
    assert await client.store.get_item(["users", "ann"], "prefs") is None
    with pytest.raises(UnprocessableEntityError):
        await client.http.put("/store/items", json={"namespace": [], "key": "k", "value": {}})


def test_sdk_sync_client_and_errors(served: tuple[str, Lab]) -> None:
    from langgraph_sdk import get_sync_client
    from langgraph_sdk.errors import AuthenticationError, NotFoundError

    url, lab = served
    client = get_sync_client(url=url, api_key=KEY)
    assert client.http.get("/ok") == {"ok": True}
    info = client.http.get("/info")
    assert info["flags"]["assistants"] is True and info["version"]
    assert len(client.assistants.search(limit=2)) == 2
    thread = client.threads.create(thread_id="sync-1", metadata={"graph_id": "basic_workflow"})
    assert thread["thread_id"] == "sync-1"
    result = lab.run("basic_workflow", "my name is Sam", thread_id="sync-1")
    assert result.status == "complete"
    state = client.threads.get_state("sync-1")
    assert state["values"]["facts"] == {"name": "Sam"}
    assert [
        t["thread_id"] for t in client.threads.search(metadata={"graph_id": "basic_workflow"})
    ] == ["sync-1"]
    history = client.threads.get_history("sync-1", limit=2)
    assert len(history) == 2 and history[0]["values"]["facts"] == {"name": "Sam"}
    client.threads.update_state("sync-1", {"output": "edited"}, as_node="respond")
    assert lab.sessions.state("sync-1")["output"] == "edited"
    assert lab.thread_records.get("sync-1")["metadata"]["graph_id"] == "basic_workflow"
    # a subgraph waiting on interrupt(): its task points at its namespace and state
    assert lab.run("nested", {"text": "?"}, thread_id="nest-1").status == "interrupted"
    outer = client.threads.get_state("nest-1", subgraphs=True)
    [task] = outer["tasks"]
    assert task["name"] == "inner" and task["interrupts"][0]["value"] == "inner question"
    assert task["state"]["values"] == {"text": "?"} and task["state"]["next"] == ["shout"]
    assert task["checkpoint"]["checkpoint_ns"].startswith("inner:")
    inner = client.threads.get_state("nest-1", checkpoint=task["checkpoint"])
    assert inner["next"] == ["shout"] and inner["checkpoint"]["checkpoint_ns"].startswith("inner:")
    assert client.threads.get_state("nest-1")["tasks"][0]["state"] is None  # not asked for

    client.store.put_item(["sync"], "k", {"v": 1})
    assert client.store.get_item(["sync"], "k")["value"] == {"v": 1}
    client.threads.delete("sync-1")
    assert lab.sessions.thread("sync-1") is None and lab.thread_records.get("sync-1") is None

    # errors: JSON with the status, and the SDK's message (it reads `detail`)
    with pytest.raises(NotFoundError) as err:
        client.threads.get("sync-1")
    body = err.value.response.json()
    assert body["detail"] == "thread 'sync-1' not found" == err.value.message
    assert body["status"] == 404
    with pytest.raises(AuthenticationError):
        get_sync_client(url=url, api_key="wrong").threads.search()
    # /ok and /info need no key (a client probes them first)
    assert httpx.get(f"{url}/info").status_code == 200
    r = httpx.post(f"{url}/threads/search", json={"limit": 0}, headers={"X-Api-Key": KEY})
    assert r.status_code == 422 and r.json()["status"] == 422
    r = httpx.post(f"{url}/threads", json={"ttl": 5}, headers={"X-Api-Key": KEY})
    assert r.status_code == 422 and "ttl" in r.json()["detail"]


def test_custom_assistants_versions_and_system_ones_protected(
    served: tuple[str, Lab], monkeypatch: pytest.MonkeyPatch
) -> None:
    from langgraph_sdk import get_sync_client
    from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

    from lgp_lab.runtime.threads import assistant_id_for
    from lgp_lab.server.agent_api import runs

    url, _ = served
    client = get_sync_client(url=url, api_key=KEY)
    monkeypatch.setattr(runs, "APPLIES_CUSTOM_ASSISTANTS", False, raising=False)
    with pytest.raises(UnprocessableEntityError):  # not before runs apply them
        client.assistants.create("asking")
    monkeypatch.setattr(runs, "APPLIES_CUSTOM_ASSISTANTS", True, raising=False)

    made = client.assistants.create(
        "asking",
        config={"configurable": {"tone": "dry"}, "tags": ["t1"]},
        context={"user": "ann"},
        metadata={"team": "ops"},
        name="Asker",
        description="asks dryly",
    )
    aid = made["assistant_id"]
    assert uuid.UUID(aid) and made["graph_id"] == "asking" and made["version"] == 1
    assert made["config"]["configurable"] == {"tone": "dry"} and made["context"] == {"user": "ann"}
    assert made["metadata"] == {"team": "ops", "created_by": "user"}
    assert client.assistants.get(aid)["name"] == "Asker"
    mine = client.assistants.search(graph_id="asking")
    assert {a["assistant_id"] for a in mine} == {aid, assistant_id_for("asking")}
    assert [a["assistant_id"] for a in client.assistants.search(metadata={"team": "ops"})] == [aid]
    assert client.assistants.count() == 5
    with pytest.raises(ConflictError):
        client.assistants.create("asking", assistant_id=aid)
    assert (
        client.assistants.create("asking", assistant_id=aid, if_exists="do_nothing")["name"]
        == "Asker"
    )
    with pytest.raises(NotFoundError):
        client.assistants.create("no_such_graph")

    updated = client.assistants.update(aid, context={"user": "bob"}, metadata={"v": 2})
    assert updated["version"] == 2 and updated["context"] == {"user": "bob"}
    assert updated["metadata"] == {"team": "ops", "created_by": "user", "v": 2}
    assert updated["config"]["configurable"] == {"tone": "dry"}  # unchanged fields stay
    versions = client.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [2, 1]
    back = client.assistants.set_latest(aid, 1)
    assert back["version"] == 1 and back["context"] == {"user": "ann"}
    assert client.assistants.get_schemas(aid)["graph_id"] == "asking"
    assert "ask" in {n["id"] for n in client.assistants.get_graph(aid)["nodes"]}

    # the system assistants are not the client's to change
    with pytest.raises(ConflictError):
        client.assistants.update(assistant_id_for("asking"), name="x")
    with pytest.raises(ConflictError):
        client.assistants.delete("asking")
    client.assistants.delete(aid)
    with pytest.raises(NotFoundError):
        client.assistants.get(aid)
    assert client.assistants.count() == 4


def test_merge_run_settings_puts_the_run_over_its_assistant() -> None:
    from lgp_lab.runtime.assistants import merge_run_settings

    assistant = {
        "config": {"configurable": {"a": 1, "b": 1}, "tags": ["x"], "recursion_limit": 5},
        "context": {"user": "ann", "tone": "dry"},
    }
    config, context = merge_run_settings(
        assistant, {"configurable": {"b": 2}, "tags": ["y"]}, {"tone": "warm"}
    )
    assert config == {"configurable": {"a": 1, "b": 2}, "tags": ["x", "y"], "recursion_limit": 5}
    assert context == {"user": "ann", "tone": "warm"}
    assert merge_run_settings({"config": {}, "context": {}}, None, None) == (None, None)
    assert merge_run_settings(assistant, None, None)[1] == {"user": "ann", "tone": "dry"}


def test_a_thread_is_busy_while_its_run_is_in_flight(
    served: tuple[str, Lab], tmp_path: Path
) -> None:
    from langgraph_sdk import get_sync_client

    url, lab = served
    client = get_sync_client(url=url, api_key=KEY)
    gate = tmp_path / "gate"
    thread = client.threads.create(graph_id="gated")
    tid = thread["thread_id"]
    run = client.runs.create(tid, "gated", input={"gate": str(gate)})
    deadline = time.monotonic() + 20
    while client.threads.get(tid)["status"] != "busy" and time.monotonic() < deadline:
        pass  # bounded: the run starts at once
    assert client.threads.get(tid)["status"] == "busy"
    assert tid in {t["thread_id"] for t in client.threads.search(status="busy")}
    assert lab.thread_records.get(tid)["status"] == "busy"
    gate.touch()
    assert client.runs.join(tid, run["run_id"])["passed"] is True
    after = client.threads.get(tid)
    assert after["status"] == "idle" and after["values"]["passed"] is True
    assert after["metadata"]["graph_id"] == "gated"
    assert client.threads.search(status="busy") == []
    # deleting a thread cancels its runs and drops everything of it
    gate.unlink()
    run = client.runs.create(tid, "gated", input={"gate": str(gate)})
    client.threads.delete(tid)
    assert lab.sessions.thread(tid) is None and lab.thread_records.get(tid) is None
    assert lab.runs.active(tid) is None


def test_browsers_cors_and_text_plain_json(served: tuple[str, Lab]) -> None:
    url, _ = served
    auth = {"X-Api-Key": KEY}
    with httpx.Client(base_url=url, timeout=30) as http:
        # a preflight from an allowed origin (exact, and a pattern)
        for origin in ("https://chat.example.com", "http://localhost:5173"):
            pre = http.options(
                "/threads/search",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-api-key",
                },
            )
            assert pre.status_code == 200, pre.text
            assert pre.headers["access-control-allow-origin"] == origin
            assert "x-api-key" in pre.headers["access-control-allow-headers"].lower()
        res = http.post(
            "/threads",
            json={"metadata": {"graph_id": "asking"}},
            headers={**auth, "Origin": "https://chat.example.com"},
        )
        assert res.status_code == 200
        assert res.headers["access-control-allow-origin"] == "https://chat.example.com"
        exposed = res.headers["access-control-expose-headers"]
        assert "Content-Location" in exposed and "Location" in exposed
        # another origin: no CORS grant, and its writes are refused
        pre = http.options(
            "/threads",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in pre.headers
        evil = http.post(
            "/threads",
            content=b"{}",
            headers={**auth, "Origin": "https://evil.example", "Content-Type": "text/plain"},
        )
        assert evil.status_code == 403 and "server.cors_origins" in evil.json()["hint"]
        # JSON sent as text/plain (as Agent Chat UI and Studio send it) is read as JSON
        plain = http.post(
            "/threads/search",
            content=b'{"metadata": {"graph_id": "asking"}}',
            headers={
                **auth,
                "Origin": "https://chat.example.com",
                "Content-Type": "text/plain;charset=UTF-8",
            },
        )
        assert plain.status_code == 200, plain.text
        assert [t["metadata"]["graph_id"] for t in plain.json()] == ["asking"]
        no_origin = http.post(
            "/threads",
            content=b'{"thread_id": "plain-1"}',
            headers={**auth, "Content-Type": "text/plain"},
        )
        assert no_origin.status_code == 200 and no_origin.json()["thread_id"] == "plain-1"
        # the server's own /docs page posts with its own origin
        own = http.post("/threads/search", json={}, headers={**auth, "Origin": url})
        assert own.status_code == 200
        # malformed JSON is a 400, not a 500
        broken = http.post(
            "/threads", content=b"{nope", headers={**auth, "Content-Type": "text/plain"}
        )
        assert broken.status_code == 400


def test_hosted_has_no_cors_by_default(project: Path) -> None:
    from lgp_lab.config import load_config

    assert load_config("hosted", project).server.allowed_origins("hosted") == []
    assert load_config("production", project).server.allowed_origins("production") == []
    experiment = load_config(start=project)
    assert "http://localhost:*" in experiment.server.allowed_origins("experiment")


def test_thread_records_search_matches_like_jsonb_containment(lab: Lab) -> None:
    records = lab.thread_records
    records.create("t-int", metadata={"n": 1, "tags": ["a", "b"], "who": {"id": 7, "x": 1}})
    records.create("t-str", metadata={"n": "1", "ok": True, "tags": ["b"]})
    records.create("t-bool", metadata={"n": True, "ok": False, "who": {"id": 8}})

    def ids(**filters: object) -> list[str]:
        return sorted(t["thread_id"] for t in records.search(limit=100, **filters))

    assert ids(metadata={"n": 1}) == ["t-int"]  # 1 is not "1" nor true
    assert ids(metadata={"n": "1"}) == ["t-str"]
    assert ids(metadata={"n": True}) == ["t-bool"]
    assert ids(metadata={"ok": False}) == ["t-bool"]
    assert ids(metadata={"tags": ["b"]}) == ["t-int", "t-str"]  # arrays: element-wise
    assert ids(metadata={"tags": ["a", "b"]}) == ["t-int"]
    assert ids(metadata={"who": {"id": 7}}) == ["t-int"]  # objects: key by key
    assert ids(metadata={"who": {"id": 7}, "n": 1}) == ["t-int"]
    assert ids(metadata={"missing": None}) == []
    assert ids(ids=["t-str", "nope"]) == ["t-str"]
    assert (
        records.search(sort_by="thread_id", sort_order="asc", limit=1, offset=1)[0]["thread_id"]
        == "t-int"
    )
    assert records.count(metadata={"tags": ["b"]}) == 2 and records.count() == 3
    with pytest.raises(ValueError, match="sort_by"):
        records.search(sort_by="nope")
    records.touch("t-str", metadata={"stage": 2}, status="busy")
    assert ids(status="busy") == ["t-str"] and records.get("t-str")["metadata"]["n"] == "1"
    with pytest.raises(ValueError, match="status"):
        records.touch("t-str", status="sleeping")


def test_busy_set_by_a_process_that_is_gone_is_not_busy(lab: Lab) -> None:
    """A kernel restarted mid-run leaves its thread `busy` in the file: not forever."""
    import socket
    import subprocess
    import sys

    records = lab.thread_records
    lab.run("basic_workflow", "my name is Kim", thread_id="orphan")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(timeout=30)
    alive = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    table = lab._call(records._table())  # another process's mark, written as it would
    try:
        for pid, expected in ((gone.pid, "idle"), (alive.pid, "busy")):
            owner = f"{socket.gethostname()}:{pid}"
            lab._call(table.touch("orphan", time.time(), status="busy", owner=owner))
            assert records.get("orphan")["status"] == expected
            found = {t["thread_id"] for t in records.search(status="busy")}
            assert ("orphan" in found) is (expected == "busy")
    finally:
        alive.communicate(b"", timeout=30)
    records.touch("orphan", status="busy")  # this process's own mark holds
    assert records.get("orphan")["status"] == "busy"
    records.touch("orphan", status="idle")
    assert records.get("orphan")["status"] == "idle"


def test_deleting_a_session_drops_its_thread_record_and_runs(tmp_path, monkeypatch) -> None:
    """%lgp_sessions / DELETE /sessions/{id} delete the whole thread, as the SDK sees it."""
    import shutil

    from conftest import REPO

    from lgp_lab import Lab

    shutil.copytree(REPO / "workflows", tmp_path / "workflows")
    monkeypatch.chdir(tmp_path)
    with Lab(root=tmp_path) as lab:
        lab.thread_records.create("gone", metadata={"owner": "sdk"})
        lab.run("basic_workflow", "my name is Al", thread_id="gone")
        assert lab.thread_records.get("gone") is not None
        lab.sessions.delete("gone")
        assert lab.thread_records.get("gone") is None
        assert lab.sessions.thread("gone") is None


def test_history_with_a_bad_metadata_filter_key_is_422(tmp_path, monkeypatch) -> None:
    """Found by schemathesis: the checkpointer refuses such keys with a ValueError (a 500)."""
    import shutil

    import httpx
    from conftest import REPO

    from lgp_lab import Lab
    from lgp_lab.server.background import start_server

    shutil.copytree(REPO / "workflows", tmp_path / "workflows")
    monkeypatch.chdir(tmp_path)
    with Lab(root=tmp_path, env="experiment") as lab:
        lab.run("basic_workflow", "hi", thread_id="h1")
        handle = start_server(lab, ["basic_workflow"], host="127.0.0.1", port=0)
        try:
            r = httpx.post(f"{handle.url}/threads/h1/history", json={"metadata": {"a b": 1}})
            assert r.status_code == 422 and "'a b'" in r.json()["detail"]
            ok = httpx.post(f"{handle.url}/threads/h1/history", json={"metadata": {"step": 1}})
            assert ok.status_code == 200
        finally:
            handle.stop()
