"""Request and response bodies of the hosted API."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

__all__ = [
    "THREAD_ID_PATTERN",
    "CheckpointPage",
    "ErrorResponse",
    "HealthResponse",
    "InterruptInfo",
    "InvokeRequest",
    "InvokeResponse",
    "RunConfig",
    "SessionResponse",
    "WorkflowInfo",
]

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


class RunConfig(BaseModel):
    """The LangGraph ``RunnableConfig`` of a run (``thread_id`` is set from the body)."""

    model_config = ConfigDict(extra="forbid")

    configurable: dict[str, Any] = Field(
        default_factory=dict,
        description="Values nodes read from config['configurable'] (e.g. user_id, "
        "model_name); thread_id is the request's own field.",
    )
    tags: list[str] = Field(default_factory=list, max_length=100)
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Extra metadata, merged into checkpoint metadata."
    )
    recursion_limit: int | None = Field(default=None, ge=1, le=100_000)
    max_concurrency: int | None = Field(default=None, ge=1, le=10_000)
    run_name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _no_thread_id(self) -> RunConfig:
        for key in ("thread_id", "checkpoint_id", "checkpoint_ns"):
            if key in self.configurable:
                raise ValueError(
                    f"config.configurable.{key} is managed by the server; "
                    + ("send it as the request's thread_id field" if key == "thread_id"
                       else "remove it")
                )  # fmt: skip
        return self

    @field_validator("configurable", "tags", "metadata", "run_name")
    @classmethod
    def _valid_text(cls, value: Any, info: ValidationInfo) -> Any:
        _check_text(value, f"config.{info.field_name}")
        return value

    def to_runnable(self) -> dict[str, Any]:
        """The fields that were set, as a RunnableConfig dict."""
        return self.model_dump(exclude_unset=True)


class InvokeRequest(BaseModel):
    """A run: ``input`` (or ``resume`` for an interrupted thread), optional thread,
    ``context`` and ``config``.

    Exactly one of ``input`` and ``resume`` is needed; ``input: null`` continues an
    existing ``thread_id`` from its last checkpoint, as LangGraph's ``invoke(None)``.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # input (null only to continue a given thread), or resume on a thread; not both
            "anyOf": [
                {
                    "required": ["input"],
                    "not": {"required": ["resume"]},
                    "properties": {"input": {"not": {"type": "null"}}},
                },
                {
                    "required": ["input", "thread_id"],
                    "not": {"required": ["resume"]},
                    "properties": {"thread_id": {"type": "string"}},
                },
                {
                    "required": ["resume", "thread_id"],
                    "not": {"required": ["input"]},
                    "properties": {
                        "resume": {"not": {"type": "null"}},
                        "thread_id": {"type": "string"},
                    },
                },
            ],
            "examples": [
                {"input": "hello", "thread_id": "session-001"},
                {"input": {"messages": [{"role": "user", "content": "hi"}]}},
                {"resume": "yes", "thread_id": "session-001"},
            ],
        },
    )

    input: Any = Field(
        default=None,
        description="State input: an object of state keys (messages as LangGraph accepts "
        "them), or text (a user message on a graph with `messages`). Required unless "
        "`resume` is given.",
    )
    thread_id: str | None = Field(
        default=None,
        pattern=THREAD_ID_PATTERN,
        description="Thread to continue; a new id is generated when absent.",
    )
    resume: Any = Field(
        default=None,
        description="Answer for a thread waiting on interrupt() (needs thread_id); "
        "replaces `input`.",
    )
    context: dict[str, Any] | None = Field(
        default=None, description="The run's context (the graph's context_schema / Runtime)."
    )
    config: RunConfig | None = Field(default=None, description="A LangGraph RunnableConfig.")

    @model_validator(mode="after")
    def _input_or_resume(self) -> InvokeRequest:
        fields = self.model_fields_set
        if "resume" in fields:
            if self.thread_id is None:
                raise ValueError("resume needs the thread_id of the interrupted thread")
            if "input" in fields:
                raise ValueError("send either input or resume, not both")
            if self.resume is None:
                # LangGraph reads Command(resume=None) as "no answer" (and then fails).
                raise ValueError(
                    'resume needs a value for the interrupt, e.g. "yes" or {}; null is no answer'
                )
        elif "input" not in fields or (self.input is None and self.thread_id is None):
            raise ValueError(
                'input is required, e.g. {"input": "hello"}; input null only continues '
                "an existing thread_id"
            )
        return self

    @field_validator("input", "resume", "context")
    @classmethod
    def _valid_text(cls, value: Any, info: ValidationInfo) -> Any:
        _check_text(value, str(info.field_name))
        return value


def _check_text(value: Any, where: str) -> None:
    """Refuse lone UTF-16 surrogates (``"\ud800"``): they cannot be stored or returned."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:  # iterative: deep nesting must not overflow the stack
        item, path = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise ValueError(
                    f"{path} contains a lone UTF-16 surrogate (e.g. \\ud800), which is not "
                    "valid Unicode text; send valid UTF-8 / paired surrogates"
                )
        elif isinstance(item, dict):
            for key, sub in item.items():
                stack.append((key, f"{path} key"))
                stack.append((sub, f"{path}.{key}" if _SURROGATE.search(key) is None else path))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{path}[{i}]") for i, sub in enumerate(item))


_SURROGATE = re.compile("[\ud800-\udfff]")


class InvokeResponse(BaseModel):
    """The outcome of a run."""

    status: Literal["complete", "interrupted"]
    workflow: str
    version: int
    thread_id: str
    checkpoint_id: str | None
    result: dict[str, Any]
    interrupts: list[Any] = Field(default_factory=list)
    duration_ms: float


class WorkflowInfo(BaseModel):
    """A served workflow."""

    name: str
    version: int
    description: str = ""


class HealthResponse(BaseModel):
    """Liveness and what is served."""

    status: Literal["healthy"]
    workflow: str | None = None
    workflows: list[str]
    environment: str
    version: str


class InterruptInfo(BaseModel):
    """A question the thread waits on (``interrupt(value)`` in a node)."""

    id: str
    value: Any = None
    node: str | None = None


class SessionResponse(BaseModel):
    """One thread: counts, times and its latest state."""

    thread_id: str
    workflow: str | None
    workflow_version: int | None
    environment: str | None
    checkpoints: int
    created_at: str | None
    updated_at: str | None
    latest_checkpoint_id: str | None
    status: Literal["idle", "interrupted", "error", "busy"] = Field(
        description="idle (ready for input), interrupted (waiting on `interrupts`: answer "
        "with resume), error (the last run failed), busy (a run is in flight)"
    )
    interrupts: list[InterruptInfo] = Field(default_factory=list)
    latest_state: dict[str, Any]


class CheckpointPage(BaseModel):
    """A page of a thread's checkpoints, newest first."""

    thread_id: str
    checkpoints: list[dict[str, Any]]
    next_before: str | None = Field(
        description="Pass as ?before= for the next (older) page; null at the end."
    )


class ErrorResponse(BaseModel):
    """Every error: a message, the HTTP status and optional detail."""

    error: str
    status: int
    detail: Any = None
