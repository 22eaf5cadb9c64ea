"""The Lab's hot-reload methods (``watch``/``unwatch``), kept apart from lab.py."""

from __future__ import annotations

import asyncio
from typing import Any

from lgp_lab.errors import WorkflowLoadError
from lgp_lab.runtime.reloader import ReloadCallback, WatchHandle
from lgp_lab.runtime.workflow import Workflow

__all__ = ["WatchMixin"]


class WatchMixin:
    """Hot reload for :class:`~lgp_lab.lab.Lab` (uses its engine loop and workflows)."""

    _watches: dict[str, WatchHandle]
    _call: Any
    _hop: Any
    _on_engine: Any
    aload: Any
    areload: Any
    config: Any
    project: Any

    async def awatch(
        self,
        target: Any,
        *,
        on_reload: ReloadCallback | None = None,
        step_ms: int | None = None,
        debounce_ms: int | None = None,
    ) -> WatchHandle:
        """Hot-reload a file workflow on every save; see :meth:`watch`."""
        from lgp_lab.runtime import reloader

        if not self._on_engine():
            return await self._hop(
                self.awatch(target, on_reload=on_reload, step_ms=step_ms, debounce_ms=debounce_ms)
            )
        workflow = await self.aload(target)
        if workflow.source is None:
            raise WorkflowLoadError(
                f"workflow {workflow.name!r} was defined in a notebook; there is no file to watch",
                hint="move it into a .py file and watch that file",
            )
        handle = self._watches.get(workflow.name)
        if handle is None or handle.stopped or handle.workflow is not workflow:
            if handle is not None:
                handle.stop()
            handle = WatchHandle(workflow, asyncio.get_running_loop())
            handle._on_stop.append(lambda h=handle: self._forget_watch(h))
            handle._start(
                reloader.watch_loop(
                    handle,
                    self.areload,
                    step_ms=step_ms or reloader.DEFAULT_STEP_MS,
                    debounce_ms=debounce_ms or reloader.DEFAULT_DEBOUNCE_MS,
                )
            )
            self._watches[workflow.name] = handle
            # A hot-reloaded version that starts failing is rolled back (anomaly.enabled),
            # in a notebook with no server as much as under `serve --watch`.
            from lgp_lab.runtime.anomaly import awatch_anomalies

            await awatch_anomalies(self)
        if on_reload is not None:
            handle.subscribe(on_reload)
        return handle

    def watch(
        self,
        target: Any,
        *,
        on_reload: ReloadCallback | None = None,
        step_ms: int | None = None,
        debounce_ms: int | None = None,
    ) -> WatchHandle:
        """Hot-reload a file workflow (and its local modules) on every save.

        Each good save is imported and compiled completely, then swapped in one
        assignment (the version increments); a broken save leaves the previous version
        live and is reported to ``on_reload`` with file and line. Threads keep their
        checkpoints across versions. Watching a workflow already watched returns the
        same handle (with ``on_reload`` added).

        Returns:
            A handle whose ``stop()`` ends the watch; the watcher is armed on return.
        """
        handle = self._call(
            self.awatch(target, on_reload=on_reload, step_ms=step_ms, debounce_ms=debounce_ms)
        )
        handle.wait_ready()
        return handle

    @property
    def watches(self) -> dict[str, WatchHandle]:
        """Running watches by workflow name."""
        return {name: h for name, h in self._watches.items() if not h.stopped}

    def unwatch(self, target: Any) -> bool:
        """Stop watching a workflow (a name, path or Workflow); False if it was not watched.

        A path is resolved exactly as :meth:`watch` resolved it (against the working
        directory, then the project root), so the same text stops what it started.
        """
        handle = self.watch_for(target)
        if handle is None:
            return False
        handle.stop()
        return True

    def watch_for(self, target: Any) -> WatchHandle | None:
        """The running watch of ``target`` (a name, path or Workflow), if any."""
        name = target.name if isinstance(target, Workflow) else str(target)
        handle = self.watches.get(name)
        if handle is not None:
            return handle
        if isinstance(target, Workflow):
            return None
        from lgp_lab.errors import LgpError
        from lgp_lab.runtime.registry import resolve_target

        try:
            entry = resolve_target(name, self.config.workflows_dir, project=self.project)
        except LgpError:
            return None
        for candidate in self.watches.values():
            wf = candidate.workflow
            if wf.source == entry.path and (entry.attr is None or entry.attr == wf.attr):
                return candidate
        return None

    async def _settle(self, workflow: Workflow) -> bool:
        handle = self._watches.get(workflow.name)
        if handle is None or handle.stopped:
            return False
        await handle.settle()
        return True

    def _forget_watch(self, handle: WatchHandle) -> None:
        if self._watches.get(handle.workflow.name) is handle:
            del self._watches[handle.workflow.name]
