"""The workflow handle: a name, a source and the live compiled graph with its version."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["Workflow"]


class Workflow:
    """A loaded workflow whose graph can be swapped by a reload.

    The compiled graph and its version live in one tuple replaced by a single
    assignment (:meth:`swap`); a run reads :attr:`live` once at its start, so runs in
    flight finish on the version they started with.

    Attributes:
        name: The workflow's name (registered name or file stem).
        source: The workflow file; ``None`` for a graph defined in a notebook.
        local_modules: Module name -> file, for the workflow and the local helpers it
            imports (what a watcher watches).
        loaded_at: When the live version was loaded (epoch seconds).
        watched: True while a watcher reloads it; runs then skip the staleness check.
    """

    def __init__(
        self,
        name: str,
        source: Path | None,
        graph: Any,
        *,
        local_modules: dict[str, Path] | None = None,
        stamps: dict[Path, tuple[int, int]] | None = None,
        attr: str | None = None,
        origin: Any = None,
    ) -> None:
        self.name = name
        self.source = source
        self.attr = attr
        self.origin = origin
        self.local_modules = dict(local_modules or {})
        self.loaded_at = time.time()
        self.watched = False
        self._live: tuple[Any, int] = (graph, 1)
        self._stamps = stamps if stamps is not None else _stamp_files(self.files)

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, version={self.version}, source={self.source})"

    @property
    def live(self) -> tuple[Any, int]:
        """``(graph, version)``, read together."""
        return self._live

    @property
    def graph(self) -> Any:
        """The live compiled graph."""
        return self._live[0]

    @property
    def version(self) -> int:
        """The live version: 1 on load, +1 on every successful reload."""
        return self._live[1]

    @property
    def files(self) -> list[Path]:
        """The workflow file and its local module files."""
        if self.source is None:
            return []
        return [self.source, *sorted(set(self.local_modules.values()) - {self.source})]

    def swap(
        self,
        graph: Any,
        local_modules: dict[str, Path] | None = None,
        stamps: dict[Path, tuple[int, int]] | None = None,
    ) -> int:
        """Make ``graph`` the live version in one assignment; return its version number.

        ``stamps`` are the files' stamps taken *before* they were read, so a save made
        during the load still counts as a change.
        """
        if local_modules is not None:
            self.local_modules = dict(local_modules)
        self._live = (graph, self._live[1] + 1)
        self.loaded_at = time.time()
        self._stamps = stamps if stamps is not None else _stamp_files(self.files)
        return self._live[1]

    @property
    def target(self) -> str:
        """How to name this workflow to a front end: ``path.py[:attr]`` or its name."""
        if self.source is None:
            return self.name
        return f"{self.source}:{self.attr}" if self.attr else str(self.source)

    def is_stale(self) -> bool:
        """Whether a source file changed on disk since the live version was loaded."""
        return self.source is not None and _stamp_files(self.files) != self._stamps


def _stamp_files(files: list[Path]) -> dict[Path, tuple[int, int]]:
    from lgp_lab.runtime.loader import stamp_files

    return stamp_files(files)
