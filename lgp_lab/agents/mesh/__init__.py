"""``lgp-lab mesh``: an MCP server that runs tasks inside isolated repositories."""
