"""The ``checkpoint`` section: where threads (and the store, runs, traces) persist."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lgp_lab.config.base import Section

__all__ = ["CheckpointConfig"]


class CheckpointConfig(Section):
    """Where threads persist.

    ``synchronous`` is SQLite's durability level for the WAL-mode database. ``normal``
    (the default) survives process crashes and keeps the file consistent; only the
    last commits can be lost on a power failure. ``full`` syncs every commit.

    ``backend: postgres`` keeps everything (checkpoints, store, runs, threads,
    assistants, traces) in the PostgreSQL database at ``url`` (``postgresql://user:pw@
    host:5432/db`` or a libpq ``key=value`` string; usually ``${DATABASE_URL}``), through
    one connection pool of ``pool_min_size``..``pool_max_size`` connections per process.
    ``connect_timeout_s`` bounds opening a connection, ``pool_timeout_s`` waiting for a
    free one, ``statement_timeout_ms`` (0 = off) any one statement. ``pool_check``
    tests a connection that sat idle in the pool (1 s or more) before handing it out
    (one empty query), so after a failover or restart no request fails on a stale one.

    ``ttl`` (minutes; default off) deletes threads idle longer than that: a background
    sweep every ``ttl_sweep_interval_minutes`` finds threads whose latest checkpoint and
    thread record are older, at most ``ttl_sweep_limit`` per sweep, and deletes them
    (``ttl_strategy: delete``, as LangGraph's ``checkpointer.ttl``) or prunes each to
    its latest checkpoint (``keep_latest``). Threads with a run queued or in flight are
    left alone. Unset here, ``langgraph.json``'s ``checkpointer.ttl`` applies.
    """

    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".lgp/checkpoints.sqlite"
    url: str | None = None
    synchronous: Literal["off", "normal", "full", "extra"] = "normal"
    busy_timeout_ms: int = Field(default=5000, ge=0)
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    pool_timeout_s: float = Field(default=30.0, gt=0)
    statement_timeout_ms: int = Field(default=0, ge=0)
    pool_check: bool = True
    ttl: float | None = Field(default=None, gt=0)
    ttl_strategy: Literal["delete", "keep_latest"] = "delete"
    ttl_sweep_interval_minutes: float = Field(default=5.0, gt=0)
    ttl_sweep_limit: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _backend_settings_agree(self) -> CheckpointConfig:
        # An empty url (an unset ${DATABASE_URL}) is not refused here, so the file
        # still loads for commands that never open the database; opening it names
        # the variable to set.
        if self.backend == "sqlite" and self.url:
            raise ValueError(
                "checkpoint.url is set but checkpoint.backend is sqlite (which uses "
                "checkpoint.path); set backend: postgres, or remove url"
            )
        if self.backend == "postgres":
            if self.url is None:
                raise ValueError(
                    "checkpoint.backend is postgres but checkpoint.url is missing; add "
                    "url: ${DATABASE_URL} (postgresql://user:password@host:5432/dbname)"
                )
            scheme = self.url.partition("://")[0] if "://" in self.url else None
            if scheme is not None and scheme not in ("postgresql", "postgres"):
                raise ValueError(
                    f"checkpoint.url must be a postgresql:// URL, got a {scheme}:// one; "
                    "write postgresql://user:password@host:5432/dbname"
                )
            if scheme is None and self.url.strip() and "=" not in self.url:
                raise ValueError(
                    "checkpoint.url is neither a postgresql:// URL nor key=value settings; "
                    "write postgresql://user:password@host:5432/dbname"
                )
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"checkpoint.pool_min_size ({self.pool_min_size}) is larger than "
                f"checkpoint.pool_max_size ({self.pool_max_size}); lower min or raise max"
            )
        return self
