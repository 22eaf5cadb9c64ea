"""The one way lgp_lab builds an OpenAI-compatible client (Ollama by default)."""

from __future__ import annotations

from typing import Any

__all__ = ["openai_client"]


def openai_client(
    base_url: str, api_key: str, *, timeout_s: float, connect_timeout_s: float = 3.0
) -> Any:
    """An ``AsyncOpenAI`` whose failure to connect is quick and bounded (one retry).

    The timeout is built from ``openai.Timeout``, the SDK's own export: it is
    ``httpx.Timeout`` on openai 1.x and ``httpx2.Timeout`` on 2.x/3.x, and each version
    refuses the other library's type.
    """
    import openai

    return openai.AsyncOpenAI(
        base_url=base_url,
        api_key=api_key or "ollama",  # the SDK refuses to start without one; Ollama ignores it
        timeout=openai.Timeout(timeout_s, connect=connect_timeout_s),
        max_retries=1,
    )
