"""Terminal output in the ``[lgp] …`` style: status on stderr, results on stdout."""

from __future__ import annotations

import sys
import traceback
from typing import Any

from rich.console import Console

from lgp_lab.errors import LgpError
from lgp_lab.runtime.jsonable import dumps

__all__ = ["Output"]


class Output:
    """Prints status lines and results for one CLI invocation."""

    def __init__(self, *, verbose: bool = False, json_only: bool = False) -> None:
        self.verbose = verbose
        self.json_only = json_only
        # markup off: "[lgp]" must print literally; highlight off keeps output plain.
        self._err = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
        self._out = Console(markup=False, highlight=False, soft_wrap=True)

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
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        else:
            self._out.print(f"{label}: {text}")

    def error(self, exc: BaseException) -> None:
        """An error in the ``[lgp] ❌`` style; the traceback only with ``--verbose``."""
        if self.verbose:
            original = getattr(exc, "original", None) or exc.__cause__ or exc
            self._err.print("".join(traceback.format_exception(original)).rstrip(), style="dim")
        text = str(exc) if isinstance(exc, LgpError) else f"{type(exc).__name__}: {exc}"
        first, *rest = text.splitlines()
        self._err.print(f"[lgp] ❌ {first}", style="bold red")
        for line in rest:
            self._err.print(f"[lgp]    {line}", style="red")
