"""The fields of a run request, checked as the Agent Server defines them.

Every check raises :class:`~lgp_lab.errors.WorkflowInputError` (a 422 over HTTP) naming
the field, the value and the fix, before anything is created.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lgp_lab.errors import WorkflowInputError

__all__ = [
    "CANCEL_ACTIONS",
    "DURABILITY",
    "IF_NOT_EXISTS",
    "MULTITASK_STRATEGIES",
    "ON_COMPLETION",
    "ON_DISCONNECT",
    "QUIET_MODES",
    "STREAM_MODES",
    "check_command",
    "check_config",
    "check_input_fits",
    "check_nodes",
    "choice",
    "fork_of",
    "stream_modes",
    "to_command",
]

STREAM_MODES = (
    "values",
    "updates",
    "messages",
    "messages-tuple",
    "custom",
    "debug",
    "tasks",
    "checkpoints",
    "events",
)
# Modes the JS SDK's useStream may ask for that Python LangGraph has no stream for: accepted
# (a hook tracking them must not break the run) and never sent.
QUIET_MODES = ("tools", "lifecycle")
MULTITASK_STRATEGIES = ("reject", "enqueue", "interrupt", "rollback")
IF_NOT_EXISTS = ("reject", "create")
ON_DISCONNECT = ("cancel", "continue")
ON_COMPLETION = ("delete", "keep")
DURABILITY = ("sync", "async", "exit")
CANCEL_ACTIONS = ("interrupt", "rollback")


def choice(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else a 422 naming ``name``."""
    if value not in allowed:
        raise WorkflowInputError(
            f"{name} must be one of {', '.join(allowed)} (got {value!r})",
            hint=f'e.g. {name}="{allowed[0]}"',
        )
    return value


def stream_modes(stream_mode: str | Iterable[str] | None) -> list[str]:
    """The requested stream modes as a list without repeats (``["values"]`` by default)."""
    if stream_mode is None:
        return ["values"]
    modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
    for mode in modes:
        if mode not in STREAM_MODES and mode not in QUIET_MODES:
            raise WorkflowInputError(
                f"stream_mode {mode!r} is not a stream mode",
                hint=f"use one or more of: {', '.join(STREAM_MODES)}",
            )
    return list(dict.fromkeys(modes)) or ["values"]


def check_command(command: Any, input: Any) -> dict[str, Any] | None:
    """A run's ``command`` (``resume`` / ``goto`` / ``update``), checked against its input."""
    if command is None:
        return None
    if not isinstance(command, dict):
        raise WorkflowInputError(
            f"command must be an object with resume, goto or update (got {command!r})",
            hint='e.g. {"resume": "yes"}',
        )
    unknown = sorted(set(command) - {"resume", "goto", "update"})
    if unknown:
        raise WorkflowInputError(
            f"command has unknown key(s) {', '.join(repr(k) for k in unknown)}",
            hint="a command takes resume, goto and update",
        )
    if input is not None:
        raise WorkflowInputError(
            "a run takes input or command, not both",
            hint="send the resume value as command.resume and leave input out",
        )
    if all(command.get(k) is None for k in ("resume", "goto", "update")):
        raise WorkflowInputError(
            "command needs resume, goto or update",
            hint='answer an interrupt with {"resume": value}',
        )
    return command


def to_command(command: dict[str, Any]) -> Any:
    """The LangGraph ``Command`` for a checked ``command`` (``goto`` targets as ``Send``)."""
    from langgraph.types import Command, Send

    goto = command.get("goto")

    def send(target: Any) -> Any:
        if isinstance(target, dict) and "node" in target:
            return Send(target["node"], target.get("input"))
        return target

    if isinstance(goto, list):
        goto = [send(g) for g in goto]
    elif goto is not None:
        goto = send(goto)
    kwargs: dict[str, Any] = {}
    if command.get("resume") is not None:
        kwargs["resume"] = command["resume"]
    if goto is not None:
        kwargs["goto"] = goto
    if command.get("update") is not None:
        update = command["update"]
        if isinstance(update, list):
            update = [tuple(u) if isinstance(u, list) else u for u in update]
        kwargs["update"] = update
    return Command(**kwargs)


_FORK_KEYS = ("checkpoint_id", "checkpoint_ns", "checkpoint_map")


def fork_of(checkpoint_id: str | None, checkpoint: dict[str, Any] | None) -> dict[str, Any] | None:
    """The root checkpoint a run starts from (``configurable`` keys), or ``None``."""
    fork: dict[str, Any] = {}
    if checkpoint:
        if not isinstance(checkpoint, dict):
            raise WorkflowInputError(
                f"checkpoint must be an object (got {checkpoint!r})",
                hint='e.g. {"checkpoint_id": "1ef..."}',
            )
        fork.update({k: v for k, v in checkpoint.items() if k in _FORK_KEYS and v})
    if checkpoint_id:
        fork["checkpoint_id"] = checkpoint_id
    if fork.get("checkpoint_ns"):
        raise WorkflowInputError(
            f"a run starts from a root checkpoint, not one of subgraph {fork['checkpoint_ns']!r}",
            hint="fork from a checkpoint of the thread itself (checkpoint_ns empty)",
        )
    fork.pop("checkpoint_ns", None)
    return fork or None


# Keys of `configurable` the runs subsystem sets itself.
RESERVED_CONFIGURABLE = ("thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map",
                         "run_id", "graph_id", "assistant_id")  # fmt: skip


def check_config(config: Any) -> dict[str, Any]:
    """A run's ``config``, checked, without the ``configurable`` keys the server sets."""
    from lgp_lab.runtime.inputs import check_run_config

    if isinstance(config, dict) and isinstance(config.get("configurable"), dict):
        # What the server sets itself: clients (RemoteGraph, Studio) echo them back.
        configurable = {
            k: v for k, v in config["configurable"].items() if k not in RESERVED_CONFIGURABLE
        }
        config = {**config, "configurable": configurable}
    return dict(check_run_config(config))


def check_nodes(name: str, nodes: Any) -> None:
    """``interrupt_before`` / ``interrupt_after``: ``"*"`` or a list of node names."""
    if nodes is None or nodes == "*":
        return
    if not isinstance(nodes, list | tuple) or not all(isinstance(n, str) for n in nodes):
        raise WorkflowInputError(
            f'{name} must be "*" or a list of node names (got {nodes!r})',
            hint=f'e.g. {name}=["review"]',
        )


def check_input_fits(workflow: Any, input: Any) -> None:
    """The input fits the workflow's input schema (a graph factory's graph is built per
    run: not checked here)."""
    from lgp_lab.runtime.inputs import check_input
    from lgp_lab.runtime.loader import GraphFactory

    graph = workflow.graph
    if not isinstance(graph, GraphFactory):
        check_input(graph, input, workflow.name)
