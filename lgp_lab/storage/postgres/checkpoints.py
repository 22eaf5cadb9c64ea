"""PostgreSQL checkpoints: LangGraph's ``AsyncPostgresSaver`` and ``AsyncPostgresStore`` on
one ``psycopg_pool.AsyncConnectionPool``, with our own tables beside them.

The pool's connections are what the savers require (autocommit, ``prepare_threshold=0``
so a transaction-pooling proxy such as PgBouncer works, ``dict_row``). Opening it checks
the server once with a plain connection, so an unreachable or misconfigured database is
one clear error naming host, port, database and user (never the password), not a pool
timeout. Then, under an advisory lock (replicas start together), the saver's migrations
and ours (:mod:`lgp_lab.storage.schema`) run.

psycopg is imported only here and only when the backend is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from lgp_lab.config import CheckpointConfig, redact_url
from lgp_lab.errors import DatabaseUnavailableError, LgpError
from lgp_lab.run_context import current_run

__all__ = [
    "DatabaseUnavailableError",
    "PgDb",
    "close_postgres_saver",
    "close_postgres_store",
    "describe_url",
    "open_postgres_saver",
    "open_postgres_store",
]

_WHAT = "The PostgreSQL backend (checkpoint.backend: postgres)"


def describe_url(url: str) -> str:
    """``user@host:port/dbname`` of a connection string, for messages (no password)."""
    if not url.strip():
        return "(checkpoint.url is empty)"
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(url)
    except Exception:
        return str(redact_url(url))
    host = info.get("host") or info.get("hostaddr") or "localhost"
    port = info.get("port") or "5432"
    where = f"{host}:{port}" if not str(host).startswith("/") else f"socket {host} port {port}"
    user = info.get("user")
    return f"{user + '@' if user else ''}{where}/{info.get('dbname') or user or '(default)'}"


@functools.cache  # one class, made on first use (its base needs psycopg)
def _saver_class() -> type:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    class LabPostgresSaver(AsyncPostgresSaver):
        """``AsyncPostgresSaver`` that reports each root checkpoint it writes to the
        current run (as :class:`~lgp_lab.storage.sqlite.checkpoints.LabSqliteSaver` does)."""

        lgp_backend = "postgres"

        async def aput(self, config, checkpoint, metadata, new_versions):  # type: ignore[override]
            capture = current_run.get()
            saved = await super().aput(config, checkpoint, metadata, new_versions)
            if capture is not None:
                conf = saved.get("configurable", {})
                if conf.get("thread_id") == capture.thread_id and not conf.get("checkpoint_ns"):
                    capture.checkpoint_id = conf.get("checkpoint_id")
            return saved

    return LabPostgresSaver


async def open_postgres_saver(
    settings: CheckpointConfig, *, missing_env: frozenset[str] = frozenset()
) -> Any:
    """Open the pool ``settings`` describe, migrate, and return the checkpointer on it.

    The pool is the saver's ``conn``; our stores use it too (:class:`PgDb`).

    Raises:
        MissingExtraError: psycopg / langgraph-checkpoint-postgres are not installed.
        DatabaseUnavailableError: No URL, or the server cannot be reached or used.
    """
    from lgp_lab.extras import require_extra

    require_extra("psycopg", "postgres", _WHAT)
    require_extra("psycopg_pool", "postgres", _WHAT)
    require_extra("langgraph.checkpoint.postgres", "postgres", _WHAT)
    import importlib

    # psycopg and the saver take ~0.2 s to import: not on the engine loop, which may be
    # serving other work already.
    for module in ("psycopg_pool", "langgraph.checkpoint.postgres.aio"):
        await asyncio.to_thread(importlib.import_module, module)
    url = (settings.url or "").strip()
    if not url:
        unset = sorted(v for v in missing_env if "URL" in v.upper()) or sorted(missing_env)
        because = f" ({', '.join(unset)} is unset)" if unset else ""
        raise DatabaseUnavailableError(
            f"checkpoint.backend is postgres but checkpoint.url is empty{because}",
            hint=f"export {unset[0] if unset else 'DATABASE_URL'}=postgresql://user:password@"
            "host:5432/dbname, or set checkpoint.url in the config",
        )
    await _check_reachable(url, settings)

    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    kwargs: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "connect_timeout": max(1, round(settings.connect_timeout_s)),
    }
    if settings.statement_timeout_ms:
        kwargs["options"] = f"-c statement_timeout={int(settings.statement_timeout_ms)}"
    pool = AsyncConnectionPool(
        conninfo=url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        kwargs=kwargs,
        open=False,
        name="lgp_lab",
        **(_IdleCheck().pool_kwargs() if settings.pool_check else {}),
    )
    try:
        await pool.open(wait=settings.pool_min_size > 0, timeout=settings.connect_timeout_s)
        saver = _saver_class()(pool)
        from lgp_lab.storage.schema import advisory_lock, upgrade_postgres

        # The savers' own migrations insert their version rows unguarded: two
        # replicas starting on a fresh database must take turns. They run on the
        # connection holding the lock, so a pool of one connection suffices.
        async with pool.connection() as conn, advisory_lock(conn):
            await _saver_class()(conn).setup()
            await upgrade_postgres(conn)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            await pool.close(timeout=2.0)
        if isinstance(exc, LgpError | asyncio.CancelledError | KeyboardInterrupt):
            raise
        if isinstance(exc, Exception):
            raise _unavailable(url, exc) from None
        raise
    return saver


async def close_postgres_saver(saver: Any, timeout: float = 5.0) -> None:
    """Close the saver's pool (waiting at most ``timeout`` for connections in use)."""
    pool = getattr(saver, "conn", None)
    if pool is not None:
        await pool.close(timeout=timeout)


async def open_postgres_store(
    saver: Any,
    *,
    settings: dict[str, Any] | None = None,
    project_root: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Any:
    """LangGraph's ``AsyncPostgresStore`` on the saver's pool (``langgraph.json``'s
    ``store`` section honoured: ``index`` needs the pgvector extension, ``ttl``)."""
    import importlib

    # The first import pulls numpy (0.1–0.5 s): never on the engine loop.
    await asyncio.to_thread(importlib.import_module, "langgraph.store.postgres.aio")
    from langgraph.store.postgres.aio import AsyncPostgresStore

    from lgp_lab.storage.schema import advisory_lock
    from lgp_lab.storage.store import _index

    settings = settings or {}
    pool = saver.conn
    index = settings.get("index") or None
    if index is not None and not await _has_pgvector(pool):
        if warn is not None:
            warn(
                "semantic search in the store is off: the PostgreSQL server lacks the "
                "pgvector extension (store.index in langgraph.json); store.search(query=...) "
                "returns items unranked. Install pgvector on the server to turn it on"
            )
        index = None
    if index is not None:
        index = _index(index, project_root or Path.cwd())
    ttl = settings.get("ttl")
    async with pool.connection() as conn, advisory_lock(conn):
        # On the locked connection: a pool of one connection suffices.
        await AsyncPostgresStore(conn, index=index, ttl=ttl).setup()
    store = AsyncPostgresStore(pool, index=index, ttl=ttl)
    if ttl and ttl.get("sweep_interval_minutes"):
        await store.start_ttl_sweeper()
    return store


async def close_postgres_store(store: Any) -> None:
    """Stop the store's TTL sweeper; its pool is the saver's and closes with it."""
    if getattr(store, "ttl_config", None):
        with contextlib.suppress(Exception):
            await store.stop_ttl_sweeper(timeout=1.0)


class _IdleCheck:
    """Test a connection that sat idle in the pool before handing it out (an empty
    query), so after a failover or restart a stale one is replaced rather than failing
    a run. One used within the last ``FRESH_S`` seconds skips the round trip: under load
    (connections coming back every few milliseconds) the check costs nothing, and a
    connection in use while the server went away comes back broken and is dropped by
    the pool anyway."""

    FRESH_S = 1.0

    def __init__(self) -> None:
        import weakref

        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def pool_kwargs(self) -> dict[str, Any]:
        return {"check": self.check, "reset": self.reset}

    async def reset(self, conn: Any) -> None:
        import time

        self._returned[conn] = time.monotonic()

    async def check(self, conn: Any) -> None:
        import time

        from psycopg_pool import AsyncConnectionPool

        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned >= self.FRESH_S:
            await AsyncConnectionPool.check_connection(conn)


class PgDb:
    """Our tables' access to the saver's pool: tuple rows, one connection per call,
    :meth:`transaction` for several statements that must commit together."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self.pool = saver.conn

    async def fetch(self, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
        """The rows of one query."""
        from psycopg.rows import tuple_row

        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=tuple_row)
            await cur.execute(query, params)
            return list(await cur.fetchall())

    async def execute(self, query: str, params: Any = ()) -> int:
        """Run one statement; the number of rows it changed."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(query, params)
            return cur.rowcount

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        """A connection inside one transaction (tuple rows), committed on exit."""
        from psycopg.rows import tuple_row

        async with self.pool.connection() as conn, conn.transaction():
            yield conn.cursor(row_factory=tuple_row)


# ---------------------------------------------------------------------- private


async def _check_reachable(url: str, settings: CheckpointConfig) -> None:
    """One plain connection first: its error says why (a pool only times out)."""
    import psycopg

    try:
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                url, connect_timeout=max(1, round(settings.connect_timeout_s)), autocommit=True
            ),
            settings.connect_timeout_s + 1,
        )
    except psycopg.ProgrammingError as exc:  # the string itself does not parse
        reason = str(redact_url(" ".join(str(exc).split())))
        raise DatabaseUnavailableError(
            f"checkpoint.url is not a valid PostgreSQL connection string: {reason}",
            hint="write postgresql://user:password@host:5432/dbname (or libpq key=value "
            "settings: host=... dbname=... user=...)",
        ) from None
    except (psycopg.Error, OSError, TimeoutError) as exc:
        raise _unavailable(url, exc) from None
    await conn.close()


def _unavailable(url: str, exc: BaseException) -> DatabaseUnavailableError:
    import psycopg
    from psycopg_pool import PoolTimeout

    reason = " ".join(str(exc).split()) or type(exc).__name__
    reason = str(redact_url(reason))
    lowered = reason.lower()
    reaching = isinstance(exc, psycopg.OperationalError | PoolTimeout | OSError)
    if isinstance(exc, psycopg.Error) and not reaching:
        # Connected, but setting up the tables failed (typically a missing privilege).
        return DatabaseUnavailableError(
            f"setting up the PostgreSQL database at {describe_url(url)} failed: {reason}",
            hint="let this user create tables and functions there (GRANT CREATE ON SCHEMA "
            "public TO <user>), or run `lgp-lab db upgrade` once as a user who can",
        )
    if "password" in lowered or "authentication" in lowered:
        hint = "check the user and password in checkpoint.url / DATABASE_URL"
    elif "does not exist" in lowered and "database" in lowered:
        hint = "create the database (createdb NAME) or fix its name in checkpoint.url"
    else:
        hint = (
            "start PostgreSQL or fix host/port in checkpoint.url / DATABASE_URL; "
            "check the server is reachable from here (pg_isready -h HOST -p PORT)"
        )
    return DatabaseUnavailableError(
        f"cannot use the PostgreSQL database at {describe_url(url)}: {reason}", hint=hint
    )


async def _has_pgvector(pool: Any) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 AS ok FROM pg_available_extensions WHERE name = 'vector'"
        )
        return await cur.fetchone() is not None
