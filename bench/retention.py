"""Checkpoint retention: database size before and after pruning 10,000 checkpoints, on a
SQLite file and on a real PostgreSQL server (started here, tests/postgres.py).

A 3-node graph (bench/_graphs.py) runs on ``--threads`` threads until there are
``--checkpoints`` root checkpoints, each step carrying ~1 KB of input, through the
backend's own saver. Then ``lgp_lab.storage.retention.prune`` keeps the latest
checkpoint of each thread (``keep_latest=1``) and gives the space back (SQLite: VACUUM;
PostgreSQL: ``VACUUM FULL`` so the tables' size on disk shows it). Printed per backend:
rows and bytes before/after, the prune's time and its rate.

Baseline in the same run (PostgreSQL): LangGraph's own ``AsyncPostgresSaver.aprune(...,
strategy="keep_latest")`` on an identical second database: the ratio of our prune's time
to it (same rows kept; tests/test_retention.py checks that).

    python bench/retention.py [--checkpoints 10000] [--threads 100] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def postgres_server() -> Any:
    """tests/postgres.py's ``PostgresServer`` (loaded by path: bench/ has a postgres.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "lgp_test_postgres", HERE.parent / "tests" / "postgres.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PostgresServer()


def mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:8.2f} MB"


async def fill(saver: Any, checkpoints: int, threads: int) -> float:
    """Run the graph until ``checkpoints`` root checkpoints exist; seconds taken."""
    from _graphs import make_builder

    graph = make_builder(3).compile(checkpointer=saver)
    per_run = 5  # the input's two, then one per node
    runs = max(1, checkpoints // per_run)
    payload = "x" * 1000
    started = time.perf_counter()
    sem = asyncio.Semaphore(8)

    async def thread(t: int, count: int) -> None:
        for i in range(count):
            async with sem:
                await graph.ainvoke(
                    {"input": f"{payload}{i}"}, {"configurable": {"thread_id": f"t{t}"}}
                )

    base, extra = divmod(runs, threads)
    await asyncio.gather(*(thread(t, base + (t < extra)) for t in range(threads)))
    return time.perf_counter() - started


async def rows(saver: Any) -> int:
    if getattr(saver, "lgp_backend", None) == "postgres":
        async with saver.conn.connection() as conn:
            cur = await conn.execute("SELECT COUNT(*) AS n FROM checkpoints")
            return int((await cur.fetchone())["n"])
    async with saver.conn.execute("SELECT COUNT(*) FROM checkpoints") as cur:
        return int((await cur.fetchone())[0])


async def bench_sqlite(args: argparse.Namespace) -> None:
    from lgp_lab.storage.retention import PrunePolicy, prune
    from lgp_lab.storage.sqlite.checkpoints import open_sqlite_saver

    tmp = Path(tempfile.mkdtemp(prefix="lgp-bench-retention-"))
    try:
        saver = await open_sqlite_saver(tmp / "checkpoints.sqlite")
        took = await fill(saver, args.checkpoints, args.threads)
        before = await rows(saver)
        report = await prune(saver, PrunePolicy(keep_latest=1), vacuum="auto")
        after = await rows(saver)
        await saver.conn.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"SQLite    ({before} checkpoints written in {took:.1f}s)")
    show(report, before, after)


async def bench_postgres(args: argparse.Namespace) -> None:
    from lgp_lab.config import CheckpointConfig
    from lgp_lab.storage.postgres.checkpoints import close_postgres_saver, open_postgres_saver
    from lgp_lab.storage.retention import PrunePolicy, database_size, prune

    with postgres_server() as pg:
        ours_url, theirs_url = pg.create_database("ours"), pg.create_database("theirs")
        savers = [
            await open_postgres_saver(CheckpointConfig(backend="postgres", url=url))
            for url in (ours_url, theirs_url)
        ]
        try:
            ours, theirs = savers
            took = await fill(ours, args.checkpoints, args.threads)
            await fill(theirs, args.checkpoints, args.threads)
            before = await rows(ours)
            # Timed without the vacuum, as aprune is; then both get the same VACUUM FULL.
            report = await prune(ours, PrunePolicy(keep_latest=1), vacuum="none")
            after = await rows(ours)
            threads = [f"t{t}" for t in range(args.threads)]
            theirs_before = await database_size(theirs)
            started = time.perf_counter()
            await theirs.aprune(threads, strategy="keep_latest")
            baseline = time.perf_counter() - started
            for saver in savers:
                async with saver.conn.connection() as conn:
                    await conn.execute(
                        "VACUUM FULL checkpoints, checkpoint_blobs, checkpoint_writes"
                    )
            report.size_after = (await database_size(ours)).total
            report.vacuum = "VACUUM FULL, not timed"
            theirs_after = await database_size(theirs)
        finally:
            for saver in savers:
                await close_postgres_saver(saver)
    print(f"PostgreSQL ({before} checkpoints written in {took:.1f}s)")
    show(report, before, after)
    print(
        f"  LangGraph aprune(keep_latest) on the same rows: {baseline:.2f}s, tables "
        f"{mb(theirs_before.total)} -> {mb(theirs_after.total)}"
    )
    print(f"  ratio lgp_lab prune / LangGraph aprune (time): {report.seconds / baseline:.2f}x")


def show(report: Any, before: int, after: int) -> None:
    print(f"  checkpoints {before} -> {after}; writes -{report.writes}, blobs -{report.blobs}")
    print(f"  size        {mb(report.size_before)} -> {mb(report.size_after)}  ({report.vacuum})")
    ratio = report.size_after / report.size_before if report.size_before else 0
    rate = report.checkpoints / report.seconds if report.seconds else 0
    print(f"  after/before size ratio: {ratio:.3f}")
    timed = "vacuum included" if "not timed" not in report.vacuum else "vacuum not included"
    print(f"  prune took {report.seconds:.2f}s ({rate:,.0f} checkpoints/s, {timed})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="1,000 checkpoints (CI).")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    if args.quick:
        args.checkpoints, args.threads = 1_000, 20
    if args.backend in ("sqlite", "both"):
        asyncio.run(bench_sqlite(args))
    if args.backend in ("postgres", "both"):
        asyncio.run(bench_postgres(args))


if __name__ == "__main__":
    main()
