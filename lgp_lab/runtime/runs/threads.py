"""The threads runs execute on, as the runs subsystem sees them: whether one exists, its
values, and its record (``busy`` while a run holds it, then how the run left it).

The thread records themselves are :mod:`lgp_lab.runtime.threads`' (``lab.thread_records``);
runs only read and stamp them, and delete a stateless run's temporary thread.
"""

from __future__ import annotations

import contextlib
from typing import Any

from lgp_lab.jsonable import to_jsonable

# Threads remembered as stamped with their graph (skips a write per run).
_STAMPED_MAX = 10_000


class _Threads:
    """The thread part of :class:`~lgp_lab.runtime.runs.Runs` (``_stamped``: what this
    process last wrote to a thread's record)."""

    async def athread_exists(self, thread_id: str) -> bool:
        """Whether ``thread_id`` exists: a run of it here, checkpoints, or a record."""
        if not self._lab._on_engine():
            return await self._lab._hop(self.athread_exists(thread_id))
        return await self._thread_exists(thread_id)

    async def _thread_exists(self, thread_id: str) -> bool:
        records = getattr(self._lab, "thread_records", None)
        if thread_id in self._lanes or (records is not None and records.seen(thread_id)):
            return True
        if await self._has_checkpoints(thread_id):
            return True
        if records is None:
            return False
        summary = getattr(records, "asummary", None)  # no state read, unlike aget
        found = await (summary(thread_id) if summary is not None else records.aget(thread_id))
        return found is not None

    async def _has_checkpoints(self, thread_id: str) -> bool:
        from lgp_lab.storage import thread_store_for

        saver = await self._lab.acheckpointer()
        if self._threads_table is None or self._threads_table.saver is not saver:
            self._threads_table = thread_store_for(saver)
        return await self._threads_table.has_checkpoints(thread_id)

    async def _thread_values(self, thread_id: str) -> Any:
        return to_jsonable(await self._lab.sessions.astate(thread_id))

    async def _touch(self, thread_id: str, **changes: Any) -> None:
        records = getattr(self._lab, "thread_records", None)
        touch = getattr(records, "atouch", None)
        if touch is not None:
            await touch(thread_id, **changes)

    def _stamp(self, thread_id: str, stamp: tuple[str, str, str]) -> None:
        self._stamped[thread_id] = stamp
        self._stamped.move_to_end(thread_id)
        while len(self._stamped) > _STAMPED_MAX:
            self._stamped.popitem(last=False)

    async def _drop_thread(self, thread_id: str) -> None:
        self._stamped.pop(thread_id, None)
        records = getattr(self._lab, "thread_records", None)
        store = await self.astore()
        await store.delete_thread(thread_id)
        # Not through sessions.adelete: its hooks cancel the thread's runs and wait for
        # them — this one included, which is still finishing here.
        if records is not None:
            with contextlib.suppress(Exception):
                await records.aforget(thread_id)
        saver = await self._lab.acheckpointer()
        await saver.adelete_thread(thread_id)
