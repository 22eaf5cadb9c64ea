"""Run listeners that do not keep a widget alive, and skip work while it is hidden."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["WeakRunListener"]


class WeakRunListener:
    """Calls ``method`` (a widget's bound method) after each run, through a weak reference.

    The Lab holds this small object, not the widget: a widget that is garbage-collected
    (or closed) stops receiving runs, and the listener removes itself from the Lab on the
    first run after that.

    Args:
        lab: The Lab to listen to.
        method: A bound method of the widget, called with each run's result.
    """

    def __init__(self, lab: Any, method: Callable[[Any], None]) -> None:
        self._method = weakref.WeakMethod(method)
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe = lab.add_run_listener(self)

    def __call__(self, result: Any) -> None:
        method = self._method()
        if method is None:
            self.close()
            return
        method(result)

    def close(self) -> None:
        """Stop listening (idempotent)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
