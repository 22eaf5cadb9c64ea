"""The error hierarchy every front end renders.

Each error carries what went wrong (``message``), where in the user's code if that
is known (``location``), and how to fix it (``hint``). Front ends print
``str(error)``; ``--verbose`` adds the original traceback.
"""

from __future__ import annotations

import os
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = [
    "ConfigError",
    "DatabaseUnavailableError",
    "LabClosedError",
    "LgpError",
    "Location",
    "WorkflowInputError",
    "WorkflowLoadError",
    "WorkflowNotFoundError",
    "WorkflowRunError",
    "user_location",
]


@dataclass(frozen=True)
class Location:
    """A place in the user's source: file, line and the line's text."""

    file: str
    line: int
    function: str | None = None
    text: str | None = None

    def __str__(self) -> str:
        where = _display_path(self.file) + (f":{self.line}" if self.line else "")
        if self.function and self.function != "<module>":
            where += f" in {self.function}"
        return where


class LgpError(Exception):
    """Base of every error lgp_lab raises on purpose.

    Args:
        message: What went wrong, naming the thing and the value.
        hint: How to fix it, phrased as an action.
        location: Where in the user's code, when known.
    """

    def __init__(self, message: str, *, hint: str | None = None, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.location = location

    def __str__(self) -> str:
        parts = [self.message]
        if self.location is not None:
            parts.append(f"  at {self.location}")
            if self.location.text:
                parts.append(f"    {self.location.text.strip()}")
        if self.hint:
            parts.append(f"  fix: {self.hint}")
        return "\n".join(parts)


class ConfigError(LgpError):
    """A configuration file or value is invalid."""


class WorkflowNotFoundError(LgpError):
    """A workflow target names no file, registered workflow or graph."""


class WorkflowLoadError(LgpError):
    """A workflow file could not be imported or does not define a usable ``workflow``."""


class WorkflowRunError(LgpError):
    """A workflow run failed inside one of its nodes.

    Attributes:
        node: The name of the node that raised, when LangGraph reported it.
        original: The exception the node raised.
    """

    def __init__(
        self,
        message: str,
        *,
        node: str | None = None,
        original: BaseException | None = None,
        hint: str | None = None,
        location: Location | None = None,
    ):
        super().__init__(message, hint=hint, location=location)
        self.node = node
        self.original = original


class WorkflowInputError(WorkflowRunError):
    """The input does not fit the workflow (unknown keys, empty input for a new thread)."""


class LabClosedError(LgpError):
    """The Lab was closed and can no longer run anything."""


class DatabaseUnavailableError(LgpError):
    """The configured PostgreSQL database cannot be reached or used."""


# --------------------------------------------------------------------------- helpers

_LIBRARY_ROOTS = tuple(
    {
        os.path.realpath(p)
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if (p := sysconfig.get_paths().get(key))
    }
    | {os.path.realpath(os.path.dirname(__file__))}
)


def is_user_file(filename: str) -> bool:
    """Whether ``filename`` belongs to the user rather than Python, a library or lgp_lab."""
    if filename.startswith("<"):
        # IPython cells ("<ipython-input-…>") are user code; "<frozen …>" is not.
        return filename.startswith("<ipython") or filename.startswith("<string")
    if "/site-packages/" in filename or "/dist-packages/" in filename:
        return False
    real = os.path.realpath(filename)
    return not any(real == root or real.startswith(root + os.sep) for root in _LIBRARY_ROOTS)


def user_location(tb: TracebackType | None) -> Location | None:
    """The innermost traceback frame that is in the user's own code."""
    found: Location | None = None
    for frame in traceback.extract_tb(tb):
        if is_user_file(frame.filename):
            found = Location(frame.filename, frame.lineno or 0, frame.name, frame.line)
    return found


def _display_path(file: str) -> str:
    """A path relative to the working directory when that is shorter."""
    if file.startswith("<"):
        return file
    try:
        rel = os.path.relpath(file)
    except ValueError:  # different drive on Windows
        return file
    return rel if not rel.startswith("..") else str(Path(file))


def format_exception_only(exc: BaseException) -> str:
    """``TypeName: message`` without the traceback or exception notes."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
