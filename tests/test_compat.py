"""LangGraph compatibility: langgraph.json projects, inputs, context, config and the store.

Each test is a way a plain LangGraph program is written and run, which lgp_lab must
accept unchanged with the same result.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write

from lgp_lab import Lab
from lgp_lab.errors import ConfigError, WorkflowInputError, WorkflowLoadError

CHAT = """
from langchain_core.messages import AIMessage
from langgraph.graph import MessagesState, StateGraph, START

def reply(state: MessagesState):
    last = state["messages"][-1]
    return {"messages": [AIMessage(content=f"echo: {last.content}")]}

builder = StateGraph(MessagesState)
builder.add_node(reply)
builder.add_edge(START, "reply")
graph = builder.compile()
"""


def _template_project(root: Path) -> Path:
    """A langgraph.json project in src layout, as `new-langgraph-project` lays it out."""
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
    write(root / ".env", "GREETING_FROM_ENV=hello-from-dotenv\n")
    write(root / "src" / "agent" / "__init__.py", '"""The agent package."""\n')
    write(
        root / "src" / "agent" / "prompts.py",
        "import os\nGREETING = os.environ.get('GREETING_FROM_ENV', 'unset')\n",
    )
    write(
        root / "src" / "agent" / "graph.py",
        """
        from __future__ import annotations

        from dataclasses import dataclass
        from typing import Any

        from langgraph.graph import StateGraph
        from langgraph.runtime import Runtime
        from typing_extensions import TypedDict

        from agent.prompts import GREETING


        class Context(TypedDict):
            my_configurable_param: str


        @dataclass
        class State:
            changeme: str = "example"


        async def call_model(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
            param = (runtime.context or {}).get("my_configurable_param")
            return {"changeme": f"{GREETING}|{state.changeme}|{param}"}


        graph = (
            StateGraph(State, context_schema=Context)
            .add_node(call_model)
            .add_edge("__start__", "call_model")
            .compile(name="New Graph")
        )
        """,
    )
    return root


@pytest.fixture
def template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A template project as the cwd, in a process that never imported its package."""
    root = _template_project(tmp_path / "tpl")
    monkeypatch.chdir(root)
    monkeypatch.delenv("GREETING_FROM_ENV", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for name in [m for m in sys.modules if m == "agent" or m.startswith("agent.")]:
        monkeypatch.delitem(sys.modules, name)
    yield root
    for name in [m for m in sys.modules if m == "agent" or m.startswith("agent.")]:
        del sys.modules[name]


def test_langgraph_json_graph_id_runs_from_a_src_layout(template: Path) -> None:
    with Lab() as lab:
        assert lab.root == template and lab.project_graphs() == {"agent": ""}
        result = lab.run("agent", {}, context={"my_configurable_param": "p1"})
    # .env was loaded (without overriding), src/ made importable, partial input {} taken,
    # context passed to Runtime, and the dataclass default kept.
    assert result.state == {"changeme": "hello-from-dotenv|example|p1"}
    assert (template / ".lgp" / "checkpoints.sqlite").is_file()


def test_langgraph_json_path_and_subfolder_cwd(template: Path, monkeypatch) -> None:
    monkeypatch.chdir(template / "src" / "agent")
    with Lab() as lab:
        assert lab.root == template
        assert (
            lab.run("../../langgraph.json", {"changeme": "x"}).state["changeme"].endswith("|x|None")
        )


def test_real_environment_wins_over_dotenv(template: Path, monkeypatch) -> None:
    monkeypatch.setenv("GREETING_FROM_ENV", "from-shell")
    with Lab() as lab:
        assert lab.run("agent", {})["changeme"].startswith("from-shell|")


def test_own_package_missing_from_dependencies_says_so(template: Path) -> None:
    data = json.loads((template / "langgraph.json").read_text())
    data["dependencies"] = []
    (template / "langgraph.json").write_text(json.dumps(data))
    with Lab() as lab, pytest.raises(WorkflowLoadError) as err:
        lab.load("agent")
    text = str(err.value)
    assert "no module named 'agent" in text and "dependencies" in text
    assert "pip install agent" not in text


def test_a_name_declared_twice_is_refused_naming_both(template: Path) -> None:
    write(template / "workflows" / "config.yaml", "workflows:\n  agent: other.py\n")
    write(template / "workflows" / "other.py", CHAT)
    with Lab() as lab, pytest.raises(ConfigError) as err:
        lab.project_graphs()
    assert "declared twice" in str(err.value)
    assert "other.py" in str(err.value) and "graph.py:graph" in str(err.value)


def test_bad_langgraph_json_names_the_key(template: Path) -> None:
    (template / "langgraph.json").write_text('{"graphz": {}}')
    with pytest.raises(ConfigError, match=r"(?s)unknown key.*'graphz'.*did you mean 'graphs'"):
        Lab()


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": "hi"},
        ("user", "hi"),
        "hi",
        {"type": "human", "content": "hi"},
    ],
    ids=["dict", "tuple", "string", "typed-dict"],
)
def test_chat_inputs_are_coerced_like_add_messages(lab: Lab, project: Path, message) -> None:
    path = write(project / "chat.py", CHAT)
    result = lab.run(str(path), {"messages": [message]})
    assert [m.content for m in result.state["messages"]] == ["hi", "echo: hi"]
    assert [m.type for m in result.state["messages"]] == ["human", "ai"]


def test_plain_text_on_a_chat_graph_is_a_user_message(lab: Lab, project: Path) -> None:
    path = write(project / "chat.py", CHAT)
    assert lab.run(str(path), "hello")["messages"][-1].content == "echo: hello"
    default = lab.default_input(str(path))
    assert default == {"messages": [{"role": "user", "content": "test"}]}


def test_bad_chat_message_is_a_clear_input_error(lab: Lab, project: Path) -> None:
    path = write(project / "chat.py", CHAT)
    with pytest.raises(WorkflowInputError) as err:
        lab.run(str(path), {"messages": [{"role": "user"}]}, thread_id="badchat")
    assert "'messages'" in str(err.value) and '"role": "user", "content"' in str(err.value)
    assert lab.sessions.thread("badchat") is None  # nothing was written


def test_partial_input_with_defaults_and_send_map_reduce(lab: Lab, project: Path) -> None:
    path = write(
        project / "mapreduce.py",
        """
        import operator
        from typing import Annotated
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START, END
        from langgraph.types import Send

        class Overall(TypedDict):
            topic: str
            subjects: list
            jokes: Annotated[list, operator.add]
            best_selected_joke: str

        def generate_topics(state: Overall):
            return {"subjects": [state["topic"] + "-a", state["topic"] + "-b"]}

        def joke(state: dict):
            return {"jokes": [f"joke about {state['subject']}"]}

        def fan_out(state: Overall):
            return [Send("joke", {"subject": s}) for s in state["subjects"]]

        def best(state: Overall):
            return {"best_selected_joke": sorted(state["jokes"])[0]}

        graph = StateGraph(Overall)
        graph.add_node("generate_topics", generate_topics)
        graph.add_node("joke", joke)
        graph.add_node("best", best)
        graph.add_edge(START, "generate_topics")
        graph.add_conditional_edges("generate_topics", fan_out, ["joke"])
        graph.add_edge("joke", "best")
        graph.add_edge("best", END)
        app = graph.compile()
        """,
    )
    result = lab.run(str(path), {"topic": "animals"})
    assert result["best_selected_joke"] == "joke about animals-a"
    assert sorted(result["jokes"]) == ["joke about animals-a", "joke about animals-b"]


def test_configurable_values_and_run_config(lab: Lab, project: Path) -> None:
    path = write(
        project / "conf.py",
        """
        from typing_extensions import TypedDict
        from langchain_core.runnables import RunnableConfig
        from langgraph.graph import StateGraph, START

        class S(TypedDict, total=False):
            out: str

        def node(state: S, config: RunnableConfig):
            c = config["configurable"]
            return {"out": f"{c['user_id']}/{c['model_name']}/{sorted(config['tags'])}"}

        graph = StateGraph(S).add_node(node).add_edge(START, "node").compile()
        """,
    )
    config = {
        "configurable": {"user_id": "u1", "model_name": "m"},
        "tags": ["x"],
        "recursion_limit": 5,
    }
    result = lab.run(str(path), {}, config=config, metadata={"ours": 1})
    assert result["out"] == "u1/m/['x']"


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ("nope", "config must be an object"),
        ({"configurabel": {}}, "unknown key.*'configurabel'"),
        ({"configurable": {"thread_id": "x"}}, "thread_id is managed by lgp_lab"),
        ({"recursion_limit": 0}, "recursion_limit must be a positive integer"),
        ({"tags": "a"}, "config.tags must be a list"),
    ],
)
def test_bad_config_is_refused_with_the_fix(lab: Lab, config, match) -> None:
    with pytest.raises(WorkflowInputError, match=match):
        lab.run("basic_workflow", "hi", config=config)


def test_store_persists_across_runs_and_labs(project: Path) -> None:
    path = write(
        project / "memory.py",
        """
        from typing_extensions import TypedDict
        from langgraph.config import get_store
        from langgraph.graph import StateGraph, START
        from langgraph.runtime import Runtime
        from langgraph.store.base import BaseStore

        class S(TypedDict, total=False):
            fact: str
            known: list

        def save(state: S, store: BaseStore):
            if state.get("fact"):
                store.put(("memories", "u1"), state["fact"], {"text": state["fact"]})
            return {}

        async def recall(state: S, runtime: Runtime):
            items = await runtime.store.asearch(("memories", "u1"))
            assert get_store() is runtime.store
            return {"known": sorted(i.value["text"] for i in items)}

        graph = (
            StateGraph(S).add_node(save).add_node(recall)
            .add_edge(START, "save").add_edge("save", "recall").compile()
        )
        """,
    )
    with Lab(root=project) as lab:
        assert lab.run(str(path), {"fact": "likes tea"})["known"] == ["likes tea"]
    with Lab(root=project) as lab:  # another Lab: a new process would see the same
        assert lab.run(str(path), {"fact": "has a cat"})["known"] == ["has a cat", "likes tea"]


def test_context_dict_is_coerced_to_the_schema_and_defaults_fill_in(
    lab: Lab, project: Path
) -> None:
    path = write(
        project / "ctx.py",
        """
        from dataclasses import dataclass
        from typing_extensions import TypedDict
        from langgraph.graph import StateGraph, START
        from langgraph.runtime import Runtime

        @dataclass
        class Context:
            model: str = "default-model"
            user: str = "anon"

        class S(TypedDict, total=False):
            out: str

        def node(state: S, runtime: Runtime[Context]):
            return {"out": f"{runtime.context.model}/{runtime.context.user}"}

        graph = StateGraph(S, context_schema=Context).add_node(node)
        graph.add_edge(START, "node")
        """,
    )
    assert lab.run(str(path), {}, context={"model": "m2"})["out"] == "m2/anon"
    assert lab.run(str(path), {})["out"] == "default-model/anon"


def test_async_twins_called_from_another_loop_share_the_engine_loop(project: Path) -> None:
    import asyncio

    async def main() -> Lab:
        async with Lab(root=project) as lab:
            result = await lab.arun("basic_workflow", "my city is Oslo", thread_id="mix")
            assert result.status == "complete"
            events = [e async for e, _ in lab.astream("basic_workflow", "hi", thread_id="mix")]
            assert events[0] == "metadata" and events[-1] == "end"
            # A sync call from another thread after the async ones: same checkpointer.
            second = await asyncio.to_thread(
                lab.run, "basic_workflow", "what is my city?", thread_id="mix"
            )
            assert second["output"] == "Your city is Oslo."
            return lab

    lab = asyncio.run(main())
    assert lab.closed and not lab.engine.running  # __aexit__ did what close() does


def test_non_object_input_and_null_resume_are_input_errors(lab: Lab, project: Path) -> None:
    path = write(project / "chat.py", CHAT)
    with pytest.raises(WorkflowInputError, match=r"takes an object of state keys \(messages\)"):
        lab.run(str(path), 42, thread_id="n42")
    assert lab.sessions.thread("n42") is None
    with pytest.raises(WorkflowInputError, match="resume needs a value"):
        lab.run(str(path), thread_id="n42", resume=None)


def test_pydantic_state_errors_name_the_field_and_value(lab: Lab, project: Path) -> None:
    path = write(
        project / "pyd.py",
        """
        from pydantic import BaseModel
        from langgraph.graph import StateGraph, START

        class State(BaseModel):
            a: str

        graph = StateGraph(State).add_node("n", lambda s: {"a": s.a + "!"})
        graph.add_edge(START, "n")
        """,
    )
    assert lab.run(str(path), {"a": "hi"})["a"] == "hi!"
    with pytest.raises(WorkflowInputError) as err:
        lab.run(str(path), {"a": 123})
    assert "a: Input should be a valid string (got 123)" in str(err.value)
    assert '\'{"input"' not in str(err.value)


def test_store_index_without_sqlite_extensions_warns_and_runs(template: Path) -> None:
    import sqlite3

    data = json.loads((template / "langgraph.json").read_text())
    data["store"] = {"index": {"dims": 4, "embed": "./embed.py:embed"}}
    (template / "langgraph.json").write_text(json.dumps(data))
    write(
        template / "embed.py",
        "def embed(texts):\n    return [[0.0, 1.0, 0.0, 1.0]] * len(texts)\n",
    )
    notes: list[str] = []
    with Lab() as lab:
        lab.warn = notes.append
        assert lab.run("agent", {})["changeme"].endswith("|example|None")
        store = lab.store
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        assert any("semantic search in the store is off" in n for n in notes)
    else:
        assert store.index_config is not None


def test_functional_thread_state_and_one_pending_interrupt(lab: Lab, project: Path) -> None:
    path = write(
        project / "fn.py",
        """
        from langgraph.func import entrypoint, task
        from langgraph.types import interrupt

        @task
        def ask(x: int) -> int:
            return interrupt(f"double {x}?") and x * 2

        @entrypoint()
        def flow(x: int) -> int:
            return ask(x).result()
        """,
    )
    assert lab.run(str(path), 21, thread_id="fn").status == "interrupted"
    info = lab.sessions.thread("fn")
    assert info.status == "interrupted" and [i.value for i in info.interrupts] == ["double 21?"]
    assert lab.run(str(path), thread_id="fn", resume=True).state == {"output": 42}
    assert lab.sessions.state("fn") == {"output": 42}
