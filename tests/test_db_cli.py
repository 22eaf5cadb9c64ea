"""``lgp-lab db`` as a real subprocess: prune, upgrade, info and migrate, on a real SQLite
file and a real PostgreSQL server (tests/postgres.py).

The migration is checked the way users see it: a project filled through the official
``langgraph_sdk`` against ``lgp-lab``'s API on SQLite (assistants, thread metadata, runs,
an interrupted thread, store items, traces) is migrated, then served from PostgreSQL and
read back through the same client; the interrupted thread resumes to what plain LangGraph
gives.
"""

from __future__ import annotations

import json
import re
import runpy
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_env, write

from lgp_lab import Lab

LGP = [sys.executable, "-m", "lgp_lab"]
TIMEOUT = 120

ASK = """
import operator
from typing import Annotated
from typing_extensions import TypedDict
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt


class S(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


def a(state: S) -> S:
    return {"steps": ["a"]}


def ask(state: S) -> S:
    return {"steps": [f"answer:{interrupt('ok?')}"]}


builder = StateGraph(S)
builder.add_node("a", a)
builder.add_node("ask", ask)
builder.add_edge(START, "a")
builder.add_edge("a", "ask")
builder.add_edge("ask", END)
graph = builder
"""


def lgp(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LGP, *args],
        cwd=cwd,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


def _sqlite_project(project: Path) -> None:
    write(project / "config" / "experiment.yaml", "observability:\n  console: false\n")
    write(project / "workflows" / "ask.py", ASK)


def _postgres_project(project: Path) -> None:
    write(
        project / "config" / "experiment.yaml",
        "checkpoint:\n  backend: postgres\n  url: ${DATABASE_URL}\n  pool_max_size: 4\n"
        "observability:\n  console: false\n",
    )
    write(project / "workflows" / "ask.py", ASK)


def _fill(project: Path, threads: int = 3, runs: int = 4) -> None:
    with Lab(root=project) as lab:
        for t in range(threads):
            for i in range(runs):
                lab.run("basic_workflow", f"my name is n{i}", thread_id=f"t{t}")


# ---------------------------------------------------------------------- prune


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_prune_dry_run_then_prune_then_nothing_left_to_prune(
    project: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env: dict[str, str] = {}
    if backend == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
        _postgres_project(project)
        # The Lab in this process reads ${DATABASE_URL} too.
        request.getfixturevalue("monkeypatch").setenv("DATABASE_URL", env["DATABASE_URL"])
    else:
        _sqlite_project(project)
    _fill(project)

    dry = lgp("db", "prune", "--keep-latest", "1", "--dry-run", cwd=project, **env)
    assert dry.returncode == 0, dry.stderr
    assert "Dry run: would prune" in dry.stderr
    assert "Would remove" in dry.stderr and "from 3 of 3 threads" in dry.stderr
    # The space it would free, said to be an estimate; not the unchanged size twice.
    assert re.search(r"Would free about \d+(\.\d)? [KM]B \(an estimate", dry.stderr), dry.stderr
    assert "→" not in dry.stderr
    dry_json = lgp("db", "prune", "--keep-latest", "1", "--dry-run", "--json", cwd=project, **env)
    estimate = json.loads(dry_json.stdout)["deleted_bytes"]
    assert 0 < estimate < json.loads(dry_json.stdout)["size_before"]

    done = lgp("db", "prune", "--keep-latest", "1", "--json", cwd=project, **env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["deleted_bytes"] == estimate  # the same rows, summed the same way
    assert report["backend"] == backend and not report["dry_run"]
    assert report["threads_pruned"] == 3 and report["checkpoints"] == 3 * (4 * 4 - 1)
    assert report["size_after"] <= report["size_before"]
    if backend == "sqlite":
        assert report["size_after"] < report["size_before"]
        assert report["vacuum"].startswith("VACUUM")

    again = lgp("db", "prune", "--older-than", "0s", "--thread", "t0", cwd=project, **env)
    assert again.returncode == 0, again.stderr
    assert "Removed 0 checkpoints" in again.stderr
    with Lab(root=project) as lab:
        # The latest state is what it was: the last fact told on each thread.
        result = lab.run("basic_workflow", "what is my name?", thread_id="t1")
        assert "n3" in result.state["output"]


def test_prune_usage_errors_name_the_option_and_the_fix(project: Path) -> None:
    _sqlite_project(project)
    nothing = lgp("db", "prune", cwd=project)
    assert nothing.returncode == 2
    assert "say what to keep: --keep-latest N" in nothing.stderr
    bad_age = lgp("db", "prune", "--older-than", "30x", cwd=project)
    assert bad_age.returncode == 2
    assert "'--older-than'" in bad_age.stderr and "write a number and a unit" in bad_age.stderr
    zero = lgp("db", "prune", "--keep-latest", "0", cwd=project)
    assert zero.returncode == 2 and "--keep-latest" in zero.stderr
    # A project that never ran: nothing is created, nothing to prune.
    empty = lgp("db", "prune", "--keep-latest", "1", cwd=project)
    assert empty.returncode == 0 and "nothing to prune" in empty.stderr
    assert not (project / ".lgp" / "checkpoints.sqlite").exists()
    _fill(project, threads=1, runs=1)
    unknown = lgp("db", "prune", "--keep-latest", "1", "--thread", "nope", cwd=project)
    assert unknown.returncode == 1
    assert "thread 'nope' has no checkpoints" in unknown.stderr


def test_unreachable_postgres_is_named_without_its_password(project: Path) -> None:
    _postgres_project(project)
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://app:s3cret-pw@127.0.0.1:{port}/appdb"
    for args in (
        ("db", "prune", "--keep-latest", "1"),
        ("db", "upgrade"),
        ("db", "migrate", "--to", url),
    ):
        if args[1] == "migrate":
            _fill_sqlite_file(project)
        result = lgp(*args, cwd=project, DATABASE_URL=url)
        assert result.returncode == 1, (args, result.stderr)
        assert f"127.0.0.1:{port}" in result.stderr and "appdb" in result.stderr
        assert "s3cret-pw" not in result.stderr + result.stdout
        assert "fix:" in result.stderr
    bad = lgp("db", "migrate", "--to", "mysql://root:pw@127.0.0.1/db", cwd=project)
    assert bad.returncode == 2 and "not a PostgreSQL URL" in bad.stderr
    assert "pw@" not in bad.stderr


def _fill_sqlite_file(project: Path) -> None:
    """A SQLite checkpoint file for migrate's source (the config names PostgreSQL)."""
    path = project / ".lgp" / "checkpoints.sqlite"
    if path.exists():
        return
    other = project.parent / "source"
    other.mkdir(exist_ok=True)
    write(other / "config" / "experiment.yaml", "observability:\n  console: false\n")
    write(other / "workflows" / "ask.py", ASK)
    with Lab(root=other) as lab:
        lab.run("workflows/ask.py", {"steps": ["x"]}, thread_id="s")
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        sqlite3.connect(other / ".lgp" / "checkpoints.sqlite") as src,
        sqlite3.connect(path) as dst,
    ):
        src.backup(dst)


# ---------------------------------------------------------------------- upgrade, info


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_upgrade_is_idempotent_and_info_reports_the_database(
    project: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    env: dict[str, str] = {}
    if backend == "postgres":
        env["DATABASE_URL"] = request.getfixturevalue("postgres_url")
        _postgres_project(project)
    else:
        _sqlite_project(project)
    first = lgp("db", "upgrade", "--json", cwd=project, **env)
    assert first.returncode == 0, first.stderr
    versions = json.loads(first.stdout)
    assert versions["to_version"] >= 1
    second = lgp("db", "upgrade", cwd=project, **env)
    assert second.returncode == 0 and "is up to date" in second.stderr
    info = lgp("db", "info", "--json", cwd=project, **env)
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert facts["backend"] == backend
    assert facts["schema_version"] == versions["to_version"] and facts["threads"] == 0
    assert facts["bytes"] > 0 and facts["ttl"] is None
    if backend == "postgres":
        assert env["DATABASE_URL"].split("@")[0].split(":")[-1] not in info.stdout


# ---------------------------------------------------------------------- migrate


@pytest.fixture
def filled_sqlite(project: Path) -> Iterator[dict[str, Any]]:
    """The project on SQLite, filled through the official SDK; what the client read."""
    import h11  # noqa: F401  (uvicorn's protocol import, off the engine loop)
    from langgraph_sdk import get_sync_client

    from lgp_lab.server.background import start_server

    _sqlite_project(project)
    with Lab(root=project) as lab:
        handle = start_server(lab, ["basic_workflow", "workflows/ask.py"], port=0)
        try:
            client = get_sync_client(url=handle.url)
            custom = client.assistants.create(
                graph_id="basic_workflow", config={"configurable": {"x": 1}}, name="custom"
            )
            client.assistants.update(custom["assistant_id"], metadata={"v": 2})
            thread = client.threads.create(metadata={"owner": "ann"})
            tid = thread["thread_id"]
            for text in ("my name is Ann", "my city is Oslo"):
                client.runs.wait(tid, "basic_workflow", input={"input": text})
            asked = client.threads.create(thread_id="asked")["thread_id"]
            client.runs.wait(asked, "ask", input={"steps": ["in"]})
            client.store.put_item(["users", "ann"], "prefs", {"theme": "dark"})
            seen = {
                "tid": tid,
                "custom": client.assistants.get(custom["assistant_id"]),
                "versions": len(client.assistants.get_versions(custom["assistant_id"])),
                "thread": client.threads.get(tid),
                "state": client.threads.get_state(tid),
                "history": client.threads.get_history(tid, limit=100),
                "asked": client.threads.get_state(asked),
                "runs": client.runs.list(tid),
                "item": client.store.get_item(["users", "ann"], "prefs"),
                "traces": len(lab.traces.list(limit=100)),
            }
        finally:
            handle.stop()
    yield seen


def test_migrate_copies_everything_and_postgres_serves_it_as_sqlite_did(
    project: Path, filled_sqlite: dict[str, Any], postgres_url: str, monkeypatch: Any
) -> None:
    import h11  # noqa: F401
    from langgraph_sdk import get_sync_client

    from lgp_lab.server.background import start_server

    seen = filled_sqlite
    done = lgp("db", "migrate", "--to", postgres_url, cwd=project)
    assert done.returncode == 0, done.stderr
    table = done.stderr
    for name in ("threads", "checkpoints", "checkpoint_writes", "store", "lgp_threads"):
        assert name in table
    for name in ("lgp_runs", "lgp_assistants", "lgp_assistant_versions", "lgp_traces"):
        assert name in table
    assert "✗" not in table and table.count("✓") >= 10
    password = postgres_url.split("@")[0].rsplit(":", 1)[1]
    assert password not in done.stderr + done.stdout

    # Again: refused (the database has rows now), then merged with --force: no duplicates.
    again = lgp("db", "migrate", "--to", postgres_url, cwd=project)
    assert again.returncode == 1 and "is not empty" in again.stderr and "--force" in again.stderr
    forced = lgp("db", "migrate", "--to", postgres_url, "--force", "--json", cwd=project)
    assert forced.returncode == 0, forced.stderr
    report = json.loads(forced.stdout)
    assert report["ok"] and all(t["target_after"] == t["source"] for t in report["tables"])

    _postgres_project(project)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    with Lab(root=project) as lab:
        assert lab.config.checkpoint.backend == "postgres"
        handle = start_server(lab, ["basic_workflow", "workflows/ask.py"], port=0)
        try:
            client = get_sync_client(url=handle.url)
            tid = seen["tid"]
            custom = client.assistants.get(seen["custom"]["assistant_id"])
            assert {k: custom[k] for k in ("config", "metadata", "name", "version")} == {
                k: seen["custom"][k] for k in ("config", "metadata", "name", "version")
            }
            assert len(client.assistants.get_versions(custom["assistant_id"])) == seen["versions"]
            assert client.threads.get(tid)["metadata"] == seen["thread"]["metadata"]
            assert client.threads.get_state(tid)["values"] == seen["state"]["values"]
            history = client.threads.get_history(tid, limit=100)
            assert [h["checkpoint"]["checkpoint_id"] for h in history] == [
                h["checkpoint"]["checkpoint_id"] for h in seen["history"]
            ]
            assert [(r["run_id"], r["status"]) for r in client.runs.list(tid)] == [
                (r["run_id"], r["status"]) for r in seen["runs"]
            ]
            assert client.store.get_item(["users", "ann"], "prefs")["value"] == {"theme": "dark"}
            asked = client.threads.get_state("asked")
            assert asked["next"] == seen["asked"]["next"] == ["ask"]
            assert [i["value"] for i in asked["interrupts"]] == ["ok?"]
            # The interrupted thread resumes on PostgreSQL as plain LangGraph would.
            final = client.runs.wait("asked", "ask", command={"resume": "yes"})
            # The thread continues: a new run on a migrated thread sees its facts.
            answer = client.runs.wait(tid, "basic_workflow", input={"input": "what is my name?"})
            assert "Ann" in answer["output"]
        finally:
            handle.stop()
        assert len(lab.traces.list(limit=100)) >= seen["traces"] > 0
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    plain = runpy.run_path(str(project / "workflows" / "ask.py"))["builder"].compile(
        checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "o"}}
    plain.invoke({"steps": ["in"]}, config)
    assert final == plain.invoke(Command(resume="yes"), config)
