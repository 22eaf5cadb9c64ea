"""The sections about watching runs: ``observability`` (traces, Langfuse), ``cost``
and ``metrics`` (``GET /metrics``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lgp_lab.config.base import Section

__all__ = ["CostConfig", "LangfuseConfig", "MetricsConfig", "ObservabilityConfig"]


class LangfuseConfig(Section):
    """Langfuse export. ``enabled: null`` (the default) turns it on when both keys are set,
    here or in ``LANGFUSE_PUBLIC_KEY`` / ``LANGFUSE_SECRET_KEY``; ``false`` keeps it off."""

    enabled: bool | None = None
    public_key: str | None = None
    secret_key: str | None = None
    host: str | None = None
    flush_timeout_s: float = Field(default=2.0, gt=0, le=30)


class ObservabilityConfig(Section):
    """Where run traces go; see the README's Observability section."""

    console: bool | None = None
    local: bool = True
    max_length: int = Field(default=2000, ge=20)
    repository: str | None = None
    langfuse: LangfuseConfig = Field(default_factory=LangfuseConfig)


class CostConfig(Section):
    """How a run's cost is reported in its trace."""

    cost_model: Literal["none", "fixed_subscription", "per_token"] = "none"
    monthly_cost: float = Field(default=0.0, ge=0)


class MetricsConfig(Section):
    """``GET /metrics`` (Prometheus text format). It needs the API key like every other
    route unless ``public`` is true (a scraper inside the cluster without the key)."""

    enabled: bool = True
    public: bool = False
