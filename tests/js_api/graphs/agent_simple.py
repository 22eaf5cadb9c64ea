"""Port of langgraphjs ``libs/langgraph-api/tests/graphs/agent_simple.mts``
(graph id ``agent_simple``).

A fake model answers ``begin`` then ``end\\u2028`` per thread; while the reply does not
start with ``end``, a ``Send`` hands the last message to ``tool``, which echoes it as
``tool_call__<content>``. A request header copied into ``configurable`` (by the custom
HTTP app's middleware, ``http_app.py``) short-cuts the model.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AnyMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import Send

logger = logging.getLogger(__name__)

# One model per thread (the JS graph's `getStableModel` cache); see agent.py.
_MODELS: dict[str, FakeListChatModel] = {}


def _model(thread_id: str) -> FakeListChatModel:
    if thread_id not in _MODELS:
        _MODELS[thread_id] = FakeListChatModel(responses=["begin", "end\u2028"])
    return _MODELS[thread_id]


class AgentState(TypedDict, total=False):
    """``AgentState``: three plain keys and ``MessagesAnnotation``'s messages."""

    key_one: str
    key_two: str
    sleep: int
    messages: Annotated[list[AnyMessage], add_messages]


async def agent(state: AgentState, config: RunnableConfig, runtime: Runtime) -> dict[str, Any]:
    """``callModel``."""
    configurable = config.get("configurable") or {}
    logger.warning("Hello, world!", extra={"random": 123})

    user_id: str | None = None
    user = configurable.get("langgraph_auth_user")
    if user is not None:
        # A mapping or an auth user object, depending on the server.
        user_id = (
            user.get("identity") if isinstance(user, dict) else getattr(user, "identity", None)
        )

    if configurable.get("x-configurable-header") is not None:
        # A string becomes a human message (add_messages, as messagesStateReducer).
        return {"messages": [f"end: {configurable['x-configurable-header']}"]}

    messages = state.get("messages") or []
    if runtime.store is not None:
        namespace = (user_id or "ALL",)
        if await runtime.store.aget(namespace, "key_one") is None:
            text = messages[-1].content if messages else None
            await runtime.store.aput(namespace, "key_one", {"text": text})

    response = await _model(configurable.get("thread_id") or "$").ainvoke(messages)
    return {"messages": [response]}


async def tool(message: BaseMessage) -> dict[str, Any]:
    """``callTool``: gets the message the ``Send`` carried, not the state."""
    reply = ToolMessage(content=f"tool_call__{message.content}", tool_call_id="tool_call_id")
    return {"messages": [reply]}


def should_continue(state: AgentState) -> str | Send:
    """``shouldContinue``: END once the reply starts with ``end``, else ``Send`` to tool."""
    last = (state.get("messages") or [None])[-1]
    content = last.content if last is not None else ""
    if isinstance(content, str) and content.startswith("end"):
        return END
    return Send("tool", last)


workflow = (
    StateGraph(AgentState)
    .add_node("agent", agent)
    .add_node("tool", tool)
    .add_edge(START, "agent")
    .add_conditional_edges("agent", should_continue)
    .add_edge("tool", "agent")
)

graph = workflow.compile()
