"""Storage: where threads, runs, assistants and traces persist, on SQLite or PostgreSQL.

Each backend is a sub-package (:mod:`.sqlite`, :mod:`.postgres`) with modules of the same
names (``checkpoints``, ``threads``, ``runs``, ``assistants``, ``sessions``, ``retention``,
``traces``) and the same functions in its ``__init__`` (``open_saver``, ``close_saver``,
``describe`` and one ``*_store`` per resource). A :class:`Backend` bundles one database's
stores: callers ask for it once (:func:`backend_for`) and take ``.threads``, ``.runs``,
``.assistants`` or ``.sessions`` from it; the backend is chosen by name (the config's
``checkpoint.backend``, the saver's ``lgp_backend``), so a third backend is a new
sub-package and nothing else. Every backend passes one conformance suite
(tests/test_backends.py).

``create_checkpointer(config)`` opens the configured backend on the running event loop;
the Lab calls it on its engine loop and closes it with ``close_checkpointer``.
"""

from __future__ import annotations

import importlib
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lgp_lab.config import LabConfig
    from lgp_lab.storage.protocols import AssistantStore, RunStore, SessionStore, ThreadStore

__all__ = [
    "Backend",
    "assistant_store_for",
    "backend_for",
    "backend_name",
    "close_checkpointer",
    "create_checkpointer",
    "database_label",
    "run_store_for",
    "session_store_for",
    "thread_store_for",
]


def _module(name: str) -> ModuleType:
    """The backend sub-package ``name`` (``sqlite``, ``postgres``)."""
    return importlib.import_module(f"{__name__}.{name}")


class Backend:
    """One database: its checkpointer and the stores beside it, each made on first use.

    Args:
        saver: An open checkpointer from :func:`create_checkpointer`.
    """

    def __init__(self, saver: Any) -> None:
        self.saver = saver
        self.name: str = backend_name(saver)
        self._impl = _module(self.name)

    @cached_property
    def threads(self) -> ThreadStore:
        """The thread records (``lgp_threads``)."""
        return self._impl.thread_store(self.saver)

    @cached_property
    def runs(self) -> RunStore:
        """The run records (``lgp_runs``)."""
        return self._impl.run_store(self.saver)

    @cached_property
    def assistants(self) -> AssistantStore:
        """The custom assistants (``lgp_assistants``, ``lgp_assistant_versions``)."""
        return self._impl.assistant_store(self.saver)

    @cached_property
    def sessions(self) -> SessionStore:
        """Session queries over LangGraph's checkpoint tables."""
        return self._impl.session_store(self.saver)


def backend_for(saver: Any) -> Backend:
    """The :class:`Backend` of ``saver`` (one per saver: its stores are made once)."""
    backend = getattr(saver, "_lgp_storage", None)
    if backend is None:
        backend = Backend(saver)
        saver._lgp_storage = backend
    return backend


async def create_checkpointer(config: LabConfig) -> Any:
    """Open the checkpointer ``config`` describes (a SQLite file by default)."""
    return await _module(config.checkpoint.backend).open_saver(config)


def database_label(config: LabConfig) -> str:
    """Where ``config`` keeps its data, for messages: the SQLite file, or ``PostgreSQL
    user@host:port/dbname`` (never the password)."""
    return _module(config.checkpoint.backend).describe(config)


async def close_checkpointer(saver: Any) -> None:
    """Close the checkpointer's connection (PostgreSQL: its pool)."""
    await _module(backend_name(saver)).close_saver(saver)


def session_store_for(saver: Any) -> Any:
    """The SQL session queries for ``saver``'s backend."""
    return backend_for(saver).sessions


def run_store_for(saver: Any) -> Any:
    """The run records table (``runtime.runs.RunStore``) beside ``saver``'s checkpoints."""
    return backend_for(saver).runs


def thread_store_for(saver: Any) -> Any:
    """The thread records table beside ``saver``'s checkpoints."""
    return backend_for(saver).threads


def assistant_store_for(saver: Any) -> Any:
    """The custom assistants table beside ``saver``'s checkpoints."""
    return backend_for(saver).assistants


def backend_name(saver: Any) -> str:
    """The backend ``saver`` belongs to: ``"sqlite"`` or ``"postgres"``."""
    # An attribute, not isinstance: psycopg stays unimported on SQLite. LangGraph's own
    # savers (a test's, a migration's source) have none: SQLite's.
    return getattr(saver, "lgp_backend", None) or "sqlite"
