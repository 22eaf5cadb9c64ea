"""Releases: immutable snapshots of what was deployed, kept in the target's database.

A release holds the project's deployable files (``config/``, ``langgraph.json``,
``workflows/`` and every local module the workflows import), their content hash, the
workflows served and who deployed it from where, so any release can be restored
exactly: :meth:`Release.materialize` writes its files into a directory. Ids read
``rel-0001``, numbered per environment; the table ``lgp_releases`` sits beside the
checkpoints (SQLite or PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
import getpass
import gzip
import hashlib
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lgp_lab.errors import ConfigError

__all__ = ["Release", "ReleaseStore", "pack_release", "read_release_file", "snapshot_files"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS lgp_releases (
    release_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (environment, release_id)
)
"""
_MAX_FILE_BYTES = 1_000_000
_MAX_TOTAL_BYTES = 20_000_000
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".lgp", ".git", "node_modules", ".venv"}
_SUFFIXES = {".py", ".yaml", ".yml", ".json", ".toml", ".txt", ".md", ".csv", ".j2", ".jinja"}
_MAX_ID_RETRIES = 10


@dataclass
class Release:
    """One deployed snapshot.

    Attributes:
        release_id: ``rel-0001``.
        environment: The environment it was deployed to.
        content_hash: sha256 over the files' paths and contents.
        files: Relative path -> text.
        workflows: The workflows served.
        target: ``local`` or ``kubernetes``.
        created_by: ``user@host``.
        created_at: ISO timestamp (UTC).
        note: What the deploy said about it (``rollback of rel-0002``...).
        manifests: For Kubernetes: the rendered YAML applied.
        render_id: For a release recorded in the cluster (its database unreachable from
            where it was rendered): the id of that rendering, so the Job recording it
            records it once however often it runs.
    """

    release_id: str
    environment: str
    content_hash: str
    files: dict[str, str]
    workflows: list[str]
    target: str
    created_by: str = field(default_factory=lambda: f"{_user()}@{socket.gethostname()}")
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    note: str = ""
    manifests: str | None = None
    render_id: str = ""

    def to_dict(self, *, with_files: bool = True) -> dict[str, Any]:
        """JSON-compatible data (without the file texts when ``with_files`` is false)."""
        data = asdict(self)
        if not with_files:
            data["files"] = sorted(self.files)
            data.pop("manifests")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        """The inverse of :meth:`to_dict`."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def materialize(self, directory: Path) -> Path:
        """Write the release's files under ``directory`` (created; must be empty)."""
        directory.mkdir(parents=True, exist_ok=True)
        if any(directory.iterdir()):
            raise ConfigError(
                f"{directory} is not empty; a release is written into a fresh directory",
                hint="remove it, or pick another directory",
            )
        for rel, text in self.files.items():
            path = (directory / rel).resolve()
            if directory.resolve() not in path.parents:
                raise ConfigError(f"release file {rel!r} points outside the release")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return directory

    def summary(self) -> str:
        """One line: id, when, who, hash, workflows, note."""
        when = self.created_at[:19].replace("T", " ")
        note = f"  ({self.note})" if self.note else ""
        return (
            f"{self.release_id}  {when}  {self.created_by}  {self.content_hash[:12]}  "
            f"{self.target}  {', '.join(self.workflows)}{note}"
        )


def snapshot_files(root: Path, extra: Iterable[Path] = ()) -> dict[str, str]:
    """The project's deployable text files under ``root``, relative path -> text.

    ``config/``, ``langgraph.json``, ``workflows/`` and ``extra`` (the workflows' own
    files and local modules, wherever they are under the root).

    Raises:
        ConfigError: A file is outside the project, too large, or not text.
    """
    root = root.resolve()
    candidates: set[Path] = set()
    for name in ("config", "workflows"):
        base = root / name
        if base.is_dir():
            candidates.update(_walk(base))
    if (root / "langgraph.json").is_file():
        candidates.add(root / "langgraph.json")
    for path in extra:
        path = Path(path).resolve()
        if root not in path.parents:
            raise ConfigError(
                f"{path} is imported by a workflow but lies outside the project {root}",
                hint="move it into the project (a release holds the project's files only)",
            )
        candidates.add(path)
    files: dict[str, str] = {}
    total = 0
    for path in sorted(candidates):
        size = path.stat().st_size
        total += size
        if size > _MAX_FILE_BYTES or total > _MAX_TOTAL_BYTES:
            raise ConfigError(
                f"{path} makes the release too large ({size} bytes; limits: "
                f"{_MAX_FILE_BYTES} per file, {_MAX_TOTAL_BYTES} in all)",
                hint="keep data out of workflows/ (put it in object storage or the image)",
            )
        try:
            files[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(
                f"{path} is not UTF-8 text; releases hold source and config only",
                hint="move binary data out of workflows/ (into the image or object storage)",
            ) from None
    return files


def pack_release(release: Release) -> bytes:
    """``release`` as gzipped JSON: what a Kubernetes ConfigMap carries to the cluster."""
    # mtime=0: the same release packs to the same bytes (a re-render changes nothing).
    return gzip.compress(json.dumps(release.to_dict()).encode("utf-8"), mtime=0)


def read_release_file(path: Path) -> Release:
    """The release in ``path`` (:func:`pack_release`'s gzipped JSON, or plain JSON).

    Raises:
        ConfigError: The file cannot be read or holds no release.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the release file {path}: {exc.strerror or exc}",
            hint="pass the file lgp-lab deploy --target kubernetes rendered (the release "
            "ConfigMap's release.json.gz)",
        ) from None
    try:
        if data[:2] == b"\x1f\x8b":  # gzip's magic number
            data = gzip.decompress(data)
        raw = json.loads(data.decode("utf-8"))
        release = Release.from_dict(raw)
    except (OSError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"{path} holds no release ({type(exc).__name__}: {exc})",
            hint="pass the file lgp-lab deploy --target kubernetes rendered (the release "
            "ConfigMap's release.json.gz), unchanged",
        ) from None
    if not release.content_hash or not isinstance(release.files, dict):
        raise ConfigError(
            f"{path} holds no release (no content hash or files)",
            hint="pass the file lgp-lab deploy --target kubernetes rendered, unchanged",
        )
    return release


def content_hash(files: dict[str, str]) -> str:
    """sha256 over the sorted paths and contents."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + files[rel].encode() + b"\0")
    return digest.hexdigest()


def _walk(base: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in filenames:
            path = Path(dirpath) / name
            if path.suffix in _SUFFIXES:
                yield path.resolve()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (a container without /etc/passwd entry)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


class ReleaseStore:
    """Releases in the saver's database (SQLite connection or PostgreSQL pool)."""

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self._postgres = getattr(saver, "lgp_backend", None) == "postgres"
        self._ready = False

    async def _run(self, query: str, params: tuple[Any, ...] = (), *, fetch: bool = False) -> Any:
        if not self._ready:
            self._ready = True
            try:
                await self._run(_SCHEMA)
            except Exception as exc:
                # Created by another process at the same moment (PostgreSQL's IF NOT
                # EXISTS is not atomic): the table is there.
                if "duplicate" not in str(exc).lower() and "exists" not in str(exc).lower():
                    self._ready = False
                    raise
        if self._postgres:
            from lgp_lab.storage.postgres.checkpoints import PgDb

            db, query = PgDb(self.saver), query.replace("?", "%s")
            return await (db.fetch(query, params) if fetch else db.execute(query, params))
        from lgp_lab.storage.sqlite import _calls as calls

        return await (calls.fetch if fetch else calls.write)(self.saver, query, params)

    async def add(self, release: Release) -> Release:
        """Store ``release`` under the environment's next id (set on it)."""
        for _attempt in range(_MAX_ID_RETRIES):
            rows = await self._run(
                "SELECT release_id FROM lgp_releases WHERE environment = ?",
                (release.environment,), fetch=True,
            )  # fmt: skip
            number = 1 + max((int(r[0].rsplit("-", 1)[1]) for r in rows), default=0)
            release.release_id = f"rel-{number:04d}"
            try:
                await self._run(
                    "INSERT INTO lgp_releases (release_id, environment, created_at, "
                    "content_hash, detail) VALUES (?, ?, ?, ?, ?)",
                    (release.release_id, release.environment, release.created_at,
                     release.content_hash, json.dumps(release.to_dict())),
                )  # fmt: skip
                return release
            except Exception as exc:  # another deploy took that id at once: next one
                text = str(exc).lower()
                if "unique" not in text and "duplicate" not in text:
                    raise
        raise RuntimeError(f"no free release id after {_MAX_ID_RETRIES} attempts")

    async def add_unless_current(self, release: Release) -> tuple[Release, bool]:
        """Store ``release`` unless the environment's newest release is already its
        rendering (same ``render_id``): a retried or re-run recording Job records once,
        while manifests applied again after another release are recorded again.

        Returns:
            The stored release (or the newest one) and whether it was added.
        """
        if release.render_id:
            newest = await self.list(release.environment, limit=1)
            if newest and newest[0].render_id == release.render_id:
                return newest[0], False
        return await self.add(release), True

    async def get(self, environment: str, release_id: str) -> Release | None:
        """One release, or ``None``."""
        rows = await self._run(
            "SELECT detail FROM lgp_releases WHERE environment = ? AND release_id = ?",
            (environment, release_id), fetch=True,
        )  # fmt: skip
        return Release.from_dict(json.loads(rows[0][0])) if rows else None

    async def list(self, environment: str, *, limit: int = 50) -> list[Release]:
        """The environment's releases, newest first."""
        rows = await self._run(
            "SELECT detail FROM lgp_releases WHERE environment = ? "
            "ORDER BY created_at DESC, release_id DESC LIMIT ?",
            (environment, limit), fetch=True,
        )  # fmt: skip
        return [Release.from_dict(json.loads(r[0])) for r in rows]
