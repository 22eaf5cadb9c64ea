"""HTML fragments shared by the widgets: shortened JSON, tables, byte bars."""

from __future__ import annotations

import contextlib
import html
import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lgp_lab.display import shorten
from lgp_lab.errors import LabClosedError

__all__ = ["bytes_table", "esc", "json_block", "on_kernel_thread", "table"]


def esc(value: Any) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value))


def json_block(value: Any, max_string: int = 300) -> str:
    """Pretty JSON in a scrollable ``<pre>``; long strings shortened with their full length."""
    text = json.dumps(shorten(value, max_string), indent=2, ensure_ascii=False)
    return f'<pre style="max-height:22em;overflow:auto;margin:0">{esc(text)}</pre>'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw``."""
    cell = (lambda v: str(v)) if raw else esc
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td style="padding:2px 8px">{cell(v)}</td>' for v in row) + "</tr>"
        for row in rows
    )
    return f'<table style="border-collapse:collapse"><tr>{head}</tr>{body}</table>'


def bytes_table(sizes: dict[str, int]) -> str:
    """Bytes per channel with a bar, largest first."""
    if not sizes:
        return "<i>no state</i>"
    top = max(sizes.values()) or 1
    rows = []
    for channel, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
        width = max(1, int(160 * size / top))
        bar = f'<div style="background:#6e9bd1;height:0.7em;width:{width}px"></div>'
        rows.append((esc(channel), f"{size:,}", bar))
    return table(["channel", "bytes", ""], rows, raw=True)


def on_kernel_thread(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the kernel's main thread (widget updates from the engine thread).

    A refresh that arrives after its lab closed (``%unload_ext`` while a run finishes)
    has nothing left to show: it is dropped rather than raised on a thread no one reads.
    """
    fn = _unless_closed(fn)
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        loop = getattr(kernel, "io_loop", None)
    except Exception:
        loop = None
    if loop is not None:
        loop.add_callback(fn)
    else:
        # Not in a kernel: the caller is the engine thread, which must not wait on itself.
        import threading

        threading.Thread(target=fn, name="lgp-widget-refresh", daemon=True).start()


def _unless_closed(fn: Callable[[], None]) -> Callable[[], None]:
    def call() -> None:
        with contextlib.suppress(LabClosedError):
            fn()

    return call
