"""Shared fixtures: a real project in a temp dir, a real Lab, the CLI as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

# Fails tests marked `loop_watchdog` (or listed in its WATCHED_MODULES) whose engine loop
# was blocked > 100 ms; see tests/loop_watchdog.py.
# tests/postgres.py: a real PostgreSQL server (`postgres_server`, `postgres_url`).
pytest_plugins = ["loop_watchdog", "postgres"]


def _repo_state_dir() -> dict[str, tuple[int, int]]:
    """The repository's own ``.lgp/``: each file's size and modification time."""
    folder = REPO / ".lgp"
    if not folder.is_dir():
        return {}
    return {
        str(f.relative_to(folder)): (f.stat().st_size, f.stat().st_mtime_ns)
        for f in folder.rglob("*")
        if f.is_file()
    }


@pytest.fixture(autouse=True)
def _repo_state_untouched() -> Iterator[None]:
    """Tests never write into the project's own ``.lgp/`` (a developer's threads live
    there; it is git-ignored, so ``git status`` would not show it): a test that
    creates or changes a file there fails, naming the files."""
    before = _repo_state_dir()
    yield
    after = _repo_state_dir()
    changed = sorted(
        name for name in after.keys() | before.keys() if after.get(name) != before.get(name)
    )
    if changed:
        pytest.fail(f"the test wrote into {REPO / '.lgp'}: {', '.join(changed)}", pytrace=False)


def write(path: Path, text: str) -> Path:
    """Write dedented ``text`` to ``path`` (creating folders)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh project: the repo's workflows/ and config/ copied into a temp dir (the cwd)."""
    root = tmp_path / "proj"
    shutil.copytree(REPO / "workflows", root / "workflows")
    shutil.copytree(REPO / "config", root / "config")
    monkeypatch.chdir(root)
    for name in list(os.environ):
        # Never talk to a real service from tests: drop inherited Langfuse settings too.
        if name.startswith(("LGP_", "LANGFUSE_")):
            monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def lab(project: Path) -> Iterator[object]:
    """A real Lab on the temp project's SQLite file."""
    from lgp_lab import Lab

    with Lab(root=project) as lab:
        yield lab


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for CLI subprocesses (no inherited LGP_* settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_cli(
    *args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``lgp-lab ARGS`` as a real subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "lgp_lab", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
        stdin=subprocess.DEVNULL,
    )
