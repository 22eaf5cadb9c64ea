"""The oracle: run a corpus program with plain LangGraph, as its authors do.

``run_oracle(program)`` imports the program fresh, gives its graph an ``InMemorySaver`` and an
``InMemoryStore`` (replacing any of its own, as lgp_lab replaces them with its SQLite ones),
and makes the manifest's calls with ``ainvoke(input | Command(resume=...), config,
context=...)``. ``normalize`` maps LangGraph values *and* lgp_lab's JSON to one comparable form:
messages become type + content + tool calls (name, args) + tool name, and ids, uuids and
timestamps are dropped, so the two sides compare with ``==``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import json
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent
if str(CORPUS) not in sys.path:
    sys.path.insert(0, str(CORPUS))

from manifest import Call, Program, StoreCheck  # noqa: E402

__all__ = [
    "OracleCall",
    "graph_of",
    "load_program_module",
    "normalize",
    "run_oracle",
    "store_items",
]

_MESSAGE_TYPES = {
    "human": "human",
    "HumanMessage": "human",
    "HumanMessageChunk": "human",
    "user": "human",
    "ai": "ai",
    "AIMessage": "ai",
    "AIMessageChunk": "ai",
    "assistant": "ai",
    "tool": "tool",
    "ToolMessage": "tool",
    "ToolMessageChunk": "tool",
    "system": "system",
    "SystemMessage": "system",
    "SystemMessageChunk": "system",
}
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?")


@dataclasses.dataclass
class OracleCall:
    """What plain LangGraph gave for one call."""

    call: Call
    thread_id: str
    #: ``aget_state(config).values`` after the call (what lgp_lab calls the final state).
    values: Any
    #: ``ainvoke``'s return value.
    output: Any
    #: ``complete`` or ``interrupted``.
    status: str
    #: The pending interrupts' values.
    interrupts: list[Any]


# ---------------------------------------------------------------------------- normalising


def _message(d: Mapping[str, Any]) -> dict[str, Any]:
    kind = _MESSAGE_TYPES.get(str(d.get("type") or d.get("role")), str(d.get("type")))
    out: dict[str, Any] = {"type": kind, "content": normalize(d.get("content"))}
    calls = d.get("tool_calls") or []
    if calls:
        out["tool_calls"] = [
            {"name": c.get("name"), "args": normalize(c.get("args"))} for c in calls
        ]
    if kind == "tool" and d.get("name"):
        out["name"] = d.get("name")
    return out


def _is_message_dict(value: Mapping[str, Any]) -> bool:
    kind = value.get("type")
    return (
        isinstance(kind, str)
        and kind in _MESSAGE_TYPES
        and "content" in value
        and ("id" in value or "additional_kwargs" in value or "response_metadata" in value)
    )


def normalize(value: Any) -> Any:
    """A comparable, JSON-shaped copy of ``value`` (LangGraph objects or lgp_lab's JSON)."""
    from langchain_core.messages import BaseMessage

    if isinstance(value, BaseMessage):
        return _message(value.model_dump())
    if isinstance(value, Mapping):
        if _is_message_dict(value):
            return _message(value)
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        return _TIMESTAMP.sub("<time>", _UUID.sub("<uuid>", value))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, uuid.UUID):
        return "<uuid>"
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return normalize(dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return normalize(dataclasses.asdict(value))
    # Interrupt objects and the like: their value is what a user sees.
    if hasattr(value, "value") and type(value).__name__ == "Interrupt":
        return normalize(value.value)
    return normalize(json.loads(json.dumps(value, default=str)))


# ---------------------------------------------------------------------------- loading


@contextlib.contextmanager
def _importable(program: Program) -> Iterator[None]:
    """Make a program's own imports work (a project's src/ and root), then forget them.

    Modules imported from the program's folder are dropped from ``sys.modules`` afterwards,
    so a later in-process lgp_lab run must make them importable itself, as it must for users.
    """
    folder = program.path if program.is_project else program.path.parent
    added = [str(folder)]
    if program.is_project and (folder / "src").is_dir():
        added.insert(0, str(folder / "src"))
    before = set(sys.modules)
    sys.path[:0] = added
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # no __pycache__ left in the repository's corpus
    try:
        yield
    finally:
        sys.dont_write_bytecode = bytecode
        for entry in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file and Path(file).resolve().is_relative_to(folder.resolve()):
                del sys.modules[name]


def _langgraph_json(program: Program) -> dict[str, Any]:
    return json.loads((program.path / "langgraph.json").read_text(encoding="utf-8"))


def _graph_spec(program: Program) -> tuple[Path, str | None]:
    if not program.is_project:
        return program.path, program.attr
    spec = _langgraph_json(program)["graphs"][program.graph_id]
    if isinstance(spec, dict):
        spec = spec["path"]
    file, _, attr = spec.rpartition(":")
    return (program.path / file).resolve(), attr


def load_program_module(program: Program, path: Path | None = None) -> Any:
    """Import the program's graph file fresh, under a unique module name."""
    file = path or _graph_spec(program)[0]
    name = f"lgp_corpus_oracle_{program.id}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    bytecode = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = bytecode
        sys.modules.pop(name, None)
    return module


def graph_of(program: Program, module: Any) -> Any:
    """The graph object its authors run (by attr, else ``graph``/``app``/the only one)."""
    from langgraph.graph import StateGraph
    from langgraph.pregel import Pregel

    attr = _graph_spec(program)[1]
    if attr:
        return getattr(module, attr)
    for name in ("graph", "app"):
        if isinstance(getattr(module, name, None), Pregel | StateGraph):
            return getattr(module, name)
    found = [v for k, v in vars(module).items() if not k.startswith("_") and isinstance(v, Pregel)]
    assert len(found) == 1, f"{program.id}: say which graph ({found})"
    return found[0]


def _store_index(program: Program) -> dict[str, Any] | None:
    """The langgraph.json store index with its embed function loaded (projects only)."""
    if not program.is_project:
        return None
    index = (_langgraph_json(program).get("store") or {}).get("index")
    if not index:
        return None
    embed = index["embed"]
    file, _, attr = embed.rpartition(":")
    module = load_program_module(program, (program.path / file).resolve())
    return {**index, "embed": getattr(module, attr)}


# ---------------------------------------------------------------------------- running


def _config(call: Call, thread_id: str) -> dict[str, Any]:
    config = json.loads(json.dumps(call.config or {}))
    config["configurable"] = {**config.get("configurable", {}), "thread_id": thread_id}
    return config


async def _arun(program: Program, threads: Mapping[str, str]) -> tuple[list[OracleCall], Any]:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.graph import StateGraph
    from langgraph.store.memory import InMemoryStore
    from langgraph.types import Command

    with _importable(program):
        module = load_program_module(program)
        graph = graph_of(program, module)
        index = _store_index(program)
    store = InMemoryStore(index=index) if index else InMemoryStore()
    saver = InMemorySaver()
    if isinstance(graph, StateGraph):
        graph = graph.compile(checkpointer=saver, store=store)
    else:
        graph = graph.copy(update={"checkpointer": saver, "store": store})
    results = []
    for call in program.calls:
        thread_id = threads[call.thread]
        config = _config(call, thread_id)
        value = Command(resume=call.resume) if call.is_resume else call.input
        output = await graph.ainvoke(value, config, context=call.context)
        snapshot = await graph.aget_state(config)
        interrupts = [i.value for i in snapshot.interrupts]
        results.append(
            OracleCall(
                call=call,
                thread_id=thread_id,
                values=snapshot.values,
                output=output,
                status="interrupted" if interrupts else "complete",
                interrupts=interrupts,
            )
        )
    return results, store


def run_oracle(
    program: Program, threads: Mapping[str, str] | None = None
) -> tuple[list[OracleCall], Any]:
    """Run the manifest's calls with plain LangGraph; also return the store used."""
    threads = threads or {c.thread: f"oracle-{program.id}-{c.thread}" for c in program.calls}
    return asyncio.run(_arun(program, threads))


async def store_items(store: Any, check: StoreCheck) -> Any:
    """What ``check`` looks at in ``store`` (any BaseStore), normalised."""
    if check.key is not None:
        item = await store.aget(check.namespace, check.key)
        return None if item is None else normalize(item.value)
    items = await store.asearch(check.namespace, limit=100)
    return sorted(normalize(i.value.get(check.field)) for i in items)
