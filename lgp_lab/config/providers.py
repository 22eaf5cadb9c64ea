"""The ``llm_providers`` section: which LLM provider agent nodes use, and how to reach it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lgp_lab.config.base import Section

__all__ = ["ClaudeCodeProviderConfig", "LlmProvidersConfig", "OllamaProviderConfig"]


class OllamaProviderConfig(Section):
    """An OpenAI-compatible endpoint (Ollama by default; its cost is $0.00)."""

    enabled: bool = False
    base_url: str = "http://localhost:11434/v1"
    default_model: str = "llama3.2"
    api_key: str = "ollama"
    timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)


class ClaudeCodeProviderConfig(Section):
    """Claude Code through the MCP mesh (``mesh_execute``)."""

    enabled: bool = True
    server: str = "mesh"
    repository: str | None = None


class LlmProvidersConfig(Section):
    """Which provider agent nodes use, and each provider's settings."""

    default: Literal["claude_code", "ollama"] = "claude_code"
    ollama: OllamaProviderConfig = Field(default_factory=OllamaProviderConfig)
    claude_code: ClaudeCodeProviderConfig = Field(default_factory=ClaudeCodeProviderConfig)
