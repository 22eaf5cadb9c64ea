# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/tutorials/get-started/1-build-basic-chatbot.md, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). The tutorial's "full code" block.
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the docs make after
# the graph is built are this program's inputs in tests/corpus/manifest.py.
from typing import Annotated

# lgp-corpus: stand-in (was: from langchain.chat_models import init_chat_model)
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel  # lgp-corpus: stand-in
from langchain_core.messages import AIMessage  # lgp-corpus: stand-in
from langchain_core.outputs import ChatGeneration, ChatResult  # lgp-corpus: stand-in
from typing_extensions import TypedDict

from langgraph.graph import StateGraph, START, END
from langgraph.graph.message import add_messages


class State(TypedDict):
    messages: Annotated[list, add_messages]


graph_builder = StateGraph(State)


# lgp-corpus: stand-in (begin) -- a deterministic langchain_core fake chat model, no network
class StandInChatModel(ParrotFakeChatModel):
    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        reply = AIMessage(content=f"You said: {messages[-1].content} ({len(messages)} messages so far)")
        return ChatResult(generations=[ChatGeneration(message=reply)])


llm = StandInChatModel()  # was: init_chat_model("anthropic:claude-3-5-sonnet-latest")
# lgp-corpus: stand-in (end)


def chatbot(state: State):
    return {"messages": [llm.invoke(state["messages"])]}


# The first argument is the unique node name
# The second argument is the function or object that will be called whenever
# the node is used.
graph_builder.add_node("chatbot", chatbot)
graph_builder.add_edge(START, "chatbot")
graph_builder.add_edge("chatbot", END)
graph = graph_builder.compile()
