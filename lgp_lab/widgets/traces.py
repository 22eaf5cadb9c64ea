"""The trace viewer: recent runs from the local trace store, and one run's spans."""

from __future__ import annotations

from typing import Any, ClassVar

import ipywidgets as w

from lgp_lab.observability.cost import allocation
from lgp_lab.widgets._render import esc, json_block, on_kernel_thread, table

__all__ = ["TraceViewer"]


class TraceViewer(w.VBox):
    """Recent traces (workflow, status, duration, tags, cost) and a trace's spans.

    Args:
        lab: The Lab to read (default: the kernel's).
        workflow: Show only this workflow's traces.
        limit: How many recent traces to list.
        trace_id: Open this trace at once.
        link_sessions: Offer "Open session" (the explorer at the trace's checkpoint).
    """

    #: The session explorer "Open session" shows; set by :mod:`lgp_lab.widgets.sessions`.
    explorer_class: ClassVar[type | None] = None

    def __init__(
        self,
        lab: Any = None,
        *,
        workflow: str | None = None,
        limit: int = 20,
        trace_id: str | None = None,
        link_sessions: bool = True,
    ) -> None:
        if lab is None:
            from lgp_lab.kernel import get_lab

            lab = get_lab()
        self.lab = lab
        self.workflow = workflow
        self.limit = limit
        self.trace: Any = None
        self.traces = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.detail = w.HTML()
        self.spans = w.HTML()
        self.session_button = w.Button(description="Open session", icon="list", disabled=True)
        self.session_area = w.Output()
        self.traces.observe(lambda c: c["new"] and self.select(c["new"]), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.session_button.on_click(lambda _b: self.open_session())
        title = "Traces" + (f" of {esc(workflow)}" if workflow else "")
        children = [
            w.HBox([w.HTML(f"<b>{title}</b>&nbsp;"), self.refresh_button]),
            self.traces,
            self.detail,
            self.spans,
        ]
        if link_sessions:
            children += [self.session_button, self.session_area]
        super().__init__(children)
        self._unsubscribe = lab.add_run_listener(lambda _r: on_kernel_thread(self.refresh))
        self.refresh()
        if trace_id:
            self.select(trace_id)

    @property
    def trace_ids(self) -> list[str]:
        """Listed trace ids, newest first."""
        return [value for _label, value in self.traces.options]

    def refresh(self) -> None:
        """Reload the recent traces."""
        traces = self.lab.traces.list(self.workflow, limit=self.limit)
        keep = self.traces.value
        self.traces.options = [(self._label(t), t.trace_id) for t in traces]
        if keep in self.trace_ids:
            self.traces.value = keep

    def select(self, trace_id: str) -> Any:
        """Show one trace: outcome, tags, metadata (cost), Langfuse link, spans."""
        trace = self.lab.traces.get(trace_id)
        if trace is None:
            self.detail.value = f"trace {esc(trace_id)} not found"
            return None
        self.trace = trace
        if trace.trace_id not in self.trace_ids:
            self.traces.options = [(self._label(trace), trace.trace_id), *self.traces.options]
        if self.traces.value != trace.trace_id:
            self.traces.value = trace.trace_id
        link = (
            f'<a href="{esc(trace.langfuse_url)}" target="_blank">open in Langfuse</a>'
            if trace.langfuse_url
            else "<i>local trace (Langfuse not configured)</i>"
        )
        error = f"<div style='color:#cf222e'>{esc(trace.error)}</div>" if trace.error else ""
        share = allocation(trace.metadata)
        cost = f"<br>cost: {esc(share.long)}" if share is not None else ""
        self.detail.value = (
            f"<b>{esc(trace.workflow)} v{trace.workflow_version}</b> — {esc(trace.status)} in "
            f"{trace.duration_ms or 0:.1f} ms · thread <code>{esc(trace.thread_id)}</code> · "
            f"checkpoint <code>{esc(trace.checkpoint_id)}</code> · {link}{error}"
            f"<br>tags: {esc(', '.join(trace.tags))}{cost}"
            f"<details><summary>metadata</summary>{json_block(trace.metadata)}</details>"
        )
        rows = []
        for span in trace.spans:
            kind = span.kind if span.kind != "node" else ""
            extra = f"{span.model} {span.usage}" if span.kind == "generation" else kind
            took = f"{span.duration_ms:.1f} ms" if span.duration_ms is not None else ""
            rows.append(
                (
                    esc(span.name),
                    esc(extra),
                    esc(span.status),
                    took,
                    f"<details><summary>input</summary>{json_block(span.input)}</details>",
                    f"<details><summary>output</summary>{json_block(span.output)}</details>"
                    + (f"<div style='color:#cf222e'>{esc(span.error)}</div>" if span.error else ""),
                )
            )
        self.spans.value = table(["span", "", "status", "time", "input", "output"], rows, raw=True)
        self.session_button.disabled = not trace.thread_id
        return trace

    def open_session(self) -> Any:
        """Show the session explorer at this trace's thread and checkpoint (and return it)."""
        if self.trace is None or not self.trace.thread_id:
            return None
        # The explorer imports this module (its "Open trace"), so it hands itself over
        # when imported (lgp_lab.widgets and the magics import it first): no import circle.
        explorer_class = TraceViewer.explorer_class
        if explorer_class is None:
            from lgp_lab.errors import LgpError

            raise LgpError(
                "the session explorer is not loaded",
                hint="import it first: from lgp_lab.widgets import SessionExplorer",
            )
        explorer = explorer_class(
            self.lab, thread_id=self.trace.thread_id, checkpoint_id=self.trace.checkpoint_id
        )
        self.session_area.clear_output()
        with self.session_area:
            from IPython.display import display

            display(explorer)
        return explorer

    def close(self) -> None:
        """Stop listening for runs and close the widget."""
        unsubscribe = self.__dict__.get("_unsubscribe")
        if unsubscribe is not None:
            unsubscribe()
        super().close()

    def _label(self, t: Any) -> str:
        share = allocation(t.metadata)
        # A share of the subscription, not a per-run price: "$20/mo ÷ 3".
        cost_text = f" · {share.short}" if share is not None else ""
        icon = {"complete": "✅", "interrupted": "⏸", "error": "❌"}.get(t.status, "·")
        return (
            f"{icon} {t.trace_id[:12]} · {t.workflow} v{t.workflow_version} · "
            f"{t.duration_ms or 0:.1f} ms · {t.started_at:%m-%d %H:%M:%S} · "
            f"{', '.join(t.tags)}{cost_text}"
        )
