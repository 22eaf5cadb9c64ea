"""Console tracer: a line per node as it finishes, in the CLI's ``[lgp]`` style."""

from __future__ import annotations

import sys
from collections.abc import Callable

from lgp_lab.observability.model import RunTrace, SpanRecord

__all__ = ["ConsoleTracer"]


class ConsoleTracer:
    """Prints ``[lgp]   ↳ node (0.4 ms)`` for every node (``✗`` and the error on failure)."""

    name = "console"

    def __init__(self, write: Callable[[str], None] | None = None) -> None:
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))

    def on_run_start(self, run: RunTrace) -> None:
        """Nothing to print yet."""

    def on_node_start(self, run: RunTrace, span: SpanRecord) -> None:
        """Nothing to print yet."""

    def on_node_end(self, run: RunTrace, span: SpanRecord) -> None:
        """One line for the finished node."""
        took = f"{span.duration_ms:.1f} ms" if span.duration_ms is not None else "?"
        if span.error:
            self._write(f"[lgp]   ✗ {span.name} ({took}): {span.error}")
        else:
            self._write(f"[lgp]   ↳ {span.name} ({took})")

    def on_child(self, run: RunTrace, span: SpanRecord) -> None:
        """One line for an LLM call or tool call inside a node."""
        tokens = sum(span.usage.values()) if span.usage else 0
        detail = f"{span.model}, {tokens} tokens" if span.kind == "generation" else span.kind
        self._write(f"[lgp]     · {span.name} ({detail}, {span.duration_ms:.1f} ms)")

    def on_run_end(self, run: RunTrace) -> None:
        """The run's own status is printed by the front end."""

    async def aclose(self, timeout: float) -> None:
        """Nothing buffered."""
