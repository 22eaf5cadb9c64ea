# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/how-tos/memory/add-memory.md, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). Section "Write long-term memory from tools", up to the agent.
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the docs make after
# the graph is built are this program's inputs in tests/corpus/manifest.py.
from typing_extensions import TypedDict

from langgraph.config import get_store
from langchain_core.runnables import RunnableConfig
from langgraph.prebuilt import create_react_agent
from langgraph.store.memory import InMemoryStore

# lgp-corpus: stand-in (begin) -- a deterministic langchain_core fake chat model, no network:
# "My name is X" -> a save_user_info tool call; after the tool, it repeats the tool's answer.
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class StandInChatModel(ParrotFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"Done: {last.content}")
        else:
            name = str(last.content).rsplit("is ", 1)[-1].strip(" .!")
            reply = AIMessage(content="", tool_calls=[{"name": "save_user_info", "args": {"user_info": {"name": name}}, "id": "call_save"}])
        return ChatResult(generations=[ChatGeneration(message=reply)])
# lgp-corpus: stand-in (end)

store = InMemoryStore() # (1)!

class UserInfo(TypedDict): # (2)!
    name: str

def save_user_info(user_info: UserInfo, config: RunnableConfig) -> str: # (3)!
    """Save user info."""
    # Same as that provided to `create_react_agent`
    # highlight-next-line
    store = get_store() # (4)!
    user_id = config["configurable"].get("user_id")
    # highlight-next-line
    store.put(("users",), user_id, user_info) # (5)!
    return "Successfully saved user info."

agent = create_react_agent(
    model=StandInChatModel(),  # lgp-corpus: stand-in (was: model="anthropic:claude-3-7-sonnet-latest")
    tools=[save_user_info],
    # highlight-next-line
    store=store
)
