# lgp-corpus: copied from https://github.com/langchain-ai/langgraph (path docs/docs/how-tos/graph-api.md, commit 23961cff61a42b52525f3b20b4094d8d2fba1744),
# MIT licence (see LICENSE.langgraph here). Section "Use Pydantic models for graph state".
# Only lines marked `lgp-corpus: stand-in` differ from the source; the calls the docs make after
# the graph is built are this program's inputs in tests/corpus/manifest.py.
from langgraph.graph import StateGraph, START, END
from typing_extensions import TypedDict
from pydantic import BaseModel

# The overall state of the graph (this is the public state shared across nodes)
class OverallState(BaseModel):
    a: str

def node(state: OverallState):
    return {"a": "goodbye"}

# Build the state graph
builder = StateGraph(OverallState)
builder.add_node(node)  # node_1 is the first node
builder.add_edge(START, "node")  # Start the graph with node_1
builder.add_edge("node", END)  # End the graph after node_1
graph = builder.compile()
