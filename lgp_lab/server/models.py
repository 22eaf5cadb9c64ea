"""Request and response bodies of the hosted API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "THREAD_ID_PATTERN",
    "CheckpointPage",
    "ErrorResponse",
    "HealthResponse",
    "InvokeRequest",
    "InvokeResponse",
    "SessionResponse",
    "WorkflowInfo",
]

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"


class InvokeRequest(BaseModel):
    """A run: ``input`` (text becomes ``{"input": text}``), optional thread, or a resume."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"input": "test", "thread_id": "session-001"}]},
    )

    input: str | dict[str, Any] | None = Field(
        default=None, description='State input; a string becomes {"input": string}.'
    )
    thread_id: str | None = Field(
        default=None,
        pattern=THREAD_ID_PATTERN,
        description="Thread to continue; a new id is generated when absent.",
    )
    resume: Any = Field(
        default=None, description="Answer for a thread waiting on interrupt() (needs thread_id)."
    )

    @model_validator(mode="after")
    def _input_or_resume(self) -> InvokeRequest:
        if "resume" in self.model_fields_set:
            if self.thread_id is None:
                raise ValueError("resume needs the thread_id of the interrupted thread")
        elif self.input is None:
            raise ValueError('input is required, e.g. {"input": "hello"}')
        return self


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
