"""``lgp-lab db``: the project database — prune, upgrade, migrate, info."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from lgp_lab.cli._options import lab_config
from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["db_command"]

_ENV_HELP = "Config environment (default: $LGP_ENV or experiment)."


@click.group("db")
def db_command() -> None:
    """The project database: prune old checkpoints, upgrade its tables, migrate a SQLite
    file to PostgreSQL, show its size."""


# ---------------------------------------------------------------------- prune


@db_command.command("prune")
@click.option(
    "--keep-latest",
    type=click.IntRange(min=1),
    metavar="N",
    help="Keep the newest N checkpoints of each thread (1: only its current state).",
)
@click.option(
    "--older-than",
    metavar="AGE",
    help="Only delete checkpoints older than AGE (30d, 12h, 90m, 2w); each thread keeps "
    "its latest.",
)
@click.option(
    "--thread",
    "-t",
    "threads",
    multiple=True,
    metavar="ID",
    help="Only this thread (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Count what would go; remove nothing.")
@click.option(
    "--vacuum",
    type=click.Choice(["auto", "full", "none"]),
    default="auto",
    show_default=True,
    help="Give the space back afterwards. SQLite: auto shrinks the file (VACUUM once, "
    "then incremental); PostgreSQL: auto is VACUUM (ANALYZE), full is VACUUM FULL "
    "(locks the tables while it rewrites them).",
)
@click.option("--env", "-e", "env", metavar="NAME", help=_ENV_HELP)
@click.option("--json", "json_only", is_flag=True, help="Print the report as JSON.")
def prune_command(
    keep_latest: int | None,
    older_than: str | None,
    threads: tuple[str, ...],
    dry_run: bool,
    vacuum: str,
    env: str | None,
    json_only: bool,
) -> None:
    """Delete old checkpoints (and their writes) so the database stops growing.

    A thread's latest checkpoint is never deleted, nor the pending writes of an
    interrupted thread; threads with a run in flight are skipped. Say what to keep:
    --keep-latest N, --older-than AGE, or both (a checkpoint goes when it is beyond the
    newest N *and* older than AGE).
    """
    from lgp_lab.storage.retention import parse_age

    if keep_latest is None and older_than is None:
        raise click.UsageError(
            "say what to keep: --keep-latest N (e.g. 1: only each thread's current state) "
            "and/or --older-than AGE (e.g. 30d)"
        )
    age = None
    if older_than is not None:
        try:
            age = parse_age(older_than)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--older-than'") from None
    out = Output(json_only=json_only)
    config = lab_config(env, "experiment", out)
    where = _where(config)
    if _absent(config):
        _nothing(out, f"no checkpoint file at {config.checkpoint_path}: nothing to prune")
        return
    kept = _describe_policy(keep_latest, older_than, threads)
    out.status(f"{'Dry run: would prune' if dry_run else 'Pruning'} {where}: {kept}")
    report = _with_lab(
        out,
        config,
        lambda lab: lab.retention.prune(
            keep_latest=keep_latest or 1,
            older_than=age,
            thread_ids=list(dict.fromkeys(threads)) or None,
            dry_run=dry_run,
            vacuum=vacuum,
            progress=None if json_only else _progress(out),
        ),
    )
    if json_only:
        out.result("Prune", report.to_dict())
        return
    _print_prune(out, report)


def _progress(out: Output) -> Any:
    """A status line per tenth of a long prune (nothing for a short one)."""
    shown: set[int] = set()

    def report(done: int, total: int) -> None:
        tenth = done * 10 // total
        if total >= 1000 and tenth > 0 and tenth not in shown and done < total:
            shown.add(tenth)
            out.status(f"  {done}/{total} threads")

    return report


def _describe_policy(keep: int | None, older: str | None, threads: tuple[str, ...]) -> str:
    parts = []
    if keep is not None:
        parts.append(f"keep the newest {keep} per thread")
    if older is not None:
        parts.append(f"delete only checkpoints older than {older}")
    if threads:
        parts.append(f"thread{'s' if len(threads) > 1 else ''} {', '.join(threads)}")
    return "; ".join(parts)


def _print_prune(out: Output, report: Any) -> None:
    verb = "Would remove" if report.dry_run else "Removed"
    blobs = f", {report.blobs} blobs" if report.backend == "postgres" else ""
    out.status(
        f"{verb} {report.checkpoints} checkpoints, {report.writes} writes{blobs} "
        f"from {report.threads_pruned} of {report.threads_scanned} threads"
    )
    if report.skipped_busy:
        out.status(
            f"Skipped {len(report.skipped_busy)} thread(s) with a run queued or in flight: "
            f"{_few(report.skipped_busy)}"
        )
    if report.skipped_delta:
        out.status(
            f"Skipped {len(report.skipped_delta)} thread(s) using a DeltaChannel (their "
            f"values are rebuilt from older checkpoints): {_few(report.skipped_delta)}"
        )
    for thread_id, error in list(report.failed.items())[:5]:
        out.status(f"Failed on thread {thread_id}: {error} (run again to retry)", style="red")
    what = "file" if report.backend == "sqlite" else "checkpoint tables"
    if report.dry_run:
        # Nothing was deleted, so sizes on disk cannot show the gain: the rows can.
        takes = "takes" if report.backend == "sqlite" else "take"
        out.status(
            f"Would free about {_bytes(report.deleted_bytes)} (an estimate: the size of the "
            f"rows it would delete, indexes not counted; the {what} {takes} "
            f"{_bytes(report.size_before)} now)"
        )
    else:
        size = f"{_bytes(report.size_before)} → {_bytes(report.size_after)}"
        done = f" ({report.vacuum})" if report.vacuum and report.vacuum != "none" else ""
        out.status(f"Size of the {what}: {size}{done}")
    if report.failed:
        sys.exit(1)


# ---------------------------------------------------------------------- upgrade


@db_command.command("upgrade")
@click.option("--env", "-e", "env", metavar="NAME", help=_ENV_HELP)
@click.option("--json", "json_only", is_flag=True, help="Print the versions as JSON.")
def upgrade_command(env: str | None, json_only: bool) -> None:
    """Create or upgrade lgp_lab's tables (runs, threads, assistants, traces) and
    LangGraph's (checkpoints, store) in the configured database. Safe to run again;
    servers also do it when they start."""
    out = Output(json_only=json_only)
    config = lab_config(env, "experiment", out)
    where = _where(config)

    async def upgrade(lab: Any) -> dict[str, Any]:
        from lgp_lab.storage.schema import upgrade

        saver = await lab.acheckpointer()  # the savers' own setup() runs on open
        await lab.astore()
        before, after = await upgrade(saver)
        return {"database": where, "from_version": before, "to_version": after}

    result = _with_lab(out, config, lambda lab: lab.engine.call(upgrade(lab)))
    if json_only:
        out.result("Upgrade", result)
        return
    if result["from_version"] == result["to_version"]:
        out.status(f"{where} is up to date (schema version {result['to_version']})")
    else:
        out.status(
            f"Upgraded {where}: schema version {result['from_version']} → {result['to_version']}"
        )


# ---------------------------------------------------------------------- migrate


@db_command.command("migrate")
@click.option(
    "--to",
    "url",
    required=True,
    metavar="URL",
    help="The PostgreSQL database: postgresql://user:password@host:5432/dbname.",
)
@click.option(
    "--from",
    "source",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="The SQLite file (default: the environment's checkpoint.path).",
)
@click.option(
    "--force", is_flag=True, help="Merge into a database that already has rows (else refused)."
)
@click.option("--env", "-e", "env", metavar="NAME", help=_ENV_HELP)
@click.option("--json", "json_only", is_flag=True, help="Print the report as JSON.")
def migrate_command(
    url: str, source: Path | None, force: bool, env: str | None, json_only: bool
) -> None:
    """Copy the SQLite file's threads, checkpoints, writes, store, runs, thread records,
    assistants and traces into PostgreSQL, then count every table on both sides.

    Run it again after an interruption: rows already copied are skipped. Then point the
    production config at the database (checkpoint.backend: postgres, url: ${DATABASE_URL}).
    """
    import asyncio

    from lgp_lab.config import CheckpointConfig, redact_url
    from lgp_lab.storage.migrate import migrate_sqlite_to_postgres

    out = Output(json_only=json_only)
    scheme = url.partition("://")[0] if "://" in url else None
    libpq = scheme is None and "=" in url  # "host=... dbname=..." as libpq takes it
    if scheme not in ("postgresql", "postgres") and not libpq:
        raise click.BadParameter(
            f"{redact_url(url)!r} is not a PostgreSQL URL; write "
            "postgresql://user:password@host:5432/dbname",
            param_hint="'--to'",
        )
    config = lab_config(env, "experiment", out) if source is None else None
    path = source if source is not None else config.checkpoint_path
    target = CheckpointConfig(backend="postgres", url=url)
    from lgp_lab.storage.postgres.checkpoints import describe_url

    out.status(f"Migrating {path} → PostgreSQL {describe_url(url)}")
    last: dict[str, int] = {}

    def progress(table: str, done: int, total: int) -> None:
        # One line per table, and one per ~10% of a big one.
        step = max(1, total // 10)
        if done == total or done // step != last.get(table, -1):
            last[table] = done // step
            if not json_only:
                out.status(f"  {table}: {done}/{total}")

    try:
        report = asyncio.run(
            migrate_sqlite_to_postgres(path, target, force=force, progress=progress)
        )
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    if json_only:
        out.result("Migration", report.to_dict())
        return
    width = max(len(t.table) for t in report.tables)
    out.status(f"{'table':<{width}}  {'in file':>9}  {'in database':>11}")
    for t in report.tables:
        mark = "✓" if t.ok else "✗"
        out.status(f"{t.table:<{width}}  {t.source:>9}  {t.target_after:>11}  {mark}")
    for note in report.notes:
        out.status(f"Note: {note}")
    out.status(
        f"Done in {report.seconds:.1f}s. Next: set checkpoint.backend: postgres and "
        "checkpoint.url: ${DATABASE_URL} in config/production.yaml"
    )


# ---------------------------------------------------------------------- info


@db_command.command("info")
@click.option("--env", "-e", "env", metavar="NAME", help=_ENV_HELP)
@click.option("--json", "json_only", is_flag=True, help="Print the facts as JSON.")
def info_command(env: str | None, json_only: bool) -> None:
    """Where the database is, its size, schema version, thread count and TTL."""
    out = Output(json_only=json_only)
    config = lab_config(env, "experiment", out)
    if _absent(config):
        _nothing(out, f"no checkpoint file at {config.checkpoint_path} yet")
        return

    async def info(lab: Any) -> dict[str, Any]:
        from lgp_lab.storage.schema import schema_version

        saver = await lab.acheckpointer()
        size = await lab.retention.asize()
        ttl = lab.retention.ttl
        return {
            "backend": config.checkpoint.backend,
            "database": _where(config),
            "bytes": size.total,
            "parts": size.parts,
            "schema_version": await schema_version(saver),
            "threads": await lab.sessions.acount_threads(),
            "ttl": None if ttl is None else {**ttl.__dict__},
        }

    facts = _with_lab(out, config, lambda lab: lab.engine.call(info(lab)))
    if json_only:
        out.result("Database", facts)
        return
    out.status(f"Database: {facts['database']} ({facts['backend']})")
    out.status(f"Size: {_bytes(facts['bytes'])}")
    out.status(f"Schema version: {facts['schema_version']}; threads: {facts['threads']}")
    ttl = facts["ttl"]
    if ttl:
        out.status(
            f"TTL: threads idle over {ttl['minutes']:g} min → {ttl['strategy']}, swept every "
            f"{ttl['sweep_interval_minutes']:g} min ({ttl['source']})"
        )
    else:
        out.status("TTL: off (checkpoint.ttl in the config, or checkpointer.ttl in langgraph.json)")


# ---------------------------------------------------------------------- helpers


def _with_lab(out: Output, config: Any, work: Any) -> Any:
    from lgp_lab.lab import Lab

    try:
        with Lab(config=config) as lab:
            return work(lab)
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)


def _where(config: Any) -> str:
    if config.checkpoint.backend == "postgres":
        from lgp_lab.storage.postgres.checkpoints import describe_url

        return f"PostgreSQL {describe_url(config.checkpoint.url or '')}"
    return str(config.checkpoint_path)


def _absent(config: Any) -> bool:
    """A SQLite project that never ran: nothing to open (and none is created)."""
    return config.checkpoint.backend == "sqlite" and not config.checkpoint_path.is_file()


def _nothing(out: Output, why: str) -> None:
    if out.json_only:
        out.result("Result", {"status": "empty", "reason": why})
    else:
        out.status(why.capitalize())


def _few(items: list[str], shown: int = 5) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def _bytes(value: int | None) -> str:
    if value is None:
        return "?"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{value} B"
