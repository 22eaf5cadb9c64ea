"""The ``mcp`` section: the MCP servers a Lab can start over stdio."""

from __future__ import annotations

from pydantic import Field

from lgp_lab.config.base import Section

__all__ = ["McpConfig", "McpServerConfig"]


class McpServerConfig(Section):
    """One MCP server the Lab can start over stdio (``command args...`` with ``env``)."""

    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    start_timeout_s: float = Field(default=20.0, gt=0)


class McpConfig(Section):
    """MCP servers by name; ``mesh`` defaults to ``lgp-lab mesh --root repositories``."""

    servers: dict[str, McpServerConfig] = Field(default_factory=dict)
