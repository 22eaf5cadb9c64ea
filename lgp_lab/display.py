"""Rendering for notebooks: run results, errors and watch status as HTML and plain text.

Pure functions returning strings (and MIME bundles); nothing here imports IPython, so
the same views serve magics and widgets. :func:`register` hands IPython the view of a
``RunResult``: the domain's result knows nothing of how a notebook shows it.
"""

from __future__ import annotations

import html
import json
import time
from typing import TYPE_CHECKING, Any

from lgp_lab.jsonable import to_jsonable

if TYPE_CHECKING:
    from lgp_lab.runtime.reloader import ReloadEvent, WatchHandle
    from lgp_lab.runtime.result import RunResult

__all__ = [
    "register",
    "result_bundle",
    "shorten",
    "watch_bundle",
]

MAX_STRING = 300
_STATUS_COLOR = {"complete": "#1a7f37", "interrupted": "#9a6700", "error": "#cf222e"}


def shorten(value: Any, max_string: int = MAX_STRING) -> Any:
    """A JSON copy of ``value`` with long strings cut, for display only (state is untouched)."""
    value = to_jsonable(value)
    if isinstance(value, str) and len(value) > max_string:
        return f"{value[:max_string]}… (+{len(value) - max_string} chars, {len(value)} total)"
    if isinstance(value, dict):
        return {k: shorten(v, max_string) for k, v in value.items()}
    if isinstance(value, list):
        return [shorten(v, max_string) for v in value]
    return value


def result_bundle(result: RunResult) -> dict[str, str]:
    """``text/plain`` and ``text/html`` views of a run result."""
    state = json.dumps(shorten(result.state), indent=2, ensure_ascii=False)
    icon = "✅" if result.status == "complete" else "⏸"
    head = (
        f"{icon} {result.workflow} v{result.version} — {result.status} "
        f"in {result.duration_s * 1000:.1f} ms · thread {result.thread_id}"
    )
    plain = f"{head}\n{state}"
    if result.interrupts:
        plain += "\ninterrupts: " + json.dumps(shorten(result.interrupts), ensure_ascii=False)
    color = _STATUS_COLOR.get(result.status, "#57606a")
    rows = [
        ("status", f'<b style="color:{color}">{icon} {html.escape(result.status)}</b>'),
        ("workflow", f"{html.escape(result.workflow)} <small>v{result.version}</small>"),
        ("thread", f"<code>{html.escape(result.thread_id)}</code>"),
        ("duration", f"{result.duration_s * 1000:.1f} ms"),
        ("checkpoint", f"<code>{html.escape(str(result.checkpoint_id))}</code>"),
    ]
    if result.interrupts:
        waiting = json.dumps(shorten(result.interrupts), ensure_ascii=False)
        rows.append(("waiting for", f"<code>{html.escape(waiting)}</code>"))
    table = "".join(
        f'<tr><th style="text-align:left;padding-right:1em">{k}</th><td style="text-align:left">'
        f"{v}</td></tr>"
        for k, v in rows
    )
    body = (
        f'<div class="lgp-result"><table>{table}</table>'
        f"<details open><summary>final state</summary>"
        f'<pre style="max-height:24em;overflow:auto">{html.escape(state)}</pre></details></div>'
    )
    return {"text/plain": plain, "text/html": body}


def register(ipython: Any) -> None:
    """Show ``RunResult`` values in ``ipython`` as :func:`result_bundle` renders them.

    Registered by class name, so nothing is imported until a result is shown; calling it
    again replaces the same entry.
    """
    formatter = ipython.display_formatter.mimebundle_formatter
    formatter.for_type_by_name(
        "lgp_lab.runtime.result",
        "RunResult",
        lambda result, include=None, exclude=None: result_bundle(result),
    )


def watch_bundle(handle: WatchHandle, *, stopped: bool = False) -> dict[str, str]:
    """Views of a watch: what is watched, the live version and recent reload events."""
    wf = handle.workflow
    files = ", ".join(p.name for p in handle.files)
    state = "stopped" if stopped or handle.stopped else "watching"
    head = f"🔁 {wf.name}: {state} {files} — live v{wf.version}"
    lines = [head] + [_event_line(e) for e in reversed(handle.events[-5:])]
    items = "".join(
        f'<li style="color:{"#1a7f37" if e.ok else "#cf222e"}">{html.escape(_event_line(e))}'
        + ("" if e.ok or e.error is None else f"<pre>{html.escape(str(e.error))}</pre>")
        + "</li>"
        for e in reversed(handle.events[-5:])
    )
    body = f'<div class="lgp-watch"><b>{html.escape(head)}</b><ul>{items}</ul></div>'
    return {"text/plain": "\n".join(lines), "text/html": body}


def _event_line(event: ReloadEvent) -> str:
    at = time.strftime("%H:%M:%S", time.localtime(event.at))
    names = ", ".join(p.name for p in event.changed)
    if event.ok:
        return (
            f"{at} reloaded v{event.version} after {names} changed "
            f"(detected {event.detected_s * 1000:.0f} ms, reload {event.reload_s * 1000:.0f} ms)"
        )
    first = str(event.error).splitlines()[0] if event.error else "reload failed"
    return f"{at} {names}: {first} — keeping v{event.version}"
