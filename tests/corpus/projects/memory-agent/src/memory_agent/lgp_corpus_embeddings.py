# lgp-corpus: stand-in -- a file added to this copy of langchain-ai/memory-agent (so no source
# commit; MIT licence like the project). langgraph.json's
# store.index.embed was "openai:text-embedding-3-small" (network); it now names this function, a
# deterministic langchain_core fake embedding of the same 1536 dimensions (the path form
# "./file.py:function" is the one LangGraph's server documents for custom embeddings).
from langchain_core.embeddings import DeterministicFakeEmbedding

_EMBEDDINGS = DeterministicFakeEmbedding(size=1536)


async def aembed_texts(texts: list[str]) -> list[list[float]]:
    """Embed texts without a network call (same text -> same vector)."""
    return [_EMBEDDINGS.embed_query(text) for text in texts]
