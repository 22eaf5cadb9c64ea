# lgp-corpus: copied from https://github.com/langchain-ai/react-agent (path src/react_agent/utils.py, commit d89d249c2a768e8b166c7c4e3bfeff2c73acb00f),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""Utility & helper functions."""

# lgp-corpus: stand-in (was: from langchain.chat_models import init_chat_model)
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel  # lgp-corpus: stand-in
from langchain_core.messages import AIMessage, ToolMessage  # lgp-corpus: stand-in
from langchain_core.outputs import ChatGeneration, ChatResult  # lgp-corpus: stand-in
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage


def get_message_text(msg: BaseMessage) -> str:
    """Get the text content of a message."""
    content = msg.content
    if isinstance(content, str):
        return content
    elif isinstance(content, dict):
        return content.get("text", "")
    else:
        txts = [c if isinstance(c, str) else (c.get("text") or "") for c in content]
        return "".join(txts).strip()


def load_chat_model(fully_specified_name: str) -> BaseChatModel:
    """Load a chat model from a fully specified name.

    Args:
        fully_specified_name (str): String in the format 'provider/model'.
    """
    provider, model = fully_specified_name.split("/", maxsplit=1)
    return _StandInChatModel(name=fully_specified_name)  # lgp-corpus: stand-in (was: init_chat_model(model, model_provider=provider))


# lgp-corpus: stand-in (begin) -- a deterministic langchain_core fake chat model, no network:
# asks the `search` tool about the user's question, then answers with what the tool returned.
class _StandInChatModel(ParrotFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(content=f"[{self.name}] Here is what I found: {last.content}")
        else:
            reply = AIMessage(
                content="",
                tool_calls=[{"name": "search", "args": {"query": str(last.content)}, "id": "call_search"}],
            )
        return ChatResult(generations=[ChatGeneration(message=reply)])
# lgp-corpus: stand-in (end)
