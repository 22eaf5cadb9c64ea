# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/tutorials/get-started/4-human-in-the-loop.md, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). The tutorial's model block and its "full code" block.
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the docs make after
# the graph is built are this program's inputs in tests/corpus/manifest.py.
# lgp-corpus: stand-in (was: from langchain.chat_models import init_chat_model)
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel  # lgp-corpus: stand-in
from langchain_core.messages import AIMessage, ToolMessage  # lgp-corpus: stand-in
from langchain_core.outputs import ChatGeneration, ChatResult  # lgp-corpus: stand-in


# lgp-corpus: stand-in (begin) -- a deterministic langchain_core fake chat model, no network:
# it asks a human for help (the human_assistance tool), then repeats what the tool returned.
class StandInChatModel(ParrotFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"The experts say: {last.content}")
        else:
            reply = AIMessage(
                content="",
                tool_calls=[{"name": "human_assistance", "args": {"query": str(last.content)}, "id": "call_human"}],
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])


llm = StandInChatModel()  # was: init_chat_model("anthropic:claude-3-5-sonnet-latest")
# lgp-corpus: stand-in (end)

from typing import Annotated

# lgp-corpus: stand-in (was: from langchain_tavily import TavilySearch)
from langchain_core.tools import tool
from typing_extensions import TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import StateGraph, START, END
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt

class State(TypedDict):
    messages: Annotated[list, add_messages]

graph_builder = StateGraph(State)

@tool
def human_assistance(query: str) -> str:
    """Request assistance from a human."""
    human_response = interrupt({"query": query})
    return human_response["data"]


# lgp-corpus: stand-in (begin) -- was: tool = TavilySearch(max_results=2); no network
@tool
def tavily_search(query: str) -> str:
    """Search the web."""
    return f"No results for {query}"


tool = tavily_search
# lgp-corpus: stand-in (end)
tools = [tool, human_assistance]
llm_with_tools = llm.bind_tools(tools)

def chatbot(state: State):
    message = llm_with_tools.invoke(state["messages"])
    assert(len(message.tool_calls) <= 1)
    return {"messages": [message]}

graph_builder.add_node("chatbot", chatbot)

tool_node = ToolNode(tools=tools)
graph_builder.add_node("tools", tool_node)

graph_builder.add_conditional_edges(
    "chatbot",
    tools_condition,
)
graph_builder.add_edge("tools", "chatbot")
graph_builder.add_edge(START, "chatbot")

memory = InMemorySaver()
graph = graph_builder.compile(checkpointer=memory)
