# lgp-corpus: copied from https://github.com/langchain-ai/new-langgraph-project (path src/agent/__init__.py, commit c89ad1943853aea37ad56d1f2ab62ae8194af0ac),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""New LangGraph Agent.

This module defines a custom graph.
"""

from agent.graph import graph

__all__ = ["graph"]
