"""Chat-model tokens of any run, for trace exporters that show them live (the studio).

LangGraph streams a chat model's tokens only to a caller that asked for the
``messages`` stream mode. A run started by ``%lgp_run``, ``lab.run``, the HTTP routes or
the SDK asks for other modes, so a live view watching it would see the model's answer
only once its node ends. :func:`with_token_relay` adds :class:`TokenRelay` to such a
run's callbacks while an exporter wants tokens (``on_token``): like LangGraph's own
``messages`` handler it makes ``model.invoke()`` stream, and it hands each token to the
tracer with the node it came from. With no such exporter nothing is added, and a run
calls its models exactly as plain LangGraph does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager

__all__ = ["TokenRelay", "with_token_relay"]

T = TypeVar("T")


class TokenRelay(BaseCallbackHandler):
    """Calls ``emit(node, text)`` for each streamed chat-model token of one run.

    It has ``tap_output_aiter``/``tap_output_iter``, which makes it a LangChain
    streaming handler: a chat model called with ``invoke`` streams when one is attached
    (how LangGraph's ``messages`` mode works too).
    """

    run_inline = True  # a token is a dict update: no executor hop per token
    raise_error = False  # a live view must never fail the run

    def __init__(self, emit: Callable[[str, str], None]) -> None:
        self._emit = emit
        self._nodes: dict[UUID, str] = {}

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self._nodes[run_id] = str((metadata or {}).get("langgraph_node") or "?")

    def on_llm_new_token(self, token: Any, *, run_id: UUID, **kwargs: Any) -> None:
        node = self._nodes.get(run_id)
        text = _text_of(token)
        if node is not None and text:  # a chat model's (a plain LLM has no node here)
            self._emit(node, text)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._nodes.pop(run_id, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._nodes.pop(run_id, None)

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        return output

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        return output


def with_token_relay(config: dict[str, Any], tracing: Any, trace: Any) -> dict[str, Any]:
    """``config`` with a :class:`TokenRelay` feeding ``tracing.token(trace, ...)`` when
    an exporter of ``tracing`` wants tokens; else ``config`` unchanged."""
    if trace is None or tracing is None or not tracing.wants_tokens:
        return config
    relay = TokenRelay(lambda node, text: tracing.token(trace, node, text))
    callbacks = config.get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        callbacks = callbacks.copy()
        callbacks.add_handler(relay, inherit=True)
    else:
        callbacks = [*(callbacks or []), relay]
    return {**config, "callbacks": callbacks}


def _text_of(content: Any) -> str:
    """A token's text: a string, or the text blocks of a content list (LangChain passes
    a chunk's ``content`` as the token, a list of blocks for some providers)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b if isinstance(b, str) else str(b.get("text", ""))
            for b in content
            if isinstance(b, str) or (isinstance(b, dict) and b.get("type") == "text")
        )
    return ""
