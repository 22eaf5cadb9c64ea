"""What only the PostgreSQL backend has: its settings and their errors, connection
failures that name the server (never the password), the missing extra, replicas starting
together on one fresh database, and writes from several processes at once. Everything
both backends share is in tests/test_backends.py.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, run_cli, write
from postgres import PostgresServer

from lgp_lab.config import CheckpointConfig, load_config
from lgp_lab.errors import ConfigError

SECRET = "s3cret-Pw-not-for-logs"
# Database calls must never hold a Lab's engine loop (tests/loop_watchdog.py).
pytestmark = pytest.mark.loop_watchdog


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _open(settings: CheckpointConfig, **kw: Any) -> Any:
    from lgp_lab.storage.postgres.checkpoints import close_postgres_saver, open_postgres_saver

    async def go() -> Any:
        saver = await open_postgres_saver(settings, **kw)
        await close_postgres_saver(saver)
        return saver

    return asyncio.run(go())


def _error_of(settings: CheckpointConfig, **kw: Any) -> str:
    from lgp_lab.storage.postgres.checkpoints import DatabaseUnavailableError

    with pytest.raises(DatabaseUnavailableError) as err:
        _open(settings, **kw)
    return str(err.value)


# ---------------------------------------------------------------------- settings


def test_settings_are_validated_with_the_fix(project: Path) -> None:
    cases = {
        f"backend: sqlite\n  url: postgresql://u:{SECRET}@db/x": "set backend: postgres",
        "backend: postgres": "url: ${DATABASE_URL}",
        f"backend: postgres\n  url: mysql://u:{SECRET}@db/x": "must be a postgresql:// URL",
        "backend: postgres\n  url: host=db\n  pool_min_size: 5\n  pool_max_size: 2": (
            "pool_min_size (5)"
        ),
        "backend: postgres\n  url: host=db\n  pool_max_size: 0": "pool_max_size",
        "backend: mysql": "checkpoint.backend",
        f"backend: postgres\n  url: postgresql//u:{SECRET}@db/x": "neither a postgresql:// URL",
    }
    for body, expected in cases.items():
        write(project / "config" / "experiment.yaml", f"checkpoint:\n  {body}\n")
        with pytest.raises(ConfigError) as err:
            load_config(start=project)
        text = str(err.value)
        assert expected in text and "experiment.yaml" in text, text
        assert SECRET not in text  # the url's password is masked where the input is shown


def test_production_config_reads_database_url(project: Path, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://app:{SECRET}@db.internal:5433/prod")
    prod = load_config("production", project)
    assert prod.checkpoint.backend == "postgres"
    assert prod.checkpoint.url == f"postgresql://app:{SECRET}@db.internal:5433/prod"
    assert prod.checkpoint.pool_max_size >= prod.checkpoint.pool_min_size >= 1
    monkeypatch.delenv("DATABASE_URL")
    unset = load_config("production", project)  # still loads: opening it is what fails
    assert unset.checkpoint.url == "" and "DATABASE_URL" in unset.missing_env


def test_unset_database_url_is_named_when_opening(project: Path, monkeypatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    prod = load_config("production", project)
    text = _error_of(prod.checkpoint, missing_env=prod.missing_env)
    assert "checkpoint.url is empty (DATABASE_URL is unset)" in text
    assert "fix: export DATABASE_URL=postgresql://" in text


# ---------------------------------------------------------------------- connection errors


def test_unreachable_server_names_host_port_database_never_the_password() -> None:
    port = _free_port()  # nothing listens there
    url = f"postgresql://app:{SECRET}@127.0.0.1:{port}/orders"
    text = _error_of(CheckpointConfig(backend="postgres", url=url, connect_timeout_s=3))
    assert f"app@127.0.0.1:{port}/orders" in text
    assert "fix: start PostgreSQL or fix host/port" in text
    assert SECRET not in text


def test_a_connection_string_that_does_not_parse_is_named_without_its_password() -> None:
    url = f"host=127.0.0.1 user=app password={SECRET} dbname"  # a key without a value
    text = _error_of(CheckpointConfig(backend="postgres", url=url))
    assert "checkpoint.url is not a valid PostgreSQL connection string" in text
    assert "fix: write postgresql://user:password@host:5432/dbname" in text
    assert SECRET not in text


def test_wrong_password_and_missing_database(postgres_server: PostgresServer) -> None:
    port = postgres_server.port
    wrong = f"postgresql://postgres:{SECRET}@127.0.0.1:{port}/postgres"
    text = _error_of(CheckpointConfig(backend="postgres", url=wrong))
    assert "password authentication failed" in text and SECRET not in text
    assert "fix: check the user and password" in text
    missing = postgres_server.url("no_such_db")
    text = _error_of(CheckpointConfig(backend="postgres", url=missing))
    assert '"no_such_db" does not exist' in text and "createdb" in text
    assert postgres_server.password not in text


def test_a_user_who_may_not_create_tables_is_told_the_grant(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """PostgreSQL 15 no longer lets every user create tables in schema public."""
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.execute(f"CREATE ROLE app LOGIN PASSWORD '{SECRET}'")
    try:
        postgres_server.execute(f'GRANT CONNECT ON DATABASE "{database}" TO app')
        url = f"postgresql://app:{SECRET}@127.0.0.1:{postgres_server.port}/{database}"
        text = _error_of(CheckpointConfig(backend="postgres", url=url))
        assert f"setting up the PostgreSQL database at app@127.0.0.1:{postgres_server.port}/" in (
            text
        )
        assert "permission denied for schema public" in text and "GRANT CREATE ON SCHEMA" in text
        assert SECRET not in text
        postgres_server.execute("GRANT CREATE ON SCHEMA public TO app", database=database)
        _open(CheckpointConfig(backend="postgres", url=url))  # now it can
    finally:
        postgres_server.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        postgres_server.execute("DROP ROLE app")


def test_cli_prints_the_error_not_a_traceback(project: Path) -> None:
    port = _free_port()
    write(
        project / "config" / "experiment.yaml",
        f"checkpoint:\n  backend: postgres\n  url: postgresql://app:{SECRET}@127.0.0.1:{port}/x\n",
    )
    done = run_cli("run", "basic_workflow", "--input", '{"input": "hi"}', cwd=project)
    assert done.returncode == 1
    assert f"127.0.0.1:{port}/x" in done.stderr and "Traceback" not in done.stderr
    assert SECRET not in done.stderr + done.stdout


def test_missing_extra_names_the_install(monkeypatch) -> None:
    from lgp_lab.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(MissingExtraError) as err:
        _open(CheckpointConfig(backend="postgres", url="postgresql://x@127.0.0.1/x"))
    assert 'pip install "lgp-lab[postgres]"' in str(err.value)


# ---------------------------------------------------------------------- replicas


def test_replicas_starting_together_migrate_once(postgres_url: str) -> None:
    from lgp_lab.storage import schema

    settings = CheckpointConfig(backend="postgres", url=postgres_url, pool_max_size=2)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            _open(settings)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a replica's start hung"
    assert errors == []
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        versions = conn.execute(f"SELECT v FROM {schema.SCHEMA_TABLE}").fetchall()
        assert versions == [(v,) for v in range(1, len(schema.POSTGRES_MIGRATIONS) + 1)]
        saver_versions = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT v) FROM checkpoint_migrations"
        )
        total, distinct = saver_versions.fetchone()
        assert total == distinct > 0


def test_two_labs_share_threads_and_concurrent_touches_keep_every_key(
    project: Path, postgres_url: str
) -> None:
    from lgp_lab import Lab

    write(
        project / "config" / "experiment.yaml",
        f"checkpoint:\n  backend: postgres\n  url: {postgres_url}\n"
        "observability:\n  console: false\n",
    )
    with Lab(root=project) as one, Lab(root=project) as two:
        one.thread_records.create("shared", metadata={"from": "one"})
        assert two.thread_records.get("shared")["metadata"] == {"from": "one"}
        one.run("basic_workflow", {"input": "my name is Ann"}, thread_id="shared")
        assert two.sessions.thread("shared").workflow == "basic_workflow"

        def touch(lab: Lab, i: int) -> None:
            lab.thread_records.touch("shared", metadata={f"k{i}": i})

        workers = [
            threading.Thread(target=touch, args=(lab, i)) for i, lab in enumerate([one, two] * 10)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        metadata = two.thread_records.get("shared")["metadata"]
        assert {f"k{i}" for i in range(20)} <= set(metadata)
        assert metadata["from"] == "one"


def test_statement_timeout_and_pool_settings_apply(postgres_url: str) -> None:
    from lgp_lab.storage.postgres.checkpoints import close_postgres_saver, open_postgres_saver

    settings = CheckpointConfig(
        backend="postgres",
        url=postgres_url,
        pool_min_size=2,
        pool_max_size=3,
        statement_timeout_ms=1500,
    )

    async def go() -> tuple[Any, dict[str, Any]]:
        saver = await open_postgres_saver(settings)
        try:
            async with saver.conn.connection() as conn:
                shown = await (await conn.execute("SHOW statement_timeout")).fetchone()
            return shown, saver.conn.get_stats()
        finally:
            await close_postgres_saver(saver)

    shown, stats = asyncio.run(go())
    assert next(iter(shown.values())) == "1500ms"
    assert stats["pool_min"] == 2 and stats["pool_max"] == 3


def test_server_fixture_helper_is_usable_outside_pytest(tmp_path: Path) -> None:
    """Benches and multi-process tests start their own server with the same class."""
    import psycopg

    with PostgresServer() as server:
        url = server.create_database("bench")
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0].startswith("bench_")
        data_dir = server._dir
        assert data_dir is not None and data_dir.is_dir()
    assert not data_dir.exists()  # stopped and removed
    env = cli_env()
    assert "PGPASSWORD" not in env or env["PGPASSWORD"] != server.password


# ---------------------------------------------------------------------- run ownership


class _Replica:
    """One replica's run store on its own pool and event loop (as a process has)."""

    def __init__(self, url: str) -> None:
        from lgp_lab.storage import run_store_for
        from lgp_lab.storage.postgres.checkpoints import open_postgres_saver

        self._runner = asyncio.Runner()
        settings = CheckpointConfig(backend="postgres", url=url, pool_max_size=2)
        self.saver = self._runner.run(open_postgres_saver(settings))
        self.runs = run_store_for(self.saver)

    def __call__(self, coro: Any) -> Any:
        return self._runner.run(coro)

    def close(self) -> None:
        from lgp_lab.storage.postgres.checkpoints import close_postgres_saver

        self._runner.run(close_postgres_saver(self.saver))
        self._runner.close()


def _pending(run_id: str, thread_id: str, n: int, owner: str) -> dict[str, Any]:
    import time

    stamp = f"2026-01-01T00:00:{n:02d}+00:00"
    return {
        "run_id": run_id, "thread_id": thread_id, "assistant_id": "a", "status": "pending",
        "multitask_strategy": "enqueue", "attempt": 1, "created_at": stamp,
        "updated_at": stamp, "kwargs": {}, "metadata": {}, "owner": owner,
        "lease_until": time.time() + 60,
    }  # fmt: skip


def test_replicas_claim_a_thread_one_run_at_a_time_and_cancel_across(postgres_url: str) -> None:
    import time

    replicas = [_Replica(postgres_url) for _ in range(4)]
    a, b = replicas[0], replicas[1]
    try:
        for i in range(len(replicas)):
            a(a.runs.put(_pending(f"r{i}", "T", i, f"owner-{i}")))
        barrier = threading.Barrier(len(replicas))
        won: list[str] = []

        def claim(i: int) -> None:
            replica = replicas[i]
            barrier.wait(timeout=30)
            if replica(replica.runs.claim_run(f"r{i}", "T", f"owner-{i}", time.time() + 60)):
                won.append(f"r{i}")

        workers = [threading.Thread(target=claim, args=(i,)) for i in range(len(replicas))]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=60)
        assert won == ["r0"]  # one running run per thread; the oldest goes first
        assert a(a.runs.get(None, "r0"))["status"] == "running"
        assert b(b.runs.claim_run("r1", "T", "owner-1", time.time() + 60)) is False
        assert b(b.runs.claim_run("r1", "T", "intruder", time.time() + 60)) is False

        # a cancel asked on one replica reaches the owner on its next poll or renewal
        assert b(b.runs.request_cancel("r0", "interrupt")) is True
        assert a(a.runs.cancel_requests("owner-0")) == {"r0": "interrupt"}
        later = time.time() + 120
        assert a(a.runs.renew("owner-0", later)) == {"r0": "interrupt"}
        assert abs(a(a.runs.open_runs("T"))[0]["lease_until"] - later) < 0.01

        a(a.runs.set_status("r0", "interrupted", "2026-01-01T00:01:00+00:00"))
        assert b(b.runs.request_cancel("r0", "interrupt")) is False  # no longer open
        assert b(b.runs.claim_run("r1", "T", "owner-1", time.time() + 60)) is True
    finally:
        for replica in replicas:
            replica.close()


def test_store_index_without_pgvector_warns_and_the_store_still_works(
    tmp_path: Path, postgres_url: str, postgres_server: PostgresServer, monkeypatch
) -> None:
    import json

    from lgp_lab import Lab

    has_vector = postgres_server.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
    )
    root = tmp_path / "proj"
    write(root / "g.py", "from langgraph.graph import StateGraph\n")
    write(root / "embed.py", "def embed(texts):\n    return [[0.0, 1.0, 0.0, 1.0]] * len(texts)\n")
    store = {"index": {"dims": 4, "embed": "./embed.py:embed"}}
    write(root / "langgraph.json", json.dumps({"graphs": {}, "store": store}))
    write(
        root / "config" / "experiment.yaml",
        f"checkpoint:\n  backend: postgres\n  url: {postgres_url}\n",
    )
    monkeypatch.chdir(root)
    notes: list[str] = []
    with Lab(root=root) as lab:
        lab.warn = notes.append
        lab.store.put(("docs",), "a", {"text": "hello"})
        found = lab.store.search(("docs",), query="hello")
        assert [item.key for item in found] == ["a"]
        indexed = lab.store.index_config is not None
    if has_vector:
        assert indexed
    else:
        assert not indexed
        assert any("lacks the pgvector extension" in n for n in notes), notes


def test_a_lab_carries_on_after_the_database_restarts(project: Path) -> None:
    """A failover or a restart drops every pooled connection: the next run reconnects."""
    import concurrent.futures

    from lgp_lab import Lab

    with PostgresServer() as server:  # its own server: the session's is not restarted
        url = server.create_database()
        write(
            project / "config" / "experiment.yaml",
            f"checkpoint:\n  backend: postgres\n  url: {url}\n  pool_min_size: 3\n"
            "observability:\n  console: false\n",
        )
        with Lab(root=project) as lab:
            with concurrent.futures.ThreadPoolExecutor(3) as pool:  # several connections
                done = pool.map(
                    lambda i: lab.run("basic_workflow", {"input": "a"}, thread_id=f"t{i}"),
                    range(3),
                )
                assert {r.status for r in done} == {"complete"}
            server.restart()
            with concurrent.futures.ThreadPoolExecutor(3) as pool:  # every stale connection
                done = pool.map(
                    lambda i: lab.run("basic_workflow", {"input": "b"}, thread_id=f"t{i}"),
                    range(3),
                )
                assert {r.status for r in done} == {"complete"}
            again = lab.run("basic_workflow", {"input": "my name is Ann"}, thread_id="t1")
            assert again.status == "complete"
            assert lab.sessions.thread("t1").checkpoints > 4  # the history survived
            assert lab.thread_records.get("t1") is not None


@pytest.mark.parametrize("check", [True, False])
def test_no_call_fails_on_a_stale_connection_after_a_restart(check: bool, monkeypatch) -> None:
    """Every pooled connection dies with a restart: ``pool_check`` (the default) replaces
    each idle one as it leaves the pool; without it the next calls fail, one per
    connection."""
    from lgp_lab.storage import thread_store_for
    from lgp_lab.storage.postgres.checkpoints import (
        _IdleCheck,
        close_postgres_saver,
        open_postgres_saver,
    )

    # However fast the restart, the connections count as idle (what a failover makes).
    monkeypatch.setattr(_IdleCheck, "FRESH_S", 0.0)

    with PostgresServer() as server:
        settings = CheckpointConfig(
            backend="postgres",
            url=server.create_database(),
            pool_min_size=3,
            pool_max_size=3,
            pool_check=check,
        )

        async def go() -> list[Any]:
            saver = await open_postgres_saver(settings)
            try:
                threads = thread_store_for(saver)
                probes = [threads.has_checkpoints(f"t{i}") for i in range(3)]
                assert await asyncio.gather(*probes) == [False] * 3  # 3 connections made
                await asyncio.to_thread(server.restart)
                probes = [threads.has_checkpoints(f"t{i}") for i in range(3)]
                return await asyncio.gather(*probes, return_exceptions=True)
            finally:
                await close_postgres_saver(saver)

        results = asyncio.run(go())
    if check:
        assert results == [False] * 3
    else:  # what pool_check prevents
        assert any(isinstance(r, Exception) for r in results)


def test_connections_in_steady_use_skip_the_check(postgres_url: str, monkeypatch) -> None:
    """The idle check costs a round trip only for a connection that sat in the pool."""
    from psycopg_pool import AsyncConnectionPool

    from lgp_lab.storage import thread_store_for
    from lgp_lab.storage.postgres.checkpoints import close_postgres_saver, open_postgres_saver

    checked: list[Any] = []
    real = AsyncConnectionPool.check_connection

    async def counting(conn: Any) -> None:
        checked.append(conn)
        await real(conn)

    monkeypatch.setattr(AsyncConnectionPool, "check_connection", staticmethod(counting))
    settings = CheckpointConfig(backend="postgres", url=postgres_url, pool_max_size=1)

    async def go() -> None:
        saver = await open_postgres_saver(settings)
        try:
            threads = thread_store_for(saver)
            for i in range(20):  # one connection, back in the pool between calls
                assert await threads.has_checkpoints(f"t{i}") is False
        finally:
            await close_postgres_saver(saver)

    asyncio.run(go())
    assert len(checked) <= 2  # the opening's first hand-outs, not one per call


def test_a_pool_of_one_connection_is_enough(project: Path, postgres_url: str) -> None:
    """Nothing holds one pooled connection while waiting for another (migrations
    included), so ``pool_max_size: 1`` works, only slower."""
    from lgp_lab import Lab

    write(
        project / "config" / "experiment.yaml",
        f"checkpoint:\n  backend: postgres\n  url: {postgres_url}\n  pool_min_size: 1\n"
        "  pool_max_size: 1\n  pool_timeout_s: 20\nobservability:\n  console: false\n",
    )
    with Lab(root=project) as lab:
        assert lab.run("basic_workflow", {"input": "hi"}, thread_id="t").status == "complete"
        lab.store.put(("a",), "k", {"v": 1})
        assert [t["thread_id"] for t in lab.thread_records.search()] == ["t"]
        assert lab.traces.list()[0].thread_id == "t"


def test_psycopg_is_imported_only_by_the_postgres_backend(project: Path) -> None:
    """SQLite users never pay for psycopg: not at import, not on a run, not on close."""
    import subprocess

    code = (
        "import asyncio, sys\n"
        "from lgp_lab import Lab\n"
        "with Lab() as lab:\n"
        "    lab.run('basic_workflow', {'input': 'hi'}, thread_id='t')\n"
        "    lab.store.put(('a',), 'k', {'v': 1})\n"
        "    lab.thread_records.search()\n"
        "    asyncio.run(lab.runs.alist('t'))\n"
        "    assert lab.traces.list()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'langgraph.checkpoint"
        ".postgres', 'langgraph.store.postgres'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
