"""Repositories under the mesh root, and the checks that keep each call inside one."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["RepositoryError", "list_files", "list_repositories", "resolve_repository", "safe_path"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SKIP_DIRS = {".git", "__pycache__", ".venv", "node_modules", ".lgp"}


class RepositoryError(ValueError):
    """A repository name or a path that would leave the repository; the text says why."""


def list_repositories(root: Path) -> list[str]:
    """Directories directly under ``root`` (symlinks that leave it are not listed)."""
    if not root.is_dir():
        return []
    names = []
    for entry in sorted(root.iterdir()):
        if entry.is_dir() and _NAME.match(entry.name) and _inside(entry.resolve(), root.resolve()):
            names.append(entry.name)
    return names


def resolve_repository(root: Path, name: str) -> Path:
    """The directory of repository ``name``, refusing anything that is not one.

    Raises:
        RepositoryError: ``..``, an absolute or nested path, a symlink leaving the root,
            or an unknown name — each with its own reason.
    """
    if not isinstance(name, str) or not name:
        raise RepositoryError("repository name is empty; pass one of list_repositories()")
    if os.path.isabs(name):
        raise RepositoryError(
            f"repository {name!r} is an absolute path; pass a name under the root"
        )
    if ".." in Path(name).parts or name in (".", ".."):
        raise RepositoryError(f"repository {name!r} tries to leave the mesh root ('..')")
    if "/" in name or "\\" in name:
        raise RepositoryError(
            f"repository {name!r} is a nested path; repositories are the directories directly "
            "under the root"
        )
    if not _NAME.match(name):
        raise RepositoryError(f"repository name {name!r} has characters that are not allowed")
    root = root.resolve()
    path = root / name
    if not path.exists():
        known = ", ".join(list_repositories(root)) or "(none)"
        raise RepositoryError(f"unknown repository {name!r}; known: {known}")
    if not _inside(path.resolve(), root):
        raise RepositoryError(f"repository {name!r} is a symlink that leaves the mesh root")
    if not path.resolve().is_dir():
        raise RepositoryError(f"repository {name!r} is not a directory")
    return path.resolve()


def safe_path(repo: Path, relative: str) -> Path:
    """``relative`` inside ``repo``; refuses anything resolving outside it."""
    candidate = (repo / relative).resolve()
    if not _inside(candidate, repo.resolve()):
        raise RepositoryError(f"path {relative!r} is outside the repository")
    return candidate


def list_files(repo: Path, limit: int = 200) -> list[str]:
    """Files in ``repo`` (relative, sorted), skipping VCS and build folders; bounded."""
    files: list[str] = []
    for dirpath, dirnames, filenames in os.walk(repo):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for filename in sorted(filenames):
            full = Path(dirpath) / filename
            if full.is_symlink() and not _inside(full.resolve(), repo.resolve()):
                continue
            files.append(str(full.relative_to(repo)))
            if len(files) >= limit:
                return files
    return files


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
