"""The session explorer: threads, their checkpoint timeline, state, diffs and sizes.

Threads and checkpoints are paged; only the selected checkpoint's state (and its parent's,
for the diff) is ever loaded, so a thread with 10,000 checkpoints opens at once.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from lgp_lab.runtime.sessions import channel_bytes
from lgp_lab.widgets._listen import WeakRunListener
from lgp_lab.widgets._render import bytes_table, esc, json_block, on_kernel_thread, table
from lgp_lab.widgets.traces import TraceViewer

__all__ = ["SessionExplorer"]

# Thread statuses (runtime/sessions.py, the Agent Server's vocabulary).
_STATUS_ICON = {"idle": "✅", "busy": "⏳", "interrupted": "⏸", "error": "❌"}


class SessionExplorer(w.VBox):
    """Browse threads: checkpoint timeline, state, per-channel diff, bytes per channel.

    Args:
        lab: The Lab to read (default: the kernel's, :func:`lgp_lab.get_lab`).
        workflow: Show only this workflow's threads.
        page_size: Threads and checkpoints per page.
        thread_id: Open this thread at once (and ``checkpoint_id`` in it).

    Actions: fork a thread from the selected checkpoint, resume a thread waiting on an
    interrupt, delete a thread (after a confirmation). The explorer refreshes itself when
    a run finishes in this kernel (from magics or the served API).
    """

    def __init__(
        self,
        lab: Any = None,
        *,
        workflow: str | None = None,
        page_size: int = 20,
        thread_id: str | None = None,
        checkpoint_id: str | None = None,
    ) -> None:
        if lab is None:
            from lgp_lab.kernel import get_lab

            lab = get_lab()
        self.lab = lab
        self.page_size = page_size
        self._thread_offset = 0
        self._checkpoint_pages: list[str | None] = [None]  # `before` cursor per page
        self._checkpoints: list[Any] = []
        self._thread: Any = None
        self._threads: dict[str, Any] = {}
        self._page_index = 0
        self.checkpoint_state: dict[str, Any] = {}
        self.channel_diff: list[Any] = []
        self.channel_bytes: dict[str, int] = {}

        self.filter = w.Text(
            value=workflow or "", placeholder="workflow name", description="Workflow",
            layout=w.Layout(width="260px"),
        )  # fmt: skip
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.prev_threads = w.Button(description="◀", layout=w.Layout(width="40px"))
        self.next_threads = w.Button(description="▶", layout=w.Layout(width="40px"))
        self.thread_count = w.HTML()
        self.threads = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.timeline = w.Select(options=[], rows=8, layout=w.Layout(width="100%"))
        self.prev_checkpoints = w.Button(description="newer", layout=w.Layout(width="70px"))
        self.next_checkpoints = w.Button(description="older", layout=w.Layout(width="70px"))
        self.checkpoint_count = w.HTML()
        self.state_html = w.HTML()
        self.diff_html = w.HTML()
        self.bytes_html = w.HTML()
        self.status = w.HTML()
        self.fork_button = w.Button(description="Fork from checkpoint", icon="code-branch")
        self.resume_value = w.Text(placeholder="resume value (JSON or text)")
        self.resume_button = w.Button(description="Resume", icon="play", disabled=True)
        self.delete_button = w.Button(
            description="Delete thread", icon="trash", button_style="danger"
        )
        self.confirm_box = w.HBox([])
        self.trace_button = w.Button(description="Open trace", icon="search", disabled=True)
        self.trace_area = w.Output()

        self.filter.observe(lambda _c: self._reset_threads(), names="value")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.prev_threads.on_click(lambda _b: self._page_threads(-1))
        self.next_threads.on_click(lambda _b: self._page_threads(+1))
        self.threads.observe(self._on_thread, names="value")
        self.timeline.observe(self._on_checkpoint, names="value")
        self.prev_checkpoints.on_click(lambda _b: self._page_checkpoints(-1))
        self.next_checkpoints.on_click(lambda _b: self._page_checkpoints(+1))
        self.fork_button.on_click(lambda _b: self.fork())
        self.resume_button.on_click(lambda _b: self.resume(self.resume_value.value))
        self.delete_button.on_click(lambda _b: self._ask_delete())
        self.trace_button.on_click(lambda _b: self.open_trace())

        detail = w.Tab(
            children=[self.state_html, self.diff_html, self.bytes_html],
            titles=("State", "Diff vs previous", "Bytes per channel"),
        )
        super().__init__(
            [
                w.HTML("<b>Sessions</b>"),
                w.HBox([self.filter, self.refresh_button, self.prev_threads,
                        self.next_threads, self.thread_count]),
                self.threads,
                w.HBox([w.HTML("<b>Checkpoints</b>&nbsp;"), self.prev_checkpoints,
                        self.next_checkpoints, self.checkpoint_count]),
                self.timeline,
                detail,
                w.HBox([self.fork_button, self.trace_button, self.delete_button]),
                w.HBox([self.resume_value, self.resume_button]),
                self.confirm_box,
                self.status,
                self.trace_area,
            ]
        )  # fmt: skip
        # Weakly held by the Lab: an explorer that is closed or collected stops querying.
        self._listener = WeakRunListener(lab, self._on_run)
        # Count the frontend's views (ipywidgets' _view_count): an explorer whose output
        # was cleared or whose cell was re-run is not refreshed after each run, only
        # once when it is shown again.
        self._shown = False
        self._stale = False
        self._view_count = 0
        self.observe(self._on_views, names="_view_count")
        self.refresh()
        if thread_id:
            self.show_thread(thread_id, checkpoint_id)

    # ------------------------------------------------------------------ public API

    @property
    def thread_ids(self) -> list[str]:
        """Thread ids on the current page."""
        return [value for _label, value in self.threads.options]

    @property
    def checkpoint_ids(self) -> list[str]:
        """Checkpoint ids on the current timeline page (newest first)."""
        return [value for _label, value in self.timeline.options]

    @property
    def selected_thread(self) -> str | None:
        """The selected thread id."""
        return self.threads.value

    @property
    def selected_checkpoint(self) -> str | None:
        """The selected checkpoint id."""
        return self.timeline.value

    def refresh(self) -> None:
        """Reload the thread list (keeping the selection when it still exists)."""
        workflow = self.filter.value.strip() or None
        sessions = self.lab.sessions
        threads = sessions.threads(workflow, limit=self.page_size, offset=self._thread_offset)
        total = sessions.count_threads(workflow)
        keep = self.threads.value
        options = [(self._thread_label(t), t.thread_id) for t in threads]
        self._threads = {t.thread_id: t for t in threads}
        self.threads.options = options
        end = self._thread_offset + len(threads)
        self.thread_count.value = (
            f"threads {self._thread_offset + 1 if threads else 0}–{end} of {total}"
        )
        self.prev_threads.disabled = self._thread_offset == 0
        self.next_threads.disabled = end >= total
        if keep in self._threads:
            self.threads.value = keep
            self._load_thread(keep, keep_checkpoint=True)
        elif keep is not None:
            self._clear_detail()

    def show_thread(self, thread_id: str, checkpoint_id: str | None = None) -> None:
        """Select ``thread_id`` (shown even if not on the current page) and a checkpoint."""
        info = self.lab.sessions.thread(thread_id)
        if info is None:
            self.status.value = (
                f"<span style='color:#cf222e'>thread {esc(thread_id)} not found</span>"
            )
            return
        if thread_id not in self._threads:
            self._threads[thread_id] = info
            self.threads.options = [(self._thread_label(info), thread_id), *self.threads.options]
        self.threads.value = thread_id
        if checkpoint_id:
            self.select_checkpoint(checkpoint_id)

    def select_checkpoint(self, checkpoint_id: str) -> None:
        """Select a checkpoint of the current thread, paging back to it if needed."""
        for _ in range(10_000):  # bounded: pages of the thread's history
            if checkpoint_id in self.checkpoint_ids:
                self.timeline.value = checkpoint_id
                return
            if self.next_checkpoints.disabled:
                break
            self._page_checkpoints(+1)
        self.status.value = f"checkpoint {esc(checkpoint_id)} not found in this thread"

    def fork(self, new_thread_id: str | None = None) -> str | None:
        """Copy the selected checkpoint into a new thread and select it."""
        if not (self.selected_thread and self.selected_checkpoint):
            return None
        new = self.lab.sessions.fork(self.selected_thread, self.selected_checkpoint, new_thread_id)
        self.status.value = f"forked into thread <code>{esc(new)}</code>"
        self.refresh()
        self.show_thread(new)
        return new

    def resume(self, value: Any) -> Any:
        """Answer the selected thread's pending interrupt with ``value`` (JSON or text)."""
        thread = self.selected_thread
        if thread is None:
            return None
        if isinstance(value, str):
            from lgp_lab.runtime.inputs import parse_json_or_text

            value = parse_json_or_text(value)
        try:
            result = self.lab.resume(thread, value)
        except Exception as exc:
            self.status.value = f"<span style='color:#cf222e'>resume failed: {esc(exc)}</span>"
            return None
        self.status.value = f"resumed <code>{esc(thread)}</code>: {esc(result.status)}"
        self.refresh()
        return result

    def delete(self, *, confirm: bool = False) -> bool:
        """Delete the selected thread; without ``confirm=True`` only asks for confirmation."""
        thread = self.selected_thread
        if thread is None:
            return False
        if not confirm:
            self._ask_delete()
            return False
        self.lab.sessions.delete(thread)
        self.confirm_box.children = []
        self.status.value = f"deleted thread <code>{esc(thread)}</code>"
        self.threads.value = None
        self.refresh()
        return True

    def open_trace(self) -> Any:
        """Show the trace of the run that wrote the selected checkpoint (and return it)."""
        checkpoint = self._selected_info()
        trace_id = checkpoint.trace_id if checkpoint else None
        if not trace_id:
            self.status.value = "this checkpoint has no trace"
            return None
        viewer = TraceViewer(self.lab, trace_id=trace_id, link_sessions=False)
        self.trace_area.clear_output()
        with self.trace_area:
            from IPython.display import display

            display(viewer)
        return viewer

    @property
    def hidden(self) -> bool:
        """Whether the explorer was displayed and no view of it is left in the frontend."""
        return self._shown and not self._view_count

    def close(self) -> None:
        """Stop listening for runs and close the widget with the widgets it made."""
        listener = self.__dict__.get("_listener")
        if listener is not None:
            listener.close()
        for child in _descendants(self):
            child.close()
        super().close()

    # ------------------------------------------------------------------ private

    def _thread_label(self, t: Any) -> str:
        updated = t.updated_at.strftime("%m-%d %H:%M:%S") if t.updated_at else "?"
        icon = _STATUS_ICON.get(t.status, "")
        return (
            f"{icon} {t.thread_id} · {t.workflow or '?'} v{t.workflow_version or '?'} · "
            f"{t.checkpoints} ckpts · updated {updated}"
        )

    def _reset_threads(self) -> None:
        self._thread_offset = 0
        self.refresh()

    def _page_threads(self, step: int) -> None:
        self._thread_offset = max(0, self._thread_offset + step * self.page_size)
        self.refresh()

    def _on_thread(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._load_thread(change["new"])
        else:
            self._clear_detail()

    def _load_thread(self, thread_id: str, *, keep_checkpoint: bool = False) -> None:
        self._thread = self.lab.sessions.thread(thread_id)
        keep = self.timeline.value if keep_checkpoint else None
        self._checkpoint_pages = [None]
        self._show_checkpoint_page(0, keep)
        status = self._thread.status if self._thread else "idle"
        self.resume_button.disabled = status != "interrupted"

    def _show_checkpoint_page(self, index: int, keep: str | None = None) -> None:
        thread_id = self.selected_thread
        before = self._checkpoint_pages[index]
        page = self.lab.sessions.history(thread_id, limit=self.page_size, before=before)
        self._page_index = index
        self._checkpoints = page
        self.timeline.options = [(self._checkpoint_label(c), c.checkpoint_id) for c in page]
        total = self._thread.checkpoints if self._thread else len(page)
        first = index * self.page_size + 1
        self.checkpoint_count.value = f"{first}–{first + len(page) - 1} of {total}"
        self.prev_checkpoints.disabled = index == 0
        self.next_checkpoints.disabled = len(page) < self.page_size
        if len(page) == self.page_size and len(self._checkpoint_pages) == index + 1:
            self._checkpoint_pages.append(page[-1].checkpoint_id)
        ids = self.checkpoint_ids
        self.timeline.value = keep if keep in ids else (ids[0] if ids else None)

    def _page_checkpoints(self, step: int) -> None:
        index = self._page_index + step
        if 0 <= index < len(self._checkpoint_pages):
            self._show_checkpoint_page(index)

    def _checkpoint_label(self, c: Any) -> str:
        when = c.created_at.strftime("%H:%M:%S.%f")[:-3] if c.created_at else "?"
        nodes = ", ".join(c.nodes) or c.source or "?"
        return f"step {c.step} · {nodes} · {when} · v{c.workflow_version or '?'}"

    def _selected_info(self) -> Any:
        return next(
            (c for c in self._checkpoints if c.checkpoint_id == self.selected_checkpoint), None
        )

    def _on_checkpoint(self, change: dict[str, Any]) -> None:
        checkpoint_id = change["new"]
        if not checkpoint_id:
            self.state_html.value = self.diff_html.value = self.bytes_html.value = ""
            self.trace_button.disabled = True
            return
        thread_id = self.selected_thread
        state = self.lab.sessions.state(thread_id, checkpoint_id)
        self.checkpoint_state = state
        self.channel_diff = self.lab.sessions.diff(thread_id, checkpoint_id)
        self.channel_bytes = channel_bytes(state)
        self.state_html.value = json_block(state)
        changed = [d for d in self.channel_diff if d.change != "unchanged"]
        rows = [(d.channel, d.change, d.summary) for d in changed] or [("—", "no change", "")]
        self.diff_html.value = table(["channel", "change", "summary"], rows)
        self.bytes_html.value = bytes_table(self.channel_bytes)
        info = self._selected_info()
        self.trace_button.disabled = not (info and info.trace_id)

    def _ask_delete(self) -> None:
        thread = self.selected_thread
        if thread is None:
            return
        yes = w.Button(description=f"Yes, delete {thread}", button_style="danger")
        no = w.Button(description="Cancel")
        yes.on_click(lambda _b: self.delete(confirm=True))
        no.on_click(lambda _b: setattr(self.confirm_box, "children", []))
        self.confirm_box.children = [
            w.HTML(f"Delete <code>{esc(thread)}</code> and all its checkpoints?&nbsp;"),
            yes,
            no,
        ]

    def _clear_detail(self) -> None:
        self.timeline.options = []
        self.state_html.value = self.diff_html.value = self.bytes_html.value = ""

    def _on_run(self, _result: Any) -> None:
        if self.hidden:
            self._stale = True  # refreshed when a view appears again
            return
        # Runs finish on the engine thread; widgets are updated on the kernel's thread.
        on_kernel_thread(self.refresh)

    def _on_views(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._shown = True
            if self._stale:
                self._stale = False
                self.refresh()


def _descendants(widget: Any) -> list[Any]:
    found = []
    for child in getattr(widget, "children", ()):
        found.append(child)
        found.extend(_descendants(child))
    return found


# "Open session" in a trace viewer opens this explorer (traces.py cannot import it back).
TraceViewer.explorer_class = SessionExplorer
