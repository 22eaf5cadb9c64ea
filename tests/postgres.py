"""A real PostgreSQL server for tests and benches, started from the machine's binaries.

``PostgresServer`` is a context manager: ``initdb`` into a fresh temp dir, ``pg_ctl -w
start`` on a free 127.0.0.1 port (its unix socket in the same dir), password auth over
TCP, and ``pg_ctl stop -m fast`` plus removal of the dir on exit, even after a failure.
``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser``) on a dir chowned to it.

As a pytest plugin (``pytest_plugins = ["postgres"]`` in conftest.py) it gives:

- ``postgres_server``: one server for the whole session, started on first use;
- ``postgres_url``: a fresh, empty database on it for one test (``CREATE DATABASE``), so
  tests never see each other's rows.

Benches and multi-process tests use the class directly::

    with PostgresServer() as pg:
        url = pg.create_database("bench")
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["PostgresServer", "find_bindir"]

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30
_SUPERUSER = "postgres"
_INSTALL_HINT = (
    "install PostgreSQL (Debian: apt-get install postgresql; scripts/test.sh does this), "
    "or put its bin dir on PATH"
)


def find_bindir() -> Path:
    """The directory holding ``initdb``/``pg_ctl``: ``pg_config --bindir``, PATH, or
    ``/usr/lib/postgresql/<newest>/bin`` (Debian keeps them off PATH).

    Raises:
        RuntimeError: No PostgreSQL server binaries on this machine.
    """
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            candidates.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    numbered = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(
        (Path(p) for p in numbered),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise RuntimeError(f"PostgreSQL server binaries (initdb, pg_ctl) not found: {_INSTALL_HINT}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """One throwaway PostgreSQL server (see the module docstring).

    Attributes:
        port: Its TCP port on 127.0.0.1 (chosen free at start).
        password: The superuser's password (random per server).
    """

    def __init__(self, *, bindir: Path | None = None) -> None:
        self._bindir = bindir
        self.port = 0
        self.password = secrets.token_hex(12)
        self._dir: Path | None = None
        self._started = False
        self._counter = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> PostgresServer:
        """initdb + start; on any failure everything made so far is removed."""
        bindir = self._bindir or find_bindir()
        self._dir = Path(tempfile.mkdtemp(prefix="lgp-pg-"))
        try:
            data = self._dir / "data"
            pwfile = self._dir / "pw"
            pwfile.write_text(self.password + "\n", encoding="utf-8")
            if os.geteuid() == 0:  # initdb refuses root: hand the dir to `postgres`
                shutil.chown(self._dir, user=_SUPERUSER, group=None)
                shutil.chown(pwfile, user=_SUPERUSER, group=None)
            self._run(
                bindir / "initdb",
                "-D", str(data), "-U", _SUPERUSER, f"--pwfile={pwfile}",
                "--auth-local=trust", "--auth-host=scram-sha-256",
                "--encoding=UTF8", "--locale=C", "--no-sync",
                timeout=START_TIMEOUT_S,
            )  # fmt: skip
            pwfile.unlink()
            self.port = _free_port()
            # Throwaway data: durability off makes CREATE DATABASE and commits fast.
            options = (
                f"-p {self.port} -h 127.0.0.1 -k {self._dir} -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
            )
            self._pg_ctl = bindir / "pg_ctl"
            self._options = options
            self._ctl("start")
            self._started = True
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown, bounded) and remove its directory."""
        if self._dir is None:
            return
        try:
            if self._started:
                with contextlib.suppress(subprocess.SubprocessError, OSError):
                    self._run(
                        self._pg_ctl, "-D", str(self._dir / "data"), "-m", "fast",
                        "-w", "-t", str(STOP_TIMEOUT_S), "stop",
                        timeout=STOP_TIMEOUT_S + 10,
                    )  # fmt: skip
                self._started = False
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def restart(self) -> None:
        """Restart the server (fast: open connections are dropped), same port and data;
        returns once it accepts connections again."""
        assert self._dir is not None and self._started, "start() first"
        self._ctl("restart", "-m", "fast")

    def _ctl(self, action: str, *extra: str) -> None:
        assert self._dir is not None
        self._run(
            self._pg_ctl, "-D", str(self._dir / "data"), "-l", str(self._dir / "log"),
            "-o", self._options, "-w", "-t", str(START_TIMEOUT_S), *extra, action,
            timeout=START_TIMEOUT_S + 10,
        )  # fmt: skip

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ databases

    def url(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL (password included) for ``database`` over TCP."""
        return f"postgresql://{_SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}_{secrets.token_hex(3)}"
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database of ``url`` (closing its leftover connections)."""
        name = url.rsplit("/", 1)[1]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement (autocommit) and return its rows, if any."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []

    def log(self) -> str:
        """The server log so far (for a failing test's message)."""
        if self._dir is None:
            return ""
        path = self._dir / "log"
        return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""

    # ------------------------------------------------------------------ private

    def _run(self, *argv: Any, timeout: float) -> None:
        cmd = [str(a) for a in argv]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", _SUPERUSER, "--", *cmd]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(str(argv[0])).name} failed (exit {done.returncode}):\n"
                f"{done.stdout}{done.stderr}{self.log()}"
            )


# ---------------------------------------------------------------------- pytest plugin


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the test session (started on first use)."""
    try:
        server = PostgresServer().start()
    except RuntimeError as exc:
        pytest.fail(f"cannot start the test PostgreSQL server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped after the test."""
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            postgres_server.drop_database(url)
