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
        fingerprint: A hash of the bad version's source files: the same code on every
            replica, whatever version number each process gave it.
        recorded_by: The watcher that recorded it (``host:pid:token``).
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
    fingerprint: str | None = None
    recorded_by: str | None = None

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
            from lgp_lab.storage.postgres.checkpoints import PgDb

            try:
                await PgDb(self.saver).execute(_SCHEMA)
            except Exception as exc:
                # Two replicas creating it at once: PostgreSQL's IF NOT EXISTS is not
                # atomic (a duplicate pg_type row); the other one made it.
                if "duplicate" not in str(exc).lower() and "exists" not in str(exc).lower():
                    raise
        else:
            from lgp_lab.storage.sqlite._calls import write

            await write(self.saver, _SCHEMA)
        self._ready = True

    async def _execute(self, query: str, params: tuple[Any, ...]) -> int:
        await self._setup()
        if self._postgres:
            from lgp_lab.storage.postgres.checkpoints import PgDb

            return await PgDb(self.saver).execute(query.replace("?", "%s"), params)
        from lgp_lab.storage.sqlite._calls import write

        return await write(self.saver, query, params)

    async def _fetch(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        await self._setup()
        if self._postgres:
            from lgp_lab.storage.postgres.checkpoints import PgDb

            return await PgDb(self.saver).fetch(query.replace("?", "%s"), params)
        from lgp_lab.storage.sqlite._calls import fetch

        return await fetch(self.saver, query, params)

    async def add(self, incident: Incident, *, dedupe_s: float | None = None) -> Incident | None:
        """Store ``incident`` under the next free ``INC-<year>-<nnn>`` id (set on it).

        With ``dedupe_s``, nothing is stored and ``None`` is returned when another
        watcher (``recorded_by``) recorded the same anomaly (workflow and
        ``fingerprint``) in the last ``dedupe_s`` seconds: every replica of a bad
        release sees the same spike, and it is one incident. The check and the insert
        are one step (an advisory lock on PostgreSQL, the write lock on SQLite).
        """
        await self._setup()
        for _attempt in range(_MAX_ID_RETRIES):
            try:
                if self._postgres:
                    return await self._add_postgres(incident, dedupe_s)
                return await self._add_sqlite(incident, dedupe_s)
            except Exception as exc:  # another replica took that number: take the next
                if "unique" not in str(exc).lower() and "duplicate" not in str(exc).lower():
                    raise
        raise RuntimeError(f"no free incident id after {_MAX_ID_RETRIES} attempts")

    async def _add_postgres(self, incident: Incident, dedupe_s: float | None) -> Incident | None:
        from lgp_lab.storage.postgres.checkpoints import PgDb

        async with PgDb(self.saver).transaction() as cur:
            await cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('lgp_incidents', 0))")
            await cur.execute(_RECENT.replace("?", "%s"), _recent_params(incident, dedupe_s))
            if _seen_elsewhere(incident, await cur.fetchall(), dedupe_s):
                return None
            await cur.execute(_IDS.replace("?", "%s"), (_prefix(incident) + "%",))
            _number(incident, await cur.fetchall())
            await cur.execute(_INSERT.replace("?", "%s"), _insert_params(incident))
        return incident

    async def _add_sqlite(self, incident: Incident, dedupe_s: float | None) -> Incident | None:
        from lgp_lab.storage.sqlite._calls import transact

        def add(conn: Any) -> Incident | None:
            if not conn.in_transaction:  # the write lock first: check and insert as one
                conn.execute("BEGIN IMMEDIATE")
            recent = conn.execute(_RECENT, _recent_params(incident, dedupe_s)).fetchall()
            if _seen_elsewhere(incident, recent, dedupe_s):
                return None
            _number(incident, conn.execute(_IDS, (_prefix(incident) + "%",)).fetchall())
            conn.execute(_INSERT, _insert_params(incident))
            return incident

        return await transact(self.saver, add)

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


_RECENT = "SELECT detail FROM lgp_incidents WHERE workflow = ? AND created_at >= ?"
_IDS = "SELECT incident_id FROM lgp_incidents WHERE incident_id LIKE ?"
_INSERT = (
    "INSERT INTO lgp_incidents (incident_id, created_at, workflow, version, detail) "
    "VALUES (?, ?, ?, ?, ?)"
)


def _prefix(incident: Incident) -> str:
    return f"INC-{incident.created_at[:4]}-"


def _number(incident: Incident, ids: list[tuple[Any, ...]]) -> None:
    number = 1 + max((int(r[0].rsplit("-", 1)[1]) for r in ids), default=0)
    incident.incident_id = f"{_prefix(incident)}{number:03d}"


def _insert_params(incident: Incident) -> tuple[Any, ...]:
    return (incident.incident_id, incident.created_at, incident.workflow, incident.version,
            json.dumps(incident.to_dict()))  # fmt: skip


def _recent_params(incident: Incident, dedupe_s: float | None) -> tuple[Any, ...]:
    since = dt.datetime.fromisoformat(incident.created_at) - dt.timedelta(seconds=dedupe_s or 0)
    return (incident.workflow, since.isoformat())


def _seen_elsewhere(
    incident: Incident, recent: list[tuple[Any, ...]], dedupe_s: float | None
) -> bool:
    if not dedupe_s or incident.fingerprint is None:
        return False
    for (detail,) in recent:
        other = json.loads(detail) if isinstance(detail, str) else detail
        if other.get("fingerprint") == incident.fingerprint and (
            other.get("recorded_by") != incident.recorded_by
        ):
            return True
    return False


def incident_store_for(saver: Any) -> IncidentStore:
    """The incident table beside ``saver``'s checkpoints."""
    return IncidentStore(saver)
