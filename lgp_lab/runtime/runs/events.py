"""Agent Server stream events from LangGraph stream chunks, and their JSON.

LangGraph streams ``(mode, chunk)`` (``(namespace, mode, chunk)`` with subgraphs); the
Agent Server sends one event per mode, named ``mode`` or ``mode|namespace...``, with
``messages-tuple`` sent as ``messages`` and ``messages`` sent as
``messages/metadata|partial|complete``; checkpoint chunks gain ``checkpoint`` and
``parent_checkpoint`` as langgraph-api adds them.
"""

from __future__ import annotations

from typing import Any

from lgp_lab.jsonable import json_bytes, to_jsonable

__all__ = ["RunEmitter", "encode_event", "event_name"]


class RunEmitter:
    """Turns LangGraph stream chunks into Agent Server events on a run's buffer.

    ``live`` is the run's buffer: ``publish(event, data)`` and ``values`` (the root
    state last seen) are all it needs.
    """

    def __init__(self, live: Any, modes: set[str], subgraphs: bool, tracing: Any, trace: Any):
        self.live = live
        self.modes = modes
        self.subgraphs = subgraphs
        self.tracing = tracing
        self.trace = trace
        self.interrupts: list[Any] = []
        self.partial: dict[str, Any] = {}
        self.complete: set[str] = set()

    def chunk(self, item: Any) -> None:
        """Publish one LangGraph stream chunk (``(mode, data)``, namespaced with subgraphs)."""
        if self.subgraphs:
            ns, mode, data = item
        else:
            (mode, data), ns = item, ()
        root = not ns
        live = self.live
        if root:
            if mode == "values":
                live.values = data
                if "messages" in self.modes:
                    self._complete_from_state(data)
            elif mode == "updates" and isinstance(data, dict) and "__interrupt__" in data:
                self.interrupts.extend(data["__interrupt__"])
            elif mode == "tasks" and self.trace is not None:
                if "result" in data or "error" in data:
                    self.tracing.node_end(
                        self.trace, data["id"], data.get("result"), data.get("error")
                    )
                else:
                    self.tracing.node_start(self.trace, data["id"], data["name"], data.get("input"))
        if mode == "messages":
            if "messages-tuple" in self.modes:
                live.publish(event_name("messages", ns), list(data))
            if "messages" in self.modes:
                self._message(*data)
            return
        if mode not in self.modes:
            return
        if mode == "debug" and isinstance(data, dict) and data.get("type") == "checkpoint":
            data = {**data, "payload": _with_checkpoints(data.get("payload") or {})}
        elif mode == "checkpoints" and isinstance(data, dict):
            data = _with_checkpoints(data)
        live.publish(event_name(mode, ns), data)

    def _message(self, message: Any, metadata: Any) -> None:
        key = getattr(message, "id", None)
        if key is None:
            return
        is_chunk = type(message).__name__.endswith("Chunk")
        if key not in self.partial and key not in self.complete:
            self.live.publish("messages/metadata", {key: {"metadata": metadata}})
        if is_chunk:
            self.partial[key] = message if key not in self.partial else self.partial[key] + message
            self.live.publish("messages/partial", [self.partial[key]])
        elif key not in self.complete:
            self.complete.add(key)
            self.partial.pop(key, None)
            self.live.publish("messages/complete", [message])

    def _complete_from_state(self, values: Any) -> None:
        messages = values.get("messages") if isinstance(values, dict) else None
        if not isinstance(messages, list) or not self.partial:
            return
        for message in messages:
            key = getattr(message, "id", None)
            if key in self.partial and key not in self.complete:
                self.complete.add(key)
                del self.partial[key]
                self.live.publish("messages/complete", [message])


def event_name(mode: str, ns: tuple[str, ...] | list[str]) -> str:
    """The Agent Server event name of a chunk: ``mode``, or ``mode|ns...`` in a subgraph."""
    return "|".join((mode, *ns)) if ns else mode


def encode_event(data: Any) -> bytes:
    """JSON for an event, never failing: NaN/Infinity become null, lone surrogates are
    escaped (text a node produced must not break the stream)."""
    return json_bytes(to_jsonable(data))


def _with_checkpoints(payload: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint chunk with ``checkpoint`` / ``parent_checkpoint`` as the Agent
    Server adds them ({thread_id, checkpoint_ns, checkpoint_id, checkpoint_map})."""
    return {
        **payload,
        "checkpoint": _checkpoint_of(payload.get("config")),
        "parent_checkpoint": _checkpoint_of(payload.get("parent_config")),
    }


def _checkpoint_of(config: Any) -> dict[str, Any] | None:
    conf = (config or {}).get("configurable") if isinstance(config, dict) else None
    if not conf or "checkpoint_id" not in conf:
        return None
    return {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
        "checkpoint_map": conf.get("checkpoint_map"),
    }
