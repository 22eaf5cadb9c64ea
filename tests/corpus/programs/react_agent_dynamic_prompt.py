# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/agents/agents.md, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). The get_weather tool from the first block and the "Dynamic prompt" block.
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the docs make after
# the graph is built are this program's inputs in tests/corpus/manifest.py.
# lgp-corpus: stand-in (begin) -- a deterministic langchain_core fake chat model, no network:
# it asks get_weather about the last city the user named, then reports the tool's answer.
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
from langchain_core.messages import AIMessage, SystemMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class StandInChatModel(ParrotFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        last = messages[-1]
        system = " ".join(str(m.content) for m in messages if isinstance(m, SystemMessage))
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"{last.content} (system prompt: {system or 'none'})")
        else:
            city = "new york" if "new york" in str(last.content).lower() else "sf"
            reply = AIMessage(content="", tool_calls=[{"name": "get_weather", "args": {"city": city}, "id": f"call_{city.replace(' ', '_')}"}])
        return ChatResult(generations=[ChatGeneration(message=reply)])
# lgp-corpus: stand-in (end)

def get_weather(city: str) -> str:  # (1)!
    """Get weather for a given city."""
    return f"It's always sunny in {city}!"

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.prebuilt.chat_agent_executor import AgentState
from langgraph.prebuilt import create_react_agent

# highlight-next-line
def prompt(state: AgentState, config: RunnableConfig) -> list[AnyMessage]:  # (1)!
    user_name = config["configurable"].get("user_name")
    system_msg = f"You are a helpful assistant. Address the user as {user_name}."
    return [{"role": "system", "content": system_msg}] + state["messages"]

agent = create_react_agent(
    model=StandInChatModel(),  # lgp-corpus: stand-in (was: model="anthropic:claude-3-7-sonnet-latest")
    tools=[get_weather],
    # highlight-next-line
    prompt=prompt
)
