"""Anomaly detection and automatic rollback.

Each workflow version's runs (from every front end, through the Lab's run outcomes) go
into a sliding window. When the live version's failed fraction over at least
``min_runs`` runs in the last ``window_s`` seconds exceeds the threshold, the watcher

1. restores the previous good version's graph at once (``auto_rollback``; runs in
   flight finish on the version they started with, as after any reload),
2. logs ``⚠️ Anomaly detected: error_rate = 12.0% (threshold: 10%)``,
3. records an incident in the database (and a Langfuse event when Langfuse is on),
4. POSTs a Slack-compatible alert to ``alerts.webhook_url`` (bounded retries).

This works the same for a hot-reloaded version (``%lgp_watch``, ``serve --watch``): the
watcher remembers the graphs of the versions it has seen, so the previous one can be
put back. Every replica watches its own runs; the replicas of one release (the same
source files) that see the same spike record one incident and send one alert.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import time
import urllib.request
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgp_lab.runtime.outcomes import RunOutcome
from lgp_lab.runtime.runs.ownership import new_owner_id
from lgp_lab.storage.incidents import Incident, incident_store_for

__all__ = [
    "AnomalyWatcher",
    "ErrorRateWindow",
    "alert_payload",
    "anomaly_enabled",
    "anomaly_watcher",
    "awatch_anomalies",
    "watch_anomalies",
]

_log = logging.getLogger("lgp_lab.promotion")
_BY_LAB: weakref.WeakKeyDictionary[Any, AnomalyWatcher] = weakref.WeakKeyDictionary()
_WEBHOOK_ATTEMPTS = 3
_MAX_VERSIONS_KEPT = 5
# Another replica's incident for the same code within this many windows is this one.
_DEDUPE_WINDOWS = 10


class ErrorRateWindow:
    """Run outcomes of one version over the last ``window_s`` seconds."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._events: collections.deque[tuple[float, bool]] = collections.deque()
        self._failures = 0

    def add(self, failed: bool, now: float) -> None:
        """Record one run."""
        self._events.append((now, failed))
        self._failures += failed
        self._trim(now)

    def counts(self, now: float) -> tuple[int, int]:
        """``(failures, runs)`` in the window ending at ``now``."""
        self._trim(now)
        return self._failures, len(self._events)

    def rate(self, now: float) -> float | None:
        """The failed fraction, or ``None`` without runs."""
        failures, runs = self.counts(now)
        return failures / runs if runs else None

    def _trim(self, now: float) -> None:
        horizon = now - self.window_s
        while self._events and self._events[0][0] < horizon:
            _, failed = self._events.popleft()
            self._failures -= failed


@dataclass
class _Tracked:
    """What the watcher knows of one workflow."""

    graphs: collections.OrderedDict[int, Any]  # version -> graph, oldest first
    windows: dict[int, ErrorRateWindow]
    bad: set[int]
    restored_from: dict[int, int]  # live version number -> the version it restored
    pending_after: tuple[Incident, int] | None = None


class AnomalyWatcher:
    """Watches run outcomes of a Lab's workflows; see the module docstring.

    Args:
        lab: The Lab whose workflows are watched and restored.
        clock: Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, lab: Any, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.lab = lab
        self.settings = lab.config.anomaly
        self.alerts = lab.config.alerts
        self.clock = clock
        self._tracked: dict[str, _Tracked] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unsubscribe: Callable[[], None] | None = None
        self.incidents: list[Incident] = []
        self.owner = new_owner_id()  # tells this watcher's incidents from other replicas'
        # Restores the previous *release* when this process holds no earlier version
        # (set by a deployment, e.g. lgp_lab.deploy.local_app): (workflow, version) ->
        # the action taken, as the incident records it, or ``None`` when another
        # replica is already restoring it (that replica records the one incident).
        self.restorer: Callable[[str, int], Awaitable[str | None]] | None = None

    # ------------------------------------------------------------------ wiring

    def start(self, outcomes: Any) -> None:
        """Follow ``outcomes`` (a :class:`RunOutcomes`) and remember the live graphs."""
        for name, wf in self.lab.workflows.items():
            self._remember(name, wf)
        self._unsubscribe = outcomes.subscribe(self.on_outcome)

    def stop(self) -> None:
        """Stop watching (pending alerts still finish)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def adrain(self, timeout: float = 10.0) -> None:
        """Wait (bounded) for the alerts and incident writes scheduled so far."""
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)

    # ------------------------------------------------------------------ detection

    def on_outcome(self, outcome: RunOutcome) -> None:
        """Count one finished run; act when the live version's error rate spikes."""
        wf = self.lab.workflows.get(outcome.workflow)
        if wf is None or outcome.status == "cancelled":
            return
        tracked = self._remember(outcome.workflow, wf)
        now = self.clock()
        window = tracked.windows.setdefault(
            outcome.version, ErrorRateWindow(self.settings.window_s)
        )
        window.add(outcome.failed, now)
        self._follow_up(outcome.workflow, tracked, now)
        live_version = wf.version
        if outcome.version != live_version or outcome.version in tracked.bad:
            return
        failures, runs = window.counts(now)
        if runs < self.settings.min_runs or failures / runs <= self.settings.error_rate_threshold:
            return
        self._anomaly(outcome.workflow, wf, tracked, failures, runs, now)

    def _remember(self, name: str, wf: Any) -> _Tracked:
        tracked = self._tracked.get(name)
        if tracked is None:
            tracked = self._tracked[name] = _Tracked(collections.OrderedDict(), {}, set(), {})
        graph, version = wf.live
        if version not in tracked.graphs:
            tracked.graphs[version] = graph
            while len(tracked.graphs) > _MAX_VERSIONS_KEPT:
                old, _ = tracked.graphs.popitem(last=False)
                tracked.windows.pop(old, None)
        return tracked

    def _anomaly(
        self, name: str, wf: Any, tracked: _Tracked, failures: int, runs: int, now: float
    ) -> None:
        version = wf.version
        rate = failures / runs
        tracked.bad.add(version)
        threshold = self.settings.error_rate_threshold
        message = f"⚠️ Anomaly detected: error_rate = {rate:.1%} (threshold: {threshold:.0%})"
        _log.warning("%s in %s v%s (%s/%s runs)", message, name, version, failures, runs)
        target = self._rollback_target(tracked, version, wf.graph)
        incident = Incident(
            incident_id="", workflow=name, version=version, error_rate=rate,
            threshold=threshold, window_s=self.settings.window_s, runs=runs,
            failures=failures, action="alerted",
        )  # fmt: skip
        if target is None and self.restorer is not None and self.settings.auto_rollback:
            # No earlier version in this process (a fresh replica of a release): the
            # deployment restores its previous release instead.
            incident.action = "rolling back the release"
            self.incidents.append(incident)
            self._spawn(self._restore_then_record(incident, message))
            return
        if target is None:
            incident.action = "alerted (no earlier good version to restore)"
        elif not self.settings.auto_rollback:
            incident.action = f"alerted (anomaly.auto_rollback is off; v{target} is available)"
        else:
            good = tracked.graphs[target]
            origin = tracked.restored_from.get(target, target)
            incident.baseline_rate = tracked.windows.get(target, ErrorRateWindow(1)).rate(now)
            live = wf.swap(good)  # one assignment: new runs get the good graph
            tracked.graphs[live] = good
            tracked.restored_from[live] = origin
            incident.restored_version, incident.live_version = origin, live
            incident.action = f"rolled back to v{origin} (live as v{live})"
            tracked.pending_after = (incident, live)
            _log.warning("Rolled back %s v%s -> v%s (live as v%s)", name, version, origin, live)
        self.incidents.append(incident)
        self._spawn(self._record_and_alert(incident, message))

    def _rollback_target(self, tracked: _Tracked, bad: int, bad_graph: Any) -> int | None:
        """The newest earlier version that is not bad and runs other code than ``bad``."""
        for version in sorted(tracked.graphs, reverse=True):
            origin = tracked.restored_from.get(version, version)
            if version >= bad or version in tracked.bad or origin in tracked.bad:
                continue
            if tracked.graphs[version] is not bad_graph:
                return version
        return None

    def _follow_up(self, name: str, tracked: _Tracked, now: float) -> None:
        """Fill in ``rate_after`` once the restored version has ``min_runs`` runs."""
        if tracked.pending_after is None:
            return
        incident, live = tracked.pending_after
        window = tracked.windows.get(live)
        if window is None:
            return
        failures, runs = window.counts(now)
        if runs < self.settings.min_runs:
            return
        tracked.pending_after = None
        incident.rate_after = failures / runs
        self._spawn(self._update(incident))

    # ------------------------------------------------------------------ actions

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_and_alert(self, incident: Incident, message: str) -> None:
        incident.recorded_by = self.owner
        wf = self.lab.workflows.get(incident.workflow)
        files = list(wf.files) if wf is not None else []
        incident.fingerprint = await asyncio.to_thread(_fingerprint, files)
        try:
            store = incident_store_for(await self.lab.acheckpointer())
            recorded = await store.add(incident, dedupe_s=_DEDUPE_WINDOWS * incident.window_s)
        except Exception as exc:
            incident.incident_id = incident.incident_id or "INC-unrecorded"
            self.lab.warn(f"could not record the incident: {type(exc).__name__}: {exc}")
        else:
            if recorded is None:  # the same code's spike, recorded by another replica
                self._leave_to_another_replica(incident, "the anomaly is already recorded")
                return
        _log.warning("Incident %s", incident.summary())
        await self._langfuse_event(incident)
        url = self.alerts.webhook_url
        if url:
            await asyncio.to_thread(self._post_alert, url, incident, message)

    async def _restore_then_record(self, incident: Incident, message: str) -> None:
        assert self.restorer is not None
        try:
            action = await self.restorer(incident.workflow, incident.version)
        except Exception as exc:
            action = f"alerted (the release rollback failed: {type(exc).__name__}: {exc})"
        if action is None:  # another replica rolls this release back
            self._leave_to_another_replica(incident, "the release is being rolled back")
            return
        incident.action = action
        _log.warning("%s %s v%s: %s", "Release", incident.workflow, incident.version,
                     incident.action)  # fmt: skip
        await self._record_and_alert(incident, message)

    def _leave_to_another_replica(self, incident: Incident, why: str) -> None:
        """Every replica of a bad release sees the same spike: one incident and one
        alert, from the replica that records it (or rolls the release back)."""
        _log.warning("%s v%s: %s by another replica", incident.workflow, incident.version, why)
        with contextlib.suppress(ValueError):
            self.incidents.remove(incident)

    async def _update(self, incident: Incident) -> None:
        with contextlib.suppress(Exception):
            store = incident_store_for(await self.lab.acheckpointer())
            await store.update(incident)

    async def _langfuse_event(self, incident: Incident) -> None:
        """The incident as a Langfuse event, through the client the tracer uses."""
        tracing = await self.lab.atracing()
        exporter = tracing.exporter("langfuse") if tracing is not None else None
        settings = self.lab.config.langfuse_settings() if exporter is not None else None
        if settings is None:
            return
        try:
            from langfuse import get_client

            client = get_client(public_key=settings["public_key"])
            await asyncio.to_thread(
                client.create_event,
                name="lgp-anomaly",
                metadata=incident.to_dict(),
                level="WARNING",
                status_message=incident.summary(),
            )
        except Exception as exc:  # an event is a courtesy: never fail the alert for it
            self.lab.warn(f"the Langfuse anomaly event failed: {type(exc).__name__}: {exc}")

    def _post_alert(self, url: str, incident: Incident, message: str) -> None:
        body = json.dumps(alert_payload(incident, message)).encode()
        delay = 0.5
        for attempt in range(1, _WEBHOOK_ATTEMPTS + 1):
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self.alerts.timeout_s) as response:
                    if response.status < 300:
                        return
            except Exception as exc:
                if attempt == _WEBHOOK_ATTEMPTS:
                    self.lab.warn(f"the alert webhook failed {attempt} times: {exc}")
                    return
            time.sleep(delay)  # in a worker thread: bounded backoff between attempts
            delay *= 2


def _fingerprint(files: list[Any]) -> str | None:
    """A hash of a workflow's source files (``None`` for a graph defined in a notebook)."""
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        try:
            digest.update(Path(path).read_bytes())
        except OSError:
            digest.update(str(path).encode())
    return digest.hexdigest()[:16]


def alert_payload(incident: Incident, message: str) -> dict[str, Any]:
    """The Slack-compatible alert body: ``text`` plus an attachment with the fields."""
    fields = [
        ("Incident", incident.incident_id),
        ("Workflow", f"{incident.workflow} v{incident.version}"),
        ("Error rate", f"{incident.error_rate:.1%} ({incident.failures}/{incident.runs} runs "
                       f"in {incident.window_s:g}s)"),
        ("Threshold", f"{incident.threshold:.0%}"),
        ("Action", incident.action),
    ]  # fmt: skip
    return {
        "text": f"{message} — {incident.workflow} v{incident.version}, {incident.incident_id}: "
        f"{incident.action}",
        "attachments": [
            {
                "color": "danger",
                "fields": [{"title": t, "value": v, "short": True} for t, v in fields],
            }
        ],
    }


def anomaly_enabled(config: Any) -> bool:
    """``anomaly.enabled``, where unset means: on except in ``experiment``."""
    value = config.anomaly.enabled
    return config.environment != "experiment" if value is None else bool(value)


async def awatch_anomalies(lab: Any) -> AnomalyWatcher | None:
    """Start (once per Lab) the watcher when ``anomaly.enabled``; the running one, or
    ``None`` when disabled."""
    if not anomaly_enabled(lab.config):
        return None
    found = _BY_LAB.get(lab)
    if found is not None:
        return found
    from lgp_lab.runtime.outcomes import aoutcomes_for

    outcomes = await aoutcomes_for(lab)
    found = _BY_LAB.get(lab)
    if found is None:
        found = _BY_LAB[lab] = AnomalyWatcher(lab)
        found.start(outcomes)
        lab.on_close(found.stop)
    return found


def watch_anomalies(lab: Any) -> AnomalyWatcher | None:
    """Sync twin of :func:`awatch_anomalies`. Called on the engine loop itself it
    schedules the start and returns ``None`` (it cannot wait on its own loop)."""
    if not anomaly_enabled(lab.config):
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is not None and running is lab.engine.loop:
        running.create_task(awatch_anomalies(lab))
        return None
    return lab.engine.call(awatch_anomalies(lab), timeout=30)


def anomaly_watcher(lab: Any) -> AnomalyWatcher | None:
    """The Lab's running watcher, if one was started."""
    return _BY_LAB.get(lab)
