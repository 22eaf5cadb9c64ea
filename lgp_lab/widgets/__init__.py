"""Notebook widgets: the studio (anywidget), a session explorer and a trace viewer.

They read through the Lab's ``sessions`` and ``traces`` APIs only; no database access of
their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lgp_lab.widgets.sessions import SessionExplorer
    from lgp_lab.widgets.studio import Studio
    from lgp_lab.widgets.traces import TraceViewer

__all__ = ["SessionExplorer", "Studio", "TraceViewer"]


def __getattr__(name: str) -> Any:
    if name == "SessionExplorer":
        from lgp_lab.widgets.sessions import SessionExplorer

        return SessionExplorer
    if name == "Studio":
        from lgp_lab.widgets.studio import Studio

        return Studio
    if name == "TraceViewer":
        from lgp_lab.widgets.sessions import TraceViewer  # with its "Open session" link

        return TraceViewer
    raise AttributeError(f"module 'lgp_lab.widgets' has no attribute {name!r}")
