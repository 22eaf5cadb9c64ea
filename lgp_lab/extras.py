"""The one clear error for an optional dependency that is not installed."""

from __future__ import annotations

import importlib.util

from lgp_lab.errors import LgpError

__all__ = ["MissingExtraError", "require_extra"]


class MissingExtraError(LgpError):
    """An optional package is missing; the message is the ``pip install`` that adds it."""


def require_extra(module: str, extra: str, what: str) -> None:
    """Raise :class:`MissingExtraError` at once when ``module`` cannot be imported.

    Checked before any work starts (a subprocess, a connection), so a missing extra is
    one line naming the install command, not a timeout or a traceback later on.

    Args:
        module: The top-level package, e.g. ``mcp``.
        extra: lgp-lab's extra that installs it, e.g. ``agents``.
        what: The feature that needs it, for the message.
    """
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # e.g. sys.modules[module] is None
        found = False
    if not found:
        raise MissingExtraError(
            f"{what} need the {module!r} package, which is not installed: "
            f'pip install "lgp-lab[{extra}]"'
        )
