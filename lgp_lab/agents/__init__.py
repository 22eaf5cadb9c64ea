"""Agent nodes: the MCP mesh server, the Lab's MCP client sessions, and LLM providers.

Heavy dependencies (``mcp``, ``openai``) are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lgp_lab.agents.claude_code import create_claude_code_node
    from lgp_lab.agents.providers import (
        ClaudeCodeProvider,
        LLMProvider,
        OllamaProvider,
        create_agent_node,
    )

__all__ = [
    "ClaudeCodeProvider",
    "LLMProvider",
    "OllamaProvider",
    "create_agent_node",
    "create_claude_code_node",
]

_LAZY = {
    "create_claude_code_node": "lgp_lab.agents.claude_code",
    "ClaudeCodeProvider": "lgp_lab.agents.providers",
    "LLMProvider": "lgp_lab.agents.providers",
    "OllamaProvider": "lgp_lab.agents.providers",
    "create_agent_node": "lgp_lab.agents.providers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lgp_lab.agents' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
