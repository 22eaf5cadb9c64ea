"""The store handed to workflows before it is open: it opens on its first use.

Opening the SQLite store imports ``langgraph.store.sqlite``, which imports sqlite-vec
and with it numpy (0.1-0.5 s), and creates or checks its tables. Most workflows never
touch the store, so a server or a ``lgp-lab run`` should not pay that before its
first request: graphs are compiled with a :class:`LazyStore`, and the Lab's real store
(``Lab.astore``) is opened the first time a node reads or writes it. Every method is
delegated to that real store, so nodes see the same behaviour (TTL, batching, errors)
and the same data as before.

Only used when ``langgraph.json`` has no ``store`` section: a configured index or TTL
opens the store at load, so its configuration errors still show at start-up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from langgraph.store.base import BaseStore

__all__ = ["LazyStore"]


class LazyStore(BaseStore):
    """A ``BaseStore`` that opens ``open_store()`` (on the engine loop) on first use.

    Args:
        open_store: Returns the real store (the Lab's ``astore``); idempotent.
        call: Runs a coroutine on the engine loop from another thread (``Lab._call``).
        in_loop: Whether the caller is on the engine loop (``Lab._on_engine``).
    """

    # The stores lgp_lab opens (SQLite, PostgreSQL) take per-item TTLs.
    supports_ttl = True

    def __init__(
        self,
        open_store: Callable[[], Awaitable[BaseStore]],
        call: Callable[[Awaitable[Any]], Any],
        in_loop: Callable[[], bool],
    ) -> None:
        self._open_store = open_store
        self._call = call
        self._in_loop = in_loop
        self._real: BaseStore | None = None

    def __repr__(self) -> str:
        state = "open" if self._real is not None else "not opened yet"
        return f"<LazyStore {state}: {self._real!r}>"

    async def _aopen(self) -> BaseStore:
        if self._real is None:
            self._real = await self._open_store()
        return self._real

    def _open(self) -> BaseStore:
        if self._real is None:
            if self._in_loop():
                # As the real async stores refuse sync calls on their own loop.
                raise asyncio.InvalidStateError(
                    "Synchronous calls to the store detected in the main event loop; "
                    "use the async methods (aget, aput, asearch, ...) in async nodes"
                )
            self._real = self._call(self._open_store())
        return self._real

    @property
    def opened(self) -> BaseStore | None:
        """The real store, once it is open."""
        return self._real

    def __getattr__(self, name: str) -> Any:
        # Anything beyond BaseStore's API (index_config, conn, ...) is the real store's.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._open(), name)

    # --------------------------------------------------------------- BaseStore API

    def batch(self, ops: Iterable[Any]) -> list[Any]:
        return self._open().batch(ops)

    async def abatch(self, ops: Iterable[Any]) -> list[Any]:
        return await (await self._aopen()).abatch(ops)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._open().get(*args, **kwargs)

    def search(self, *args: Any, **kwargs: Any) -> Any:
        return self._open().search(*args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> None:
        self._open().put(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> None:
        self._open().delete(*args, **kwargs)

    def list_namespaces(self, *args: Any, **kwargs: Any) -> Any:
        return self._open().list_namespaces(*args, **kwargs)

    async def aget(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._aopen()).aget(*args, **kwargs)

    async def asearch(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._aopen()).asearch(*args, **kwargs)

    async def aput(self, *args: Any, **kwargs: Any) -> None:
        await (await self._aopen()).aput(*args, **kwargs)

    async def adelete(self, *args: Any, **kwargs: Any) -> None:
        await (await self._aopen()).adelete(*args, **kwargs)

    async def alist_namespaces(self, *args: Any, **kwargs: Any) -> Any:
        return await (await self._aopen()).alist_namespaces(*args, **kwargs)
