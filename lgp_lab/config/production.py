"""The sections of running in production: the ``anomaly`` watch of each workflow
version, where its ``alerts`` go, and replica ``auto_scaling`` on Kubernetes."""

from __future__ import annotations

from pydantic import Field, model_validator

from lgp_lab.config.base import Section

__all__ = ["AlertsConfig", "AnomalyConfig", "AutoScalingConfig", "ScaleUpThreshold"]


class AlertsConfig(Section):
    """Where anomaly alerts go: ``webhook_url`` receives Slack-compatible JSON
    (``{"text": ...}``, as Slack, Mattermost and Teams incoming webhooks take)."""

    webhook_url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class AnomalyConfig(Section):
    """The error-rate watch of each workflow version (every replica watches its runs).

    A version whose failed runs exceed ``error_rate_threshold`` (a fraction: 0.10 is
    10%) of at least ``min_runs`` runs in the last ``window_s`` seconds is an anomaly:
    it is alerted, recorded as an incident and, with ``auto_rollback``, replaced by
    the previous good version. ``enabled: null`` (the default) watches in ``hosted``
    and ``production`` and not in ``experiment``, where a failing version is often the
    point; set it true there to have notebook hot reloads rolled back too.
    """

    enabled: bool | None = None
    error_rate_threshold: float = Field(default=0.10, gt=0, le=1)
    window_s: float = Field(default=60.0, gt=0, le=86_400)
    min_runs: int = Field(default=20, ge=1)
    auto_rollback: bool = True


class ScaleUpThreshold(Section):
    """When to add replicas: average CPU above ``cpu_percent`` of the request, or more
    than ``requests_per_second`` per replica (from /metrics, through KEDA)."""

    cpu_percent: int = Field(default=80, ge=1, le=100)
    requests_per_second: float = Field(default=100, gt=0)


class AutoScalingConfig(Section):
    """Replicas on Kubernetes (HorizontalPodAutoscaler + KEDA ScaledObject).

    ``scale_down_delay`` (seconds) is the scale-down stabilisation window;
    ``pending_runs_per_replica`` is the queued runs one replica should carry (KEDA scales
    on the pending-runs count, as LangGraph's own chart scales its queue workers).
    """

    enabled: bool = False
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=10, ge=1)
    scale_up_threshold: ScaleUpThreshold = Field(default_factory=ScaleUpThreshold)
    scale_down_delay: int = Field(default=300, ge=0, le=3600)
    pending_runs_per_replica: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _replicas_in_order(self) -> AutoScalingConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) is below min_replicas "
                f"({self.min_replicas}); raise max_replicas or lower min_replicas"
            )
        return self
