"""Terminal output in the ``[lgp] …`` style: status on stderr, results on stdout.

With ``--json`` stdout carries exactly one JSON document per run (the result, or an
error document); everything else, including what the user's nodes ``print()``, goes to
stderr (see :meth:`Output.stdout_to_stderr`).
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any, TextIO

from rich.console import Console

from lgp_lab.errors import LgpError
from lgp_lab.jsonable import dumps

__all__ = ["Output", "error_document"]


class Output:
    """Prints status lines and results for one CLI invocation."""

    def __init__(self, *, verbose: bool = False, json_only: bool = False) -> None:
        self.verbose = verbose
        self.json_only = json_only
        # The real stdout, kept so results land there even while stdout is redirected.
        self._stdout: TextIO = sys.stdout
        # markup off: "[lgp]" must print literally; highlight off keeps output plain.
        self._err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
        self._out = Console(file=self._stdout, markup=False, highlight=False, soft_wrap=True)

    def status(self, message: str, *, style: str | None = None) -> None:
        """A ``[lgp] message`` line on stderr."""
        self._err.print(f"[lgp] {message}", style=style)

    def detail(self, message: str) -> None:
        """A status line shown only with ``--verbose``."""
        if self.verbose:
            self._err.print(f"[lgp]   {message}", style="dim")

    def result(self, label: str, value: Any) -> None:
        """``Label: <json>`` on stdout (only the JSON with ``--json``)."""
        text = dumps(value, indent=2)
        if self.json_only:
            self._stdout.write(text + "\n")
            self._stdout.flush()
        else:
            self._out.print(f"{label}: {text}")

    def error(self, exc: BaseException, **context: Any) -> None:
        """An error in the ``[lgp] ❌`` style; the traceback only with ``--verbose``.

        With ``--json`` the error is also the run's one document on stdout
        (:func:`error_document`, with ``context`` such as the thread id).
        """
        if self.verbose:
            original = getattr(exc, "original", None) or exc.__cause__ or exc
            self._err.print("".join(traceback.format_exception(original)).rstrip(), style="dim")
        text = str(exc) if isinstance(exc, LgpError) else f"{type(exc).__name__}: {exc}"
        first, *rest = text.splitlines() or [type(exc).__name__]
        self._err.print(f"[lgp] ❌ {first}", style="bold red")
        for line in rest:
            self._err.print(f"[lgp]    {line}", style="red")
        if self.json_only:
            self.result("Error", error_document(exc, **context))

    @contextlib.contextmanager
    def stdout_to_stderr(self) -> Iterator[None]:
        """With ``--json``, send everything printed to stdout (the user's nodes, imports)
        to stderr, so stdout stays one JSON document."""
        if not self.json_only:
            yield
            return
        with contextlib.redirect_stdout(sys.stderr):
            yield


def error_document(exc: BaseException, **context: Any) -> dict[str, Any]:
    """The ``--json`` document of a failed run: ``status``, ``error``, ``hint``, ..."""
    if isinstance(exc, LgpError):
        message, hint = exc.message, exc.hint
        location = str(exc.location) if exc.location is not None else None
    else:
        message, hint, location = f"{type(exc).__name__}: {exc}", None, None
    return {
        "status": "error",
        "error": message,
        "hint": hint,
        "location": location,
        "type": type(exc).__name__,
        **{k: v for k, v in context.items() if v is not None},
    }
