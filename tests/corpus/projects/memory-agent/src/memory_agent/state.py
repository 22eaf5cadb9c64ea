# lgp-corpus: copied from https://github.com/langchain-ai/memory-agent (path src/memory_agent/state.py, commit 09bf577731b4d5a35157cf4e18aa5af3c7a5095d),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""Define the shared values."""

from __future__ import annotations

from dataclasses import dataclass

from langchain_core.messages import AnyMessage
from langgraph.graph import add_messages
from typing_extensions import Annotated


@dataclass(kw_only=True)
class State:
    """Main graph state."""

    messages: Annotated[list[AnyMessage], add_messages]
    """The messages in the conversation."""


__all__ = [
    "State",
]
