"""Incidents: what the anomaly watcher saw and did, kept in the project's database.

One table, ``lgp_incidents``, beside the checkpoints (the SQLite file, or the
PostgreSQL database every replica shares), created on first use. Ids read
``INC-<year>-<nnn>``, numbered per year; replicas that detect at once retry the next
free number (bounded).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Incident", "IncidentStore", "incident_store_for"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lgp_incidents (
    incident_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    workflow TEXT NOT NULL,
    version INTEGER NOT NULL,
    detail TEXT NOT NULL
)
"""
_MAX_ID_RETRIES = 10


@dataclass
class Incident:
    """One anomaly: the version, its error rate against the threshold, and the action.

    Attributes:
        incident_id: ``INC-2026-001``.
        workflow: The workflow's name.
        version: The version whose error rate spiked.
        error_rate: Its failed fraction over the window at detection.
        threshold: The configured threshold.
        window_s: The sliding window, in seconds.
        runs: Runs of that version in the window (``failures`` of them failed).
        baseline_rate: The restored version's error rate before the spike (``None``
            when it had no runs in its last window).
        rate_after: The live version's error rate once it had ``min_runs`` runs after
            the action (filled in later).
        action: ``rolled back to v1 (live as v3)``, or ``alerted`` when there was
            nothing to restore or auto-rollback is off.
        restored_version: The version whose graph is live again, if any.
        live_version: The version number the restored graph is live under.
    """

    incident_id: str
    workflow: str
    version: int
    error_rate: float
    threshold: float
    window_s: float
    runs: int
    failures: int
    action: str
    baseline_rate: float | None = None
    rate_after: float | None = None
    restored_version: int | None = None
    live_version: int | None = None
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The incident as JSON-compatible data."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Incident:
        """The inverse of :meth:`to_dict` (unknown keys ignored)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def summary(self) -> str:
        """One line: id, workflow and version, rate against threshold, action."""
        after = f", after: {self.rate_after:.1%}" if self.rate_after is not None else ""
        return (
            f"{self.incident_id} {self.workflow} v{self.version}: error_rate = "
            f"{self.error_rate:.1%} (threshold: {self.threshold:.0%}, {self.failures}/"
            f"{self.runs} runs in {self.window_s:g}s){after} -> {self.action}"
        )


class IncidentStore:
    """Incidents in the saver's database (SQLite connection or PostgreSQL pool)."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._postgres = getattr(saver, "lgp_backend", None) == "postgres"
        self._ready = False

    async def _setup(self) -> None:
        if self._ready:
            return
        if self._postgres:
            from lgp_lab.checkpointing.postgres import PgDb

            try:
                await PgDb(self.saver).execute(_SCHEMA)
            except Exception as exc:
                # Two replicas creating it at once: PostgreSQL's IF NOT EXISTS is not
                # atomic (a duplicate pg_type row); the other one made it.
                if "duplicate" not in str(exc).lower() and "exists" not in str(exc).lower():
                    raise
        else:
            from lgp_lab.checkpointing._sqlite_calls import write

            await write(self.saver, _SCHEMA)
        self._ready = True

    async def _execute(self, query: str, params: tuple[Any, ...]) -> int:
        await self._setup()
        if self._postgres:
            from lgp_lab.checkpointing.postgres import PgDb

            return await PgDb(self.saver).execute(query.replace("?", "%s"), params)
        from lgp_lab.checkpointing._sqlite_calls import write

        return await write(self.saver, query, params)

    async def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        await self._setup()
        if self._postgres:
            from lgp_lab.checkpointing.postgres import PgDb

            return await PgDb(self.saver).fetch(query.replace("?", "%s"), params)
        from lgp_lab.checkpointing._sqlite_calls import fetch

        return await fetch(self.saver, query, params)

    async def add(self, incident: Incident) -> Incident:
        """Store ``incident`` under the next free ``INC-<year>-<nnn>`` id (set on it)."""
        year = incident.created_at[:4]
        prefix = f"INC-{year}-"
        for _attempt in range(_MAX_ID_RETRIES):
            rows = await self._fetch(
                "SELECT incident_id FROM lgp_incidents WHERE incident_id LIKE ?", (prefix + "%",)
            )
            number = 1 + max((int(r[0].rsplit("-", 1)[1]) for r in rows), default=0)
            incident.incident_id = f"{prefix}{number:03d}"
            try:
                await self._execute(
                    "INSERT INTO lgp_incidents (incident_id, created_at, workflow, version, "
                    "detail) VALUES (?, ?, ?, ?, ?)",
                    (incident.incident_id, incident.created_at, incident.workflow,
                     incident.version, json.dumps(incident.to_dict())),
                )  # fmt: skip
                return incident
            except Exception as exc:  # another replica took that number: take the next
                if "unique" not in str(exc).lower() and "duplicate" not in str(exc).lower():
                    raise
        raise RuntimeError(f"no free incident id after {_MAX_ID_RETRIES} attempts")

    async def update(self, incident: Incident) -> None:
        """Rewrite a stored incident (e.g. its ``rate_after``)."""
        await self._execute(
            "UPDATE lgp_incidents SET detail = ? WHERE incident_id = ?",
            (json.dumps(incident.to_dict()), incident.incident_id),
        )

    async def list(self, *, workflow: str | None = None, limit: int = 50) -> list[Incident]:
        """Incidents, newest first."""
        query = "SELECT detail FROM lgp_incidents"
        params: tuple[Any, ...] = ()
        if workflow:
            query += " WHERE workflow = ?"
            params = (workflow,)
        query += " ORDER BY created_at DESC, incident_id DESC LIMIT ?"
        rows = await self._fetch(query, (*params, limit))
        return [Incident.from_dict(json.loads(r[0])) for r in rows]


def incident_store_for(saver: Any) -> IncidentStore:
    """The incident table beside ``saver``'s checkpoints."""
    return IncidentStore(saver)
