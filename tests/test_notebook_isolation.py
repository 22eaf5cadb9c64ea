"""The notebooks under nbval leave the repository as they found it (issue 14, item 19).

The quickstart and the session explorer run inside the repository's own project; they
must keep their threads and traces in a temporary database (notebooks/conftest.py) and
remove the files they write, so a user never sees test threads in `lgp-lab traces`.
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import REPO, cli_env

NOTEBOOKS = ["notebooks/quickstart.ipynb", "notebooks/session_explorer.ipynb"]
# The threads the two notebooks create (and delete first, so a rerun would show).
TOUR_THREADS = (
    "quickstart",
    "quickstart-watch",
    "quickstart-graph",
    "explorer-demo",
    "explorer-hitl",
)


def _files(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".ipynb_checkpoints" not in p.parts
    }


def _tour_rows(db: Path) -> dict[str, set[tuple[str, ...]]]:
    """The tour threads' checkpoints and traces in the project's database (read-only)."""
    if not db.is_file():
        return {}
    marks = ", ".join("?" * len(TOUR_THREADS))
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        rows: dict[str, set[tuple[str, ...]]] = {}
        for table, columns in (("checkpoints", "checkpoint_id"), ("lgp_traces", "trace_id")):
            if table in tables:
                query = f"SELECT thread_id, {columns} FROM {table} WHERE thread_id IN ({marks})"
                rows[table] = set(conn.execute(query, TOUR_THREADS))
        return rows
    finally:
        conn.close()


def test_notebooks_use_a_temporary_database_and_leave_no_files() -> None:
    db = REPO / ".lgp" / "checkpoints.sqlite"
    had_lgp = (REPO / ".lgp").exists()
    before = {
        "notebooks": _files(REPO / "notebooks"),
        "workflows": _files(REPO / "workflows"),
        "db": _tour_rows(db),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *NOTEBOOKS, "--nbval-lax", "--nbval-current-env",
         "-q", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=REPO, capture_output=True, text=True, timeout=600, env=cli_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    after = {
        "notebooks": _files(REPO / "notebooks"),
        "workflows": _files(REPO / "workflows"),
        "db": _tour_rows(db),
    }
    assert after["notebooks"] == before["notebooks"]
    assert after["workflows"] == before["workflows"]
    assert after["db"] == before["db"], "the notebooks wrote threads into the project's .lgp/"
    assert (REPO / ".lgp").exists() == had_lgp
