"""What an orchestrator reads: ``GET /ready`` and ``GET /metrics`` (Prometheus text
from ``prometheus_client``).

Runs by workflow, version and status, run latency, runs in flight and queued, the live
version of each served workflow, and HTTP responses by route template and status. Each
app has its own registry (several apps in one process never collide); runs are counted
from the Lab's run outcomes (:mod:`lgp_lab.runtime.outcomes`), so a run started from
the notebook on the same Lab counts as much as one over HTTP.

The route requires the API key unless ``metrics.public`` is true (a scraper inside the
cluster without the key).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

__all__ = ["LabMetrics", "mount_metrics", "readiness"]

_RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_UNMATCHED = "unmatched"


class LabMetrics:
    """The Prometheus collectors of one served app, fed by a Lab's run outcomes."""

    def __init__(self, lab: Any, served: dict[str, Any]) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.lab = lab
        self.served = served
        self.registry = CollectorRegistry(auto_describe=True)
        self.runs = Counter(
            "lgp_runs", "Finished workflow runs.", ["workflow", "version", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.run_seconds = Histogram(
            "lgp_run_duration_seconds", "Wall time of finished runs.", ["workflow", "version"],
            buckets=_RUN_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.http = Counter(
            "lgp_http_requests", "HTTP responses by route template and status.",
            ["method", "route", "status"], registry=self.registry,
        )  # fmt: skip
        self.http_seconds = Histogram(
            "lgp_http_request_duration_seconds", "HTTP request handling time.",
            ["method", "route"], registry=self.registry,
        )  # fmt: skip
        self.registry.register(_LiveCollector(self))
        self._outcomes: Any = None
        self._unsubscribe: Any = None

    async def aattach(self) -> None:
        """Subscribe to the Lab's run outcomes (once)."""
        if self._outcomes is not None:
            return
        from lgp_lab.runtime.outcomes import aoutcomes_for

        self._outcomes = await aoutcomes_for(self.lab)
        self._unsubscribe = self._outcomes.subscribe(self._on_outcome)

    def attach(self) -> None:
        """:meth:`aattach` from a thread other than the engine loop's."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None and running is self.lab.engine.loop:
            running.create_task(self.aattach())
        else:
            self.lab.engine.call(self.aattach(), timeout=30)

    def _on_outcome(self, outcome: Any) -> None:
        version = str(outcome.version)
        self.runs.labels(outcome.workflow, version, outcome.status).inc()
        self.run_seconds.labels(outcome.workflow, version).observe(outcome.duration_s)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def close(self) -> None:
        """Stop counting runs."""
        if self._unsubscribe is not None:
            self._unsubscribe()


class _LiveCollector:
    """Gauges read at scrape time: runs in flight, runs queued, live versions."""

    def __init__(self, metrics: LabMetrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Any:
        from prometheus_client.core import GaugeMetricFamily

        active = GaugeMetricFamily("lgp_runs_active", "Runs in flight.", labels=["workflow"])
        outcomes = self.metrics._outcomes
        for workflow, count in sorted((outcomes.active() if outcomes else {}).items()):
            active.add_metric([workflow], count)
        yield active
        queued = GaugeMetricFamily("lgp_runs_queued", "Agent API runs waiting for their thread.")
        pending = [r for r in self.metrics.lab.runs.inflight() if r.status == "pending"]
        queued.add_metric([], len(pending))
        yield queued
        live = GaugeMetricFamily(
            "lgp_workflow_version", "The live version of each served workflow.", labels=["workflow"]
        )
        for name, wf in sorted(self.metrics.served.items()):
            live.add_metric([name], wf.version)
        yield live


class _HttpMetrics:
    """ASGI middleware counting responses by route template (bounded label values)."""

    def __init__(self, app: Any, metrics: LabMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", None) or _UNMATCHED
            method = scope.get("method", "?")
            self.metrics.http.labels(method, route, str(status)).inc()
            self.metrics.http_seconds.labels(method, route).observe(time.perf_counter() - started)


_READY_TIMEOUT_S = 3.0


async def readiness(lab: Any, served: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """Whether this replica should get traffic: workflows loaded, database answering
    (one trivial query, bounded), Lab not shutting down."""
    body: dict[str, Any] = {
        "workflows": {name: wf.version for name, wf in sorted(served.items())},
    }
    if lab.closed:
        return False, {**body, "status": "not ready", "error": "shutting down"}
    if not served or any(wf.graph is None for wf in served.values()):
        return False, {**body, "status": "not ready", "error": "no workflow loaded"}
    try:
        await asyncio.wait_for(_ping_database(lab), _READY_TIMEOUT_S)
    except Exception as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        return False, {**body, "status": "not ready", "error": f"database: {reason}"}
    return True, {**body, "status": "ready", "database": "ok"}


async def _ping_database(lab: Any) -> None:
    saver = await lab.acheckpointer()
    if getattr(saver, "lgp_backend", None) == "postgres":
        from lgp_lab.storage.postgres.checkpoints import PgDb

        await PgDb(saver).fetch("SELECT 1")
    else:
        from lgp_lab.storage.sqlite._calls import fetch

        await fetch(saver, "SELECT 1")


def mount_metrics(app: Any, lab: Any, served: dict[str, Any], *, authorize: Any) -> None:
    """Add ``GET /ready`` (the readiness probe: no key, like ``/health``) and ``GET
    /metrics`` (with the HTTP counting middleware) to ``app``.

    Args:
        app: The FastAPI app.
        lab: The Lab whose runs are counted.
        served: The served workflows by name (their live versions are exported).
        authorize: The app's API-key dependency, used unless ``metrics.public``.
    """
    from fastapi import Depends
    from fastapi.responses import Response

    from lgp_lab.extras import MissingExtraError, require_extra
    from lgp_lab.server.responses import SafeJSONResponse

    @app.get("/ready", include_in_schema=False)
    async def ready() -> Any:
        """Readiness: 200 when the workflows are loaded and the database answers, else
        503 (a rolling update waits for it; a load balancer skips the replica)."""
        ok, body = await readiness(lab, served)
        return SafeJSONResponse(body, status_code=200 if ok else 503)

    settings = lab.config.metrics
    if not settings.enabled:
        return
    try:
        require_extra("prometheus_client", "server", "GET /metrics")
    except MissingExtraError as exc:
        message = str(exc)

        @app.get("/metrics", include_in_schema=False)
        async def metrics_missing() -> Response:
            return SafeJSONResponse({"error": message, "status": 501}, status_code=501)

        return
    metrics = LabMetrics(lab, served)
    metrics.attach()
    lab.on_close(metrics.close)
    app.state.metrics = metrics
    app.add_middleware(_HttpMetrics, metrics=metrics)
    dependencies = [] if settings.public else [Depends(authorize)]

    @app.get("/metrics", include_in_schema=False, dependencies=dependencies)
    async def metrics_route() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)
