"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/agent.mts`` (graph id ``agent``).

A fake chat model answers ``begin`` then ``end`` (cycling, one model per thread), a
``tool`` node echoes the last message as ``tool_call__<content>``, and the store is
written and read on the way (``sharedState/data``, ``inputtedState/data``). Node names,
state keys, reducers and replies are the JS graph's, so the vendored suite's
expectations apply unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AnyMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import interrupt


class OutputState(TypedDict, total=False):
    """``GraphAnnotationOutput``: what the graph returns."""

    messages: Annotated[list[AnyMessage], add_messages]
    sharedStateValue: str | None
    interrupt: bool
    keyOne: str | None
    keyTwo: str | None
    # A number of seconds, or {"steps": n, "ms": m} (custom events between sleeps).
    sleep: float | dict[str, int] | None


class InputState(OutputState, total=False):
    """``GraphAnnotationInput``: the JS graph's state is its input annotation."""

    sharedStateFromStoreConfig: dict[str, Any] | None


class ConfigSchema(TypedDict, total=False):
    """The JS graph's second annotation (its config / context schema)."""

    model_name: str


# For shared state.
NAMESPACE = ("sharedState", "data")
KEY = "user_id"

# One model per thread, as the JS graph's `modelMap`: the replies cycle per thread, so a
# copied thread or a second run on another thread starts again at "begin".
# langchain_core's FakeListChatModel streams one character per chunk and cycles its
# list; the chunks of one reply share one id (``run-<run id>``), which is what the JS
# `StableFakeListChatModel` subclass adds to JS's FakeListChatModel.
_MODELS: dict[str, FakeListChatModel] = {}


def _model(thread_id: str) -> FakeListChatModel:
    if thread_id not in _MODELS:
        _MODELS[thread_id] = FakeListChatModel(responses=["begin", "end"])
    return _MODELS[thread_id]


def _configurable(config: RunnableConfig) -> dict[str, Any]:
    return dict(config.get("configurable") or {})


async def agent(state: InputState, config: RunnableConfig, runtime: Runtime) -> dict[str, Any]:
    """``agentNode``: optional interrupt and sleep, then one model reply."""
    if state.get("interrupt"):
        interrupt("i want to interrupt")

    messages = state.get("messages") or []
    sleep = state.get("sleep")
    if sleep is not None and messages and messages[-1].type == "human":
        if isinstance(sleep, dict):
            for step in range(int(sleep["steps"])):
                runtime.stream_writer({"type": "sleep", "step": step})
                await asyncio.sleep(sleep["ms"] / 1000)
        else:
            await asyncio.sleep(float(sleep))

    configurable = _configurable(config)
    response = await _model(configurable.get("thread_id") or "$").ainvoke(messages)

    # Define in the first node, retrieve in the second; only set if not already set.
    if runtime.store is not None and not state.get("sharedStateFromStoreConfig"):
        await runtime.store.aput(NAMESPACE, KEY, {"id": configurable.get("user_id")})

    return {
        "interrupt": False,
        "messages": [response],
        # Not a state key: the JS graph returns it and LangGraph drops it (both ports).
        "sharedState": {"data": {"user_id": configurable.get("user_id")}},
    }


async def tool(state: InputState, runtime: Runtime) -> dict[str, Any]:
    """``toolNode``: echo the last message, and read back what ``agent`` stored."""
    shared: dict[str, Any] | None = None
    if runtime.store is not None:
        item = await runtime.store.aget(NAMESPACE, KEY)
        shared = item.value if item is not None else None

    messages = state.get("messages") or []
    if not messages:
        return {"messages": [], "sharedStateFromStoreConfig": shared}
    return {
        "messages": [
            ToolMessage(content=f"tool_call__{messages[-1].content}", tool_call_id="tool_call_id")
        ],
        "sharedStateFromStoreConfig": shared,
    }


async def check_shared_state(state: InputState, runtime: Runtime) -> dict[str, Any]:
    """``checkSharedStateNode``: fails unless the client put ``{isTrue: true}`` first."""
    if runtime.store is not None:
        item = await runtime.store.aget(("inputtedState", "data"), "my_key")
        if item is None or not item.value.get("isTrue"):
            raise ValueError("Value is not true")
    return {}


def agent_cond_edge(state: InputState) -> Literal["tool", "checkSharedState", "__end__"]:
    """``agentCondEdge``."""
    messages = state.get("messages") or []
    if messages[0].content == "should_end":
        return END
    if messages[0].content == "___check_state_value":
        return "checkSharedState"
    if messages[-1].content == "end":
        return END
    return "tool"


workflow = (
    StateGraph(
        InputState,
        context_schema=ConfigSchema,
        input_schema=InputState,
        output_schema=OutputState,
    )
    .add_node("agent", agent)
    .add_node("tool", tool)
    .add_node("checkSharedState", check_shared_state)
    .add_edge(START, "agent")
    .add_conditional_edges("agent", agent_cond_edge)
    .add_edge("tool", "agent")
    .add_edge("checkSharedState", END)
)

graph = workflow.compile()
