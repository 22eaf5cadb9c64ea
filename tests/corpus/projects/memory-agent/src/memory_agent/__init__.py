# lgp-corpus: copied from https://github.com/langchain-ai/memory-agent (path src/memory_agent/__init__.py, commit 09bf577731b4d5a35157cf4e18aa5af3c7a5095d),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""Enrichment for a pre-defined schema."""

from memory_agent.graph import graph

__all__ = ["graph"]
