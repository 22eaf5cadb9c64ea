"""Run inputs: what users type, made into what LangGraph accepts — and checked like it.

The rule is LangGraph's own: whatever ``graph.ainvoke`` accepts, a run accepts.
Partial inputs, chat messages as dicts, tuples or strings, and pydantic or dataclass
states all pass through untouched; the check below refuses only what LangGraph would
silently drop (a key the state has no channel for) or crash on (a value a channel's
reducer cannot take), and refuses it *before* anything is written, with a message
naming the key, the value and the fix.
"""

from __future__ import annotations

import json
from typing import Any

from lgp_lab.errors import WorkflowInputError

__all__ = [
    "check_input",
    "check_run_config",
    "default_input",
    "input_keys",
    "parse_json_or_text",
    "text_input",
]

# Keys a single-text input goes to, in order of preference, when the graph has no
# `messages` channel.
_TEXT_KEYS = ("input", "query", "question", "topic", "text", "prompt", "message", "content")
_CONFIG_KEYS = {
    "configurable",
    "tags",
    "metadata",
    "recursion_limit",
    "run_name",
    "max_concurrency",
    "run_id",
}


def parse_json_or_text(text: str, *, strict: bool = False) -> Any:
    """A value typed by a person — an input or a resume value, in every front end.

    JSON when it parses (``{"ok": true}``, ``42``, ``"quoted"``), otherwise the text
    itself (``approve``, ``hello world``).

    Args:
        text: What was typed.
        strict: Text that starts like a JSON object or array must be valid JSON (a typo
            in ``{...}`` is an error, not a message of that text).

    Raises:
        ValueError: ``strict`` and broken JSON that starts with ``{`` or ``[``; the
            message says where.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as exc:
        if strict and stripped.startswith(("{", "[")):
            raise ValueError(
                f"looks like JSON but is not valid ({exc.msg} at line {exc.lineno} column "
                f"""{exc.colno}); write valid JSON, e.g. '{{"key": "value"}}', or plain text"""
            ) from None
        return text


def input_keys(graph: Any) -> list[str] | None:
    """The state keys the graph's input schema declares; ``None`` when it has no
    keyed schema (a functional-API entrypoint takes any value)."""
    builder = getattr(graph, "builder", None)
    schemas = getattr(builder, "schemas", None)
    if not schemas:
        return None
    keys = schemas.get(builder.input_schema)
    return list(keys) if keys else None


def is_chat(graph: Any) -> bool:
    """Whether the graph takes chat messages: an input ``messages`` channel reduced by
    LangGraph's ``add_messages`` (``MessagesState`` and its kin)."""
    if "messages" not in (input_keys(graph) or ()):
        return False
    channel = (getattr(graph, "channels", None) or {}).get("messages")
    operator = getattr(channel, "operator", None)
    return "add_messages" in getattr(operator, "__qualname__", "")


def text_input(graph: Any, text: str) -> Any:
    """What a plain text means for ``graph``.

    A chat graph (a ``messages`` channel with ``add_messages``) gets a user message; a
    state with one obvious text key (``input``, ``query``, ``question``, ``topic``, ...
    or its only ``str`` field) gets the text there; a functional-API entrypoint gets
    the text itself.
    """
    keys = input_keys(graph)
    if keys is None:
        return text
    if is_chat(graph):
        return {"messages": [{"role": "user", "content": text}]}
    key = _text_key(graph, keys)
    return {key or "input": text}


def default_input(graph: Any) -> Any:
    """An input that fits ``graph`` when the user gave none (the CLI says which).

    A chat message ``"test"`` for chat graphs, ``"test"`` in the obvious text key, or
    an empty (partial) input when no key is needed.
    """
    keys = input_keys(graph)
    if keys is None:
        return {}
    if is_chat(graph) or _text_key(graph, keys):
        return text_input(graph, "test")
    return {}


def check_input(graph: Any, payload: Any, workflow: str) -> None:
    """Refuse input LangGraph would drop silently or crash on, before anything runs.

    Raises:
        WorkflowInputError: A top-level key the state has no channel for, or a value
            a channel's reducer cannot take (the message names both).
    """
    keys = input_keys(graph)
    if keys is None or payload is None:
        return  # an entrypoint takes any value; None continues the thread
    if not isinstance(payload, dict):
        schema = getattr(getattr(graph, "builder", None), "input_schema", None)
        if _is_instance(payload, schema):
            return  # a state object (pydantic model, dataclass) of the input schema
        shown = repr(payload)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise WorkflowInputError(
            f"workflow {workflow!r} takes an object of state keys ({', '.join(keys)}); "
            f"got {type(payload).__name__} {shown}",
            hint=f'pass e.g. {{"{keys[0]}": ...}}'
            + (" or plain text (a user message)" if is_chat(graph) else ""),
        )
    channels = getattr(graph, "channels", {}) or {}
    unknown = [k for k in payload if k not in keys and k not in channels]
    if unknown:
        raise WorkflowInputError(
            f"workflow {workflow!r} rejected the input: unknown key(s) "
            f"{', '.join(repr(k) for k in unknown)} (the state has no such channel)",
            hint=f"use the state's input keys: {', '.join(keys)}",
        )
    for key, value in payload.items():
        channel = channels.get(key)
        if channel is None or not hasattr(channel, "operator"):
            continue  # a plain value channel stores anything, as in LangGraph
        _dry_run(channel, key, value, workflow, _annotations(graph).get(key))


def check_run_config(config: Any) -> dict[str, Any]:
    """Validate a user's RunnableConfig (``configurable``, ``tags``, ``metadata``,
    ``recursion_limit``, ``run_name``, ``max_concurrency``).

    ``thread_id`` is the Lab's to manage: pass it as the run's thread instead.

    Raises:
        WorkflowInputError: Not a mapping, an unknown key or a wrongly typed value.
    """
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise WorkflowInputError(
            f"config must be an object, not {type(config).__name__} ({config!r})",
            hint='pass e.g. {"configurable": {"user_id": "u1"}, "recursion_limit": 50}',
        )
    unknown = sorted(set(config) - _CONFIG_KEYS)
    if unknown:
        raise WorkflowInputError(
            f"config has unknown key(s) {', '.join(repr(k) for k in unknown)}",
            hint=f"a RunnableConfig takes: {', '.join(sorted(_CONFIG_KEYS))}",
        )
    for key, kind in (("configurable", dict), ("metadata", dict), ("tags", list)):
        if key in config and not isinstance(config[key], kind):
            raise WorkflowInputError(
                f"config.{key} must be {'an object' if kind is dict else 'a list'}, "
                f"not {type(config[key]).__name__} ({config[key]!r})",
                hint='e.g. {"configurable": {"user_id": "u1"}, "tags": ["demo"]}',
            )
    limit = config.get("recursion_limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise WorkflowInputError(
            f"config.recursion_limit must be a positive integer (got {limit!r})",
            hint='e.g. {"recursion_limit": 50}',
        )
    if "thread_id" in (config.get("configurable") or {}):
        raise WorkflowInputError(
            "config.configurable.thread_id is managed by lgp_lab",
            hint="pass the thread as thread_id=... (--thread ID, or the body's thread_id)",
        )
    return config


def default_context(graph: Any) -> Any:
    """The graph's context schema built from its defaults, or ``None`` when it has
    required fields (then nodes see ``None``, exactly as in plain LangGraph)."""
    schema = getattr(graph, "context_schema", None)
    if schema is None or not isinstance(schema, type):
        return None
    try:
        return schema()
    except Exception:
        return None


# --------------------------------------------------------------------------- private


def _is_instance(value: Any, schema: Any) -> bool:
    """``isinstance`` that is False for schemas it cannot check (TypedDicts)."""
    try:
        return isinstance(schema, type) and isinstance(value, schema)
    except TypeError:
        return False


def _text_key(graph: Any, keys: list[str]) -> str | None:
    for key in _TEXT_KEYS:
        if key in keys:
            return key
    text_keys = [k for k, t in _annotations(graph).items() if k in keys and t is str]
    return text_keys[0] if len(text_keys) == 1 else None


def _annotations(graph: Any) -> dict[str, Any]:
    import typing

    schema = getattr(getattr(graph, "builder", None), "input_schema", None)
    if schema is None:
        return {}
    try:
        return typing.get_type_hints(schema, include_extras=True)
    except Exception:
        return dict(getattr(schema, "__annotations__", {}))


def _dry_run(channel: Any, key: str, value: Any, workflow: str, declared: Any = None) -> None:
    """Apply ``value`` to an empty copy of the channel, as LangGraph's input step would."""
    from langgraph.channels.binop import MISSING

    try:
        fresh = channel.from_checkpoint(MISSING)
    except Exception:
        return  # a channel we cannot copy: let LangGraph decide
    try:
        fresh.update([value])
    except Exception as exc:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        hint = "pass a value of the type the state declares for this key"
        if declared is not None:
            hint = f"the state declares {key}: {_type_name(declared)}"
        if key == "messages" or "message" in str(exc).lower():
            hint = (
                'pass chat messages as {"role": "user", "content": "hi"}, ("user", "hi"), '
                "a plain string, or message objects"
            )
        raise WorkflowInputError(
            f"workflow {workflow!r} rejected the input: {key!r} = {shown} does not fit "
            f"the channel ({type(exc).__name__}: {exc})",
            hint=hint,
        ) from None


def _type_name(annotation: Any) -> str:
    """``Annotated[dict[str, str], merge]`` → ``dict[str, str]``."""
    import typing

    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")
