# lgp-corpus: copied from https://github.com/langchain-ai/react-agent (path src/react_agent/__init__.py, commit d89d249c2a768e8b166c7c4e3bfeff2c73acb00f),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""React Agent.

This module defines a custom reasoning and action agent graph.
It invokes tools in a simple loop.
"""

from react_agent.graph import graph

__all__ = ["graph"]
