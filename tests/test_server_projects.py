"""Existing LangGraph code over HTTP: context, config, chat inputs, langgraph.json graphs.

Real uvicorn on 127.0.0.1 (a free port) and httpx; final states are compared with
plain LangGraph's ``ainvoke`` for the same input, context and config.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import cli_env, write

from lgp_lab import Lab
from lgp_lab.server.background import start_server

KEY = "proj-key-1"
AUTH = {"Authorization": f"Bearer {KEY}"}

CONTEXTUAL = """
from dataclasses import dataclass

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph, START, END
from langgraph.runtime import Runtime
from typing_extensions import TypedDict


@dataclass
class Ctx:
    model: str = "default-model"


class S(TypedDict, total=False):
    input: str
    output: str


def answer(state: S, config: RunnableConfig, runtime: Runtime[Ctx]) -> S:
    conf = config.get("configurable", {})
    return {
        "output": "|".join(
            [
                state["input"],
                runtime.context.model,
                str(conf.get("user_id")),
                ",".join(t for t in config.get("tags", []) if not t.startswith("graph:")),
                str(config.get("metadata", {}).get("team")),
            ]
        )
    }


graph = StateGraph(S, context_schema=Ctx)
graph.add_node("answer", answer)
graph.add_edge(START, "answer")
graph.add_edge("answer", END)
graph = graph.compile()
"""

CHAT = """
from langgraph.graph import END, START, MessagesState, StateGraph


def reply(state: MessagesState):
    return {"messages": [("ai", "echo " + state["messages"][-1].content)]}


builder = StateGraph(MessagesState)
builder.add_node("reply", reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)
graph = builder.compile()
"""


def configure(project: Path) -> None:
    write(
        project / "config" / "experiment.yaml",
        f"server:\n  api_keys: [{KEY}]\n  rate_limit_per_minute: 0\n",
    )


def plain_langgraph(path: Path, payload: object, **kwargs: object) -> dict:
    """The final state plain LangGraph gives for the same call (no checkpointer)."""
    spec = importlib.util.spec_from_file_location(f"plain_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return asyncio.run(module.graph.ainvoke(payload, **kwargs))


@pytest.fixture
def api(project: Path) -> Iterator[httpx.Client]:
    configure(project)
    write(project / "flows" / "contextual.py", CONTEXTUAL)
    write(project / "flows" / "chat.py", CHAT)
    with Lab(root=project) as lab:
        handle = start_server(lab, ["flows/contextual.py", "flows/chat.py"], port=0)
        with httpx.Client(base_url=handle.url, headers=AUTH, timeout=30) as client:
            yield client
        handle.stop()


def test_context_and_config_reach_the_graph_as_in_langgraph(api: httpx.Client, project) -> None:
    context = {"model": "m-large"}
    config = {
        "configurable": {"user_id": "u-7"},
        "tags": ["nightly"],
        "metadata": {"team": "blue"},
        "recursion_limit": 5,
        "run_name": "nightly-run",
    }
    expected = plain_langgraph(
        project / "flows" / "contextual.py", {"input": "q"}, context=context, config=config
    )
    assert expected["output"] == "q|m-large|u-7|nightly|blue"
    body = {"input": {"input": "q"}, "context": context, "config": config, "thread_id": "ctx"}
    r = api.post("/workflows/contextual/invoke", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["result"] == expected
    streamed = api.post("/workflows/contextual/stream", json={**body, "thread_id": "ctx2"})
    end = [b for b in streamed.text.split("\n\n") if b.startswith("event: end")]
    assert json.loads(end[0].split("data: ", 1)[1])["result"] == expected
    # Without a context, the schema's defaults apply (as LangGraph's Runtime gives them).
    r = api.post("/workflows/contextual/invoke", json={"input": {"input": "q"}})
    assert r.json()["result"]["output"].startswith("q|default-model|None|")


def test_recursion_limit_from_config_is_honoured(api: httpx.Client) -> None:
    """A limit the client set too low is the client's to raise: 422, not a 500."""
    body = {"input": {"input": "q"}, "config": {"recursion_limit": 1}}
    r = api.post("/workflows/contextual/invoke", json=body)
    assert r.status_code == 422 and "recursion limit" in r.json()["error"]
    s = api.post("/workflows/contextual/stream", json=body)
    error = [b for b in s.text.split("\n\n") if b.startswith("event: error")]
    assert json.loads(error[0].split("data: ", 1)[1])["status"] == 422
    ok = api.post("/workflows/contextual/invoke", json={**body, "config": {"recursion_limit": 3}})
    assert ok.status_code == 200


def test_chat_inputs_as_langgraph_takes_them(api: httpx.Client, project: Path) -> None:
    path = project / "flows" / "chat.py"
    for payload in (
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": [["user", "hi"]]},
        {"messages": "hi"},
    ):
        expected = plain_langgraph(path, payload)
        r = api.post("/workflows/chat/invoke", json={"input": payload})
        assert r.status_code == 200, (payload, r.text)
        got = [(m["type"], m["content"]) for m in r.json()["result"]["messages"]]
        assert got == [(m.type, m.content) for m in expected["messages"]], payload
    text = api.post("/workflows/chat/invoke", json={"input": "hi", "thread_id": "c"})
    assert text.json()["result"]["messages"][-1]["content"] == "echo hi"
    assert api.get("/sessions/c").json()["status"] == "idle"


@pytest.mark.parametrize(
    "payload",
    [
        {"messages": [{"role": "user"}]},
        {"messages": 5},
        {"messages": [{"role": "alien", "content": "x"}]},
        {"nope": 1},
        42,
        [1, 2],
    ],
)
def test_chat_inputs_the_graph_rejects_are_422(api: httpx.Client, payload: object) -> None:
    for route in ("invoke", "stream"):
        r = api.post(f"/workflows/chat/{route}", json={"input": payload, "thread_id": "bad"})
        assert r.status_code == 422, (route, payload, r.text)
        assert r.headers["content-type"] == "application/json"
        assert "chat" in r.json()["error"] and r.json()["status"] == 422


# ---------------------------------------------------------------- serve every graph

AGENT = """
from langgraph.graph import StateGraph, START, END
from typing_extensions import TypedDict

from agent.helpers import shout


class State(TypedDict, total=False):
    changeme: str


def call_model(state: State):
    return {"changeme": shout(state.get("changeme", "example"))}


graph = (
    StateGraph(State)
    .add_node("call_model", call_model)
    .add_edge(START, "call_model")
    .add_edge("call_model", END)
    .compile(name="New Graph")
)
"""


def _template_project(root: Path) -> Path:
    write(
        root / "langgraph.json",
        json.dumps(
            {
                "dependencies": ["."],
                "graphs": {"agent": "./src/agent/graph.py:graph"},
                "env": ".env",
            }
        ),
    )
    write(root / ".env", "UNUSED_EXAMPLE=1\n")
    write(root / "src" / "agent" / "__init__.py", "")
    write(root / "src" / "agent" / "helpers.py", "def shout(s):\n    return s.upper()\n")
    write(root / "src" / "agent" / "graph.py", AGENT)
    return root


def test_serving_without_targets_serves_every_declared_graph(project: Path) -> None:
    configure(project)
    _template_project(project)
    with Lab(root=project) as lab:
        declared = lab.project_graphs()
        handle = start_server(lab, port=0)
        with httpx.Client(base_url=handle.url, headers=AUTH, timeout=30) as client:
            served = client.get("/health").json()["workflows"]
            r = client.post("/workflows/agent/invoke", json={"input": {"changeme": "hi"}})
        handle.stop()
    assert set(served) == set(declared) >= {"agent", "basic_workflow"}
    assert r.status_code == 200 and r.json()["result"] == {"changeme": "HI"}


def test_cli_serve_in_a_template_project_without_arguments(tmp_path: Path) -> None:
    root = _template_project(tmp_path / "new-langgraph-project")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lgp_lab", "serve", "--env", "experiment", "--port", str(port)],
        cwd=root,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{url}/health", timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert health is not None, proc.stderr.read() if proc.poll() is not None else "no answer"
        assert health["workflows"] == ["agent"]
        r = httpx.post(f"{url}/workflows/agent/invoke", json={"input": {"changeme": "yo"}})
        assert r.status_code == 200, r.text
        assert r.json()["result"] == {"changeme": "YO"}
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert not (root / "config").exists()
