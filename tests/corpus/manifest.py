"""What each corpus program is run with: its target, and the calls its authors' docs make.

Every program under ``programs/`` and ``projects/`` was written by others (see each file's header
and README.md here). A program's ``calls`` are the invocations its docs or tests make after the
graph is built, in order; calls on the same ``thread`` label share one LangGraph thread, so state
carries over exactly as in the docs. ``tests/test_corpus.py`` runs them through plain LangGraph
(the oracle) and through lgp_lab (``Lab``, CLI, HTTP, kernel) and compares the final states.

Inputs are JSON (what the CLI, HTTP and magics can carry). ``python_input`` variants hold what only
Python can express (tuples, message objects) and are used by the in-process runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent
PROGRAMS = CORPUS / "programs"
PROJECTS = CORPUS / "projects"

_UNSET: Any = object()


@dataclass(frozen=True)
class Call:
    """One invocation: ``graph.ainvoke(input | Command(resume=...), config, context=...)``."""

    thread: str = "t1"
    input: Any = None
    resume: Any = _UNSET
    context: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    #: The run stops at an interrupt (``status: interrupted``) instead of completing.
    interrupted: bool = False
    #: The same input as the authors' Python code spells it (tuples), for in-process runs.
    python_input: Any = _UNSET

    @property
    def in_process_input(self) -> Any:
        return self.input if self.python_input is _UNSET else self.python_input

    @property
    def is_resume(self) -> bool:
        return self.resume is not _UNSET


@dataclass(frozen=True)
class StoreCheck:
    """After all calls, the store holds ``value`` under ``namespace``/``key`` (``None``: any)."""

    namespace: tuple[str, ...]
    key: str | None = None
    value: Any = None
    #: When ``key`` is None: the values' ``field`` entries (sorted) must equal ``value``.
    field: str | None = None


@dataclass(frozen=True)
class Program:
    """One corpus program and how its authors call it."""

    id: str
    #: Where it lives: a file under programs/ or a project folder under projects/.
    path: Path
    #: What to pass as the target: ``None`` -> the file itself (graph found by name);
    #: ``"file.py:attr"`` style is spelled as ``attr`` here; for projects, the langgraph.json id.
    attr: str | None = None
    graph_id: str | None = None
    calls: tuple[Call, ...] = ()
    store_checks: tuple[StoreCheck, ...] = ()
    #: What the program exercises (documentation of the corpus' coverage).
    covers: tuple[str, ...] = ()

    @property
    def is_project(self) -> bool:
        return self.graph_id is not None

    @property
    def stateful(self) -> bool:
        """Whether two calls share a thread (state must carry over)."""
        threads = [c.thread for c in self.calls]
        return len(threads) != len(set(threads))


def _user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


CORPUS_PROGRAMS: tuple[Program, ...] = (
    Program(
        "chatbot",
        PROGRAMS / "chatbot.py",
        covers=("TypedDict state with add_messages", "chat input as dicts", "two turns"),
        calls=(
            Call(input=_user("hi")),
            Call(input=_user("What do you know about LangGraph?")),
        ),
    ),
    Program(
        "hitl_chatbot",
        PROGRAMS / "hitl_chatbot.py",
        covers=("interrupt inside a tool", "Command(resume=)", "own InMemorySaver replaced"),
        calls=(
            Call(
                input=_user(
                    "I need some expert guidance for building an AI agent. "
                    "Could you request assistance for me?"
                ),
                interrupted=True,
            ),
            Call(
                resume={
                    "data": "We, the experts are here to help! We'd recommend you check out "
                    "LangGraph to build your agent. It's much more reliable and extensible "
                    "than simple autonomous agents."
                }
            ),
        ),
    ),
    Program(
        "pydantic_state",
        PROGRAMS / "pydantic_state.py",
        covers=("pydantic BaseModel state",),
        calls=(Call(input={"a": "hello"}),),
    ),
    Program(
        "runtime_context",
        PROGRAMS / "runtime_context.py",
        covers=("context_schema (TypedDict) + Runtime", "empty input {}"),
        calls=(
            Call("t1", input={}, context={"my_runtime_value": "a"}),
            Call("t2", input={}, context={"my_runtime_value": "b"}),
        ),
    ),
    Program(
        "runtime_model_choice",
        PROGRAMS / "runtime_model_choice.py",
        covers=("MessagesState", "dataclass context_schema with defaults", "Runtime"),
        calls=(
            Call(
                "t1",
                input=_user("hi"),
                context={"model_provider": "openai", "system_message": "Respond in Italian."},
            ),
            Call("t2", input=_user("hi"), context={"model_provider": "anthropic"}),
        ),
    ),
    Program(
        "map_reduce",
        PROGRAMS / "map_reduce.py",
        covers=("Send map-reduce", "partial input"),
        calls=(Call(input={"topic": "animals"}),),
    ),
    Program(
        "approve_or_reject",
        PROGRAMS / "approve_or_reject.py",
        covers=("interrupt", "Command(goto=)", "Command(resume=)", "node print()", "input {}"),
        calls=(
            Call("t1", input={}, interrupted=True),
            Call("t1", resume="approve"),
            Call("t2", input={}, interrupted=True),
            Call("t2", resume="reject"),
        ),
    ),
    Program(
        "functional_hitl",
        PROGRAMS / "functional_hitl.py",
        covers=("functional API @entrypoint/@task", "interrupt", "plain string input"),
        calls=(Call(input="foo", interrupted=True), Call(resume="baz")),
    ),
    Program(
        "functional_accumulate",
        PROGRAMS / "functional_accumulate.py",
        covers=("functional API", "entrypoint.final", "previous", "int input", "graph name"),
        calls=(Call(input=1), Call(input=2), Call(input=3)),
    ),
    Program(
        "functional_cross_thread_memory",
        PROGRAMS / "functional_cross_thread_memory.py",
        covers=("functional API", "store param", "configurable user_id", "store across threads"),
        calls=(
            Call(
                "t1",
                input=[{"role": "user", "content": "Hi! Remember: my name is Bob"}],
                config={"configurable": {"user_id": "1"}},
            ),
            Call(
                "t2",
                input=[{"role": "user", "content": "what is my name?"}],
                config={"configurable": {"user_id": "1"}},
            ),
            Call(
                "t3",
                input=[{"role": "user", "content": "what is my name?"}],
                config={"configurable": {"user_id": "2"}},
            ),
        ),
        store_checks=(
            StoreCheck(("memories", "1"), field="data", value=["User name is Bob"]),
            StoreCheck(("memories", "2"), field="data", value=[]),
        ),
    ),
    Program(
        "subgraph_shared_keys",
        PROGRAMS / "subgraph_shared_keys.py",
        covers=("a compiled subgraph as a node", "two compiled graphs in one module"),
        calls=(Call(input={"foo": "foo"}),),
    ),
    Program(
        "subgraph_nested",
        PROGRAMS / "subgraph_nested.py",
        attr="parent_graph",
        covers=("subgraphs called from nodes", "no graph/app/workflow name: path.py:attr"),
        calls=(Call(input={"my_key": "Bob"}),),
    ),
    Program(
        "react_agent_memory",
        PROGRAMS / "react_agent_memory.py",
        covers=("prebuilt create_react_agent with tools", "own checkpointer", "name `agent`"),
        calls=(
            Call(input=_user("what is the weather in sf")),
            Call(input=_user("what about new york?")),
        ),
    ),
    Program(
        "react_agent_dynamic_prompt",
        PROGRAMS / "react_agent_dynamic_prompt.py",
        covers=("prebuilt create_react_agent", "config configurable (user_name)"),
        calls=(
            Call(
                input=_user("what is the weather in sf"),
                config={"configurable": {"user_name": "John Smith"}},
            ),
        ),
    ),
    Program(
        "react_agent_store_tool",
        PROGRAMS / "react_agent_store_tool.py",
        covers=("prebuilt create_react_agent", "get_store() in a tool", "configurable user_id"),
        calls=(
            Call(
                input=_user("My name is John Smith"),
                config={"configurable": {"user_id": "user_123"}},
            ),
        ),
        store_checks=(StoreCheck(("users",), "user_123", {"name": "John Smith"}),),
    ),
    Program(
        "prompt_chaining",
        PROGRAMS / "prompt_chaining.py",
        covers=("builder named `workflow`, compiled `chain`", "partial input", "conditional edge"),
        calls=(Call(input={"topic": "cats"}),),
    ),
    Program(
        "new_langgraph_project",
        PROJECTS / "new-langgraph-project",
        graph_id="agent",
        covers=("langgraph.json", "src layout", "dataclass state with defaults", "Runtime"),
        calls=(
            # The template's own test input, then the empty input Studio sends (defaults).
            Call("t1", input={"changeme": "some_val"}),
            Call("t2", input={}, context={"my_configurable_param": "from context"}),
        ),
    ),
    Program(
        "react_agent_template",
        PROJECTS / "react-agent",
        graph_id="agent",
        covers=(
            "langgraph.json",
            "src layout package imports",
            "input_schema dataclass with Sequence[AnyMessage]",
            "dataclass context with defaults",
            "ToolNode + get_runtime in a tool",
        ),
        calls=(
            # The template's own test: a tuple message and a context.
            Call(
                input={"messages": [["user", "Who is the founder of LangChain?"]]},
                python_input={"messages": [("user", "Who is the founder of LangChain?")]},
                context={"system_prompt": "You are a helpful AI assistant."},
            ),
            Call(input=_user("And who maintains LangGraph?"), context={"model": "fake/model"}),
        ),
    ),
    Program(
        "memory_agent_template",
        PROJECTS / "memory-agent",
        graph_id="agent",
        covers=("langgraph.json with store.index", "runtime.store", "context user_id"),
        calls=(
            # The template's own "medium" test conversation, on one thread.
            Call(
                input={
                    "messages": [["user", "Hi, I'm Bob and I enjoy playing tennis. Remember this."]]
                },
                python_input={
                    "messages": [("user", "Hi, I'm Bob and I enjoy playing tennis. Remember this.")]
                },
                context={"user_id": "test-user"},
            ),
            Call(
                input={"messages": [["user", "Yes, I also have a pet dog named Max."]]},
                python_input={"messages": [("user", "Yes, I also have a pet dog named Max.")]},
                context={"user_id": "test-user"},
            ),
            Call(
                "t2",
                input={"messages": [["user", "What do you know about me?"]]},
                context={"user_id": "wrong-user"},
            ),
        ),
        store_checks=(
            StoreCheck(
                ("memories", "test-user"),
                field="content",
                value=["Hi, I'm Bob and I enjoy playing tennis. Remember this."],
            ),
            StoreCheck(("memories", "wrong-user"), field="content", value=[]),
        ),
    ),
)

BY_ID: dict[str, Program] = {p.id: p for p in CORPUS_PROGRAMS}
