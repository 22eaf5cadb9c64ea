# lgp-corpus: copied from https://github.com/langchain-ai/react-agent (path src/react_agent/tools.py, commit d89d249c2a768e8b166c7c4e3bfeff2c73acb00f),
# MIT licence (see LICENSE in the project folder). Only lines marked `lgp-corpus: stand-in` differ.
"""This module provides example tools for web scraping and search functionality.

It includes a basic Tavily search function (as an example)

These tools are intended as free examples to get started. For production use,
consider implementing more robust and specialized tools tailored to your needs.
"""

from typing import Any, Callable, List, Optional, cast

# lgp-corpus: stand-in (was: from langchain_tavily import TavilySearch)
from langgraph.runtime import get_runtime

from react_agent.context import Context


async def search(query: str) -> Optional[dict[str, Any]]:
    """Search for general web results.

    This function performs a search using the Tavily search engine, which is designed
    to provide comprehensive, accurate, and trusted results. It's particularly useful
    for answering questions about current events.
    """
    runtime = get_runtime(Context)
    # lgp-corpus: stand-in (begin) -- was: TavilySearch(max_results=...).ainvoke({"query": query}); no network
    results = [{"title": f"Result {i} for {query}", "url": f"https://example.com/{i}"} for i in range(min(2, runtime.context.max_search_results))]
    return cast(dict[str, Any], {"query": query, "results": results})
    # lgp-corpus: stand-in (end)


TOOLS: List[Callable[..., Any]] = [search]
