# lgp-corpus: copied from https://github.com/langchain-ai/memory-agent (path src/memory_agent/utils.py, commit 09bf577731b4d5a35157cf4e18aa5af3c7a5095d),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""Utility functions used in our graph."""

import re  # lgp-corpus: stand-in

# lgp-corpus: stand-in (was: from langchain.chat_models import init_chat_model)
from langchain_core.language_models.fake_chat_models import ParrotFakeChatModel  # lgp-corpus: stand-in
from langchain_core.messages import AIMessage, HumanMessage  # lgp-corpus: stand-in
from langchain_core.outputs import ChatGeneration, ChatResult  # lgp-corpus: stand-in
from langchain_core.language_models import BaseChatModel


def load_chat_model(fully_specified_name: str) -> BaseChatModel:
    """Load a chat model from a fully specified name.

    Args:
        fully_specified_name (str): String in the format 'provider/model'.
    """
    provider, model = fully_specified_name.split("/", maxsplit=1)
    return _StandInChatModel(name=fully_specified_name)  # lgp-corpus: stand-in (was: init_chat_model(model, model_provider=provider))


# lgp-corpus: stand-in (begin) -- a deterministic langchain_core fake chat model, no network:
# a user message asking to remember -> an upsert_memory tool call; otherwise it answers with the
# memories the system prompt holds (sorted, so the store's ranking does not matter).
class _StandInChatModel(ParrotFakeChatModel):
    def bind_tools(self, tools, **kwargs):
        return self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        last = messages[-1]
        text = str(last.content)
        if isinstance(last, HumanMessage) and "remember" in text.lower():
            reply = AIMessage(
                content="",
                tool_calls=[{"name": "upsert_memory", "args": {"content": text, "context": "The user asked me to remember it."}, "id": "call_memory"}],
            )
        else:
            found = re.findall(r"""'content': (?:'([^']*)'|"([^"]*)")""", str(messages[0].content))
            remembered = sorted(a or b for a, b in found)
            reply = AIMessage(content=f"I remember: {'; '.join(remembered) or 'nothing yet'}.")
        return ChatResult(generations=[ChatGeneration(message=reply)])
# lgp-corpus: stand-in (end)
