# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/how-tos/graph-api.md, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). Section "Add runtime configuration", "Extended example: specifying model and system message at runtime".
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the docs make after
# the graph is built are this program's inputs in tests/corpus/manifest.py.
from dataclasses import dataclass
from typing import Optional
# lgp-corpus: stand-in (was: from langchain.chat_models import init_chat_model)
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel  # lgp-corpus: stand-in
from langchain_core.messages import AIMessage  # lgp-corpus: stand-in
from langchain_core.outputs import ChatGeneration, ChatResult  # lgp-corpus: stand-in
from langchain_core.messages import SystemMessage
from langgraph.graph import END, MessagesState, StateGraph, START
from langgraph.runtime import Runtime
from typing_extensions import TypedDict

@dataclass
class ContextSchema:
    model_provider: str = "anthropic"
    system_message: str | None = None


# lgp-corpus: stand-in (begin) -- deterministic langchain_core fake chat models, no network:
# each names its provider and the system message it was given.
class StandInChatModel(ParrotFakeChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        system = " ".join(str(m.content) for m in messages if isinstance(m, SystemMessage))
        reply = AIMessage(content=f"{self.name} answers {messages[-1].content!r} (system: {system or 'none'})")
        return ChatResult(generations=[ChatGeneration(message=reply)])


MODELS = {
    "anthropic": StandInChatModel(name="anthropic"),  # was: init_chat_model("anthropic:claude-3-5-haiku-latest")
    "openai": StandInChatModel(name="openai"),  # was: init_chat_model("openai:gpt-4.1-mini")
}
# lgp-corpus: stand-in (end)

def call_model(state: MessagesState, runtime: Runtime[ContextSchema]):
    model = MODELS[runtime.context.model_provider]
    messages = state["messages"]
    if (system_message := runtime.context.system_message):
        messages = [SystemMessage(system_message)] + messages
    response = model.invoke(messages)
    return {"messages": [response]}

builder = StateGraph(MessagesState, context_schema=ContextSchema)
builder.add_node("model", call_model)
builder.add_edge(START, "model")
builder.add_edge("model", END)

graph = builder.compile()
