"""The studio: LangGraph Studio in the notebook, offline (``%lgp_studio``, :func:`studio`).

One anywidget (its ES module bundled from npm packages at build time, shipped in
``lgp_lab/widgets/static``) shows the workflow's graph, lights nodes up as runs stream
(runs from the studio itself, ``%lgp_run``, the HTTP API or the SDK: every run of the
Lab reaches it through the tracer), and browses threads: the checkpoint timeline, state
as a JSON tree ("show more" for big values), diffs and bytes per channel, fork from a
checkpoint with edited state and re-run, resume an interrupt, delete a thread.

The kernel's thread never waits on the database for a front-end action: actions run on
the Lab's engine loop and their results are applied to the widget when they arrive.
Where no widget front end runs (``jupyter nbconvert --execute``, a notebook viewer)
the output's ``text/html`` shows the graph as inline SVG.
"""

from __future__ import annotations

import collections
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from lgp_lab.extras import require_extra
from lgp_lab.widgets._render import esc, on_kernel_thread
from lgp_lab.widgets._studio_graph import graph_svg
from lgp_lab.widgets._studio_json import Limits, preview, subtree
from lgp_lab.widgets._studio_live import LiveEvent, LiveExporter
from lgp_lab.widgets._studio_model import STATE_LIMITS, StudioData

require_extra("anywidget", "notebook", "the studio (%lgp_studio)")
import anywidget  # noqa: E402
import traitlets as t  # noqa: E402

__all__ = ["Studio", "studio"]

_STATIC = Path(__file__).parent / "static"
_MAX_EVENTS = 200
_TOKEN_FLUSH_S = 0.05
_MAX_TOKEN_CHARS = 4000  # per node: the live view shows the tail of long answers


def studio(target: Any = None, *, lab: Any = None, thread_id: str | None = None) -> Studio:
    """Open the studio on a workflow (a ``.py`` path, a graph id, a registered name or a
    graph object), or on every thread of the Lab when ``target`` is ``None``.

    Example:
        >>> lgp_lab.studio("workflows/basic_workflow.py", thread_id="t-1")  # doctest: +SKIP
    """
    return Studio(target, lab=lab, thread_id=thread_id)


class Studio(anywidget.AnyWidget):
    """The graph, its live runs, threads and time travel in one widget.

    Args:
        target: The workflow to draw (anything :meth:`Lab.load` takes); ``None`` shows
            every thread, and the graph of the selected thread's workflow.
        lab: The Lab (default: the kernel's, :func:`lgp_lab.get_lab`).
        thread_id: Open this thread at once.
        page_size: Threads and checkpoints per page.

    The synced traits (``graph``, ``threads``, ``thread``, ``checkpoint``, ``live``,
    ``status``) are plain JSON; the methods below are what the buttons call, so a
    notebook can drive the studio too.
    """

    _esm = _STATIC / "studio.js"

    graph = t.Dict().tag(sync=True)
    schemas = t.Dict().tag(sync=True)
    threads = t.Dict().tag(sync=True)
    thread = t.Dict().tag(sync=True)
    checkpoint = t.Dict().tag(sync=True)
    live = t.Dict().tag(sync=True)
    status = t.Dict().tag(sync=True)

    def __init__(
        self,
        target: Any = None,
        *,
        lab: Any = None,
        thread_id: str | None = None,
        page_size: int = 20,
    ) -> None:
        super().__init__()
        if lab is None:
            from lgp_lab.kernel import get_lab

            lab = get_lab()
        self.lab = lab
        self.data = StudioData(lab, page_size=page_size)
        self.workflow: Any = lab.load(target) if target is not None else None
        self._full_state: Any = None
        self._limits: dict[tuple[Any, ...], Limits] = {}
        self._events: collections.deque[LiveEvent] = collections.deque(maxlen=_MAX_EVENTS)
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._live_lock = threading.Lock()
        self._navigation = 0  # bumped when the user opens a thread
        self._unwatch: Callable[[], None] | None = None
        self._watched: Any = None
        self.latencies_ms: collections.deque[float] = collections.deque(maxlen=1000)
        self.live = {"run": None, "nodes": {}, "order": [], "events": [], "tokens": {}}
        self._tokens: dict[str, str] = {}  # streamed since the last page update, by node
        self._tokens_flushed = 0.0
        self.status = {"kind": "info", "text": ""}
        self._exporter = LiveExporter(self._on_live, self._accepts)
        self._exporter.attach(lab._call(lab.awatched_tracing()))
        self.on_msg(self._on_msg)
        self.refresh()
        if thread_id:
            self.select_thread(thread_id)

    # ------------------------------------------------------------------ reads

    @property
    def workflow_name(self) -> str | None:
        """The drawn workflow's name."""
        return self.workflow.name if self.workflow is not None else None

    def refresh(self) -> None:
        """Redraw the graph (at the workflow's live version) and reload the thread list."""
        if self.workflow is not None:
            self._set_graph(self.lab._call(self.data.agraph(self.workflow)))
            self.schemas = self.lab._call(self.data.aschemas(self.workflow))
            self._follow_watch()
        self.threads = self.lab._call(self.data.athreads(self.workflow_name))

    def page_threads(self, offset: int) -> None:
        """Show the page of threads starting at ``offset``."""
        self.threads = self.lab._call(self.data.athreads(self.workflow_name, max(0, offset)))

    def select_thread(self, thread_id: str, *, before: str | None = None) -> None:
        """Open a thread: its status, interrupts and checkpoint timeline (one page, older
        than ``before``), and the state at its newest checkpoint on that page."""
        self._navigation += 1
        view = self.lab._call(self.data.athread(thread_id, before))
        self._show_thread(view)
        first = view["checkpoints"][0]["checkpoint_id"] if view["checkpoints"] else None
        self.select_checkpoint(first)

    def select_checkpoint(self, checkpoint_id: str | None) -> None:
        """Show one checkpoint of the open thread: state tree, diff, bytes per channel."""
        thread_id = (self.thread.get("info") or {}).get("thread_id")
        if thread_id is None:
            return
        self._navigation += 1
        full, view = self.lab._call(self.data.acheckpoint(thread_id, checkpoint_id))
        self._show_checkpoint(full, view)

    def more(self, path: list[Any]) -> None:
        """Show more of the state at ``path`` (a "show more" in the tree)."""
        if self._full_state is None:
            return
        key = tuple(path)
        limits = self._limits.get(key, STATE_LIMITS).grown()
        self._limits[key] = limits
        part = preview(subtree(self._full_state, list(path)), limits, list(path))
        state = _replace_at(self.checkpoint.get("state"), list(path), part)
        self.checkpoint = {**self.checkpoint, "state": state}

    # ------------------------------------------------------------------ actions

    def run(
        self,
        input: Any = None,
        *,
        thread_id: str | None = None,
        context: Any = None,
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a run of the drawn workflow in the background (a new thread unless
        ``thread_id``); its nodes light up as it goes. Returns the run's ids."""
        workflow = self._require_workflow("run")
        started = self.lab._call(
            self.data.arun(
                workflow, input=input, thread_id=thread_id, context=context, config=config
            )
        )
        self._say("info", f"run {started['run_id']} started on thread {started['thread_id']}")
        return started

    def fork(
        self,
        values: Any = None,
        *,
        checkpoint_id: str | None = None,
        as_node: str | None = None,
        new_thread: bool = False,
        run: bool = True,
    ) -> dict[str, Any]:
        """Branch the open thread at a checkpoint (the selected one by default) with
        ``values`` written over its state, and re-run from there (see
        :meth:`StudioData.afork`)."""
        thread_id, checkpoint_id = self._selected(checkpoint_id)
        out = self.lab._call(
            self.data.afork(
                thread_id, checkpoint_id, values, as_node=as_node, new_thread=new_thread,
                run=run, workflow=self.workflow,
            )
        )  # fmt: skip
        self._say("info", f"forked at {checkpoint_id} into thread {out['thread_id']}")
        return out

    def resume(self, value: Any, *, thread_id: str | None = None) -> dict[str, Any]:
        """Answer the open thread's pending interrupt with ``value``; the rest of the run
        streams live."""
        thread_id = thread_id or self._selected(None, need_checkpoint=False)[0]
        return self.lab._call(self.data.aresume(thread_id, value, workflow=self.workflow))

    def delete(self, thread_id: str | None = None) -> None:
        """Delete a thread (the open one by default) with all its checkpoints."""
        thread_id = thread_id or self._selected(None, need_checkpoint=False)[0]
        self.lab._call(self.data.adelete(thread_id))
        if (self.thread.get("info") or {}).get("thread_id") == thread_id:
            self.thread, self.checkpoint, self._full_state = {}, {}, None
        self.threads = self.lab._call(self.data.athreads(self.workflow_name))
        self._say("info", f"deleted thread {thread_id}")

    def join(self, run: dict[str, Any], timeout: float = 30.0) -> Any:
        """Wait (bounded) for a run this studio started; returns its final values."""
        return self.lab._call(
            _bounded(self.lab.runs.ajoin(run["thread_id"], run["run_id"]), timeout)
        )

    def close(self) -> None:
        """Stop following runs and reloads, and close the widget."""
        exporter = self.__dict__.get("_exporter")
        if exporter is not None:
            exporter.detach()
        unwatch, self._unwatch = self.__dict__.get("_unwatch"), None
        if unwatch is not None:
            unwatch()
        super().close()

    # ------------------------------------------------------------------ display

    def static_html(self) -> str:
        """The graph as inline SVG (what shows where no widget front end runs)."""
        graph = self.graph or {}
        if not graph.get("flat"):
            return "<div><b>lgp studio</b>: no workflow drawn</div>"
        title = f"{graph['name']} v{graph['version']}"
        count = self.threads.get("total", 0)
        head = f"<div><b>lgp studio</b> · {esc(title)} · {count} thread(s)</div>"
        return f'<div class="lgp-studio-static">{head}{graph_svg(graph["flat"], title=title)}</div>'

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if _headless():
            # nbclient, nbconvert --execute, papermill: no page will run the widget, and
            # a widget output would win over the picture in the exported HTML.
            return {"text/plain": f"lgp studio: {self.graph.get('name')}",
                    "text/html": self.static_html()}, {}  # fmt: skip
        bundle = super()._repr_mimebundle_(**kwargs)
        data, meta = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
        data = {**data, "text/html": self.static_html()}
        return data, meta

    # ------------------------------------------------------------------ front-end messages

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """An action from the page: run it on the engine loop, apply its result here."""
        if not isinstance(content, dict):
            return
        kind, data = content.get("type"), self.data
        thread_id = content.get("thread_id")
        try:
            if kind == "refresh":
                self._async(data.athreads(self.workflow_name), self._set_threads)
            elif kind == "page_threads":
                offset = max(0, int(content.get("offset") or 0))
                self._async(data.athreads(self.workflow_name, offset), self._set_threads)
            elif kind == "select_thread":
                self._navigation += 1
                self._async(data.athread(thread_id, content.get("before")), self._open_thread)
            elif kind == "select_checkpoint":
                self._navigation += 1
                self._async(
                    data.acheckpoint(thread_id, content.get("checkpoint_id")),
                    lambda pair: self._show_checkpoint(*pair),
                )
            elif kind == "more":
                self.more(list(content.get("path") or []))
            elif kind == "run":
                workflow = self._require_workflow("run")
                self._async(
                    data.arun(
                        workflow, input=content.get("input"), thread_id=thread_id or None,
                        context=content.get("context"), config=content.get("config"),
                    ),
                    self._started,
                )  # fmt: skip
            elif kind == "fork":
                self._async(
                    data.afork(
                        thread_id, content["checkpoint_id"], content.get("values"),
                        as_node=content.get("as_node") or None,
                        new_thread=bool(content.get("new_thread")), workflow=self.workflow,
                    ),
                    self._after_fork,
                )  # fmt: skip
            elif kind == "continue":
                self._async(
                    data.arun(self._require_workflow("continue"), thread_id=thread_id),
                    self._started,
                )
            elif kind == "resume":
                self._async(
                    data.aresume(thread_id, content.get("value"), workflow=self.workflow),
                    self._started,
                )
            elif kind == "delete":
                self._async(data.adelete(thread_id), lambda _r: self._after_delete(thread_id))
            else:
                self._say("error", f"unknown studio action {kind!r}")
        except Exception as exc:  # a bad click shows an error; it never breaks the widget
            self._say("error", _message(exc))

    def _async(self, coro: Coroutine[Any, Any, Any], then: Callable[[Any], None]) -> None:
        future = self.lab.engine.submit(coro)
        self._pending.add(future)

        def done(f: concurrent.futures.Future[Any]) -> None:
            self._pending.discard(f)
            try:
                result = f.result()
            except BaseException as exc:
                text = _message(exc)
                on_kernel_thread(lambda: self._say("error", text))
                return
            on_kernel_thread(lambda: _safely(self, then, result))

        future.add_done_callback(done)

    def wait_pending(self, timeout: float = 10.0) -> bool:
        """Wait (bounded) until the front end's actions in flight have finished."""
        _done, not_done = concurrent.futures.wait(list(self._pending), timeout=timeout)
        return not not_done

    # ------------------------------------------------------------------ live runs

    def _accepts(self, workflow: str) -> bool:
        return self.workflow is None or workflow == self.workflow.name

    def _on_live(self, event: LiveEvent) -> None:
        """A tracer event, on the engine thread, applied there: a ``%lgp_run`` cell keeps
        the kernel's thread busy until the run ends, and the page must see each node as
        it finishes, not all at once afterwards. Comm messages may be sent from any
        thread (ipykernel hands them to its IOPub thread); the lock keeps events in order.
        """
        with self._live_lock:
            _safely(self, self._apply_live, event)

    def _apply_live(self, event: LiveEvent) -> None:
        self.latencies_ms.append((time.perf_counter() - event.pop("perf")) * 1000)
        live = dict(self.live)
        kind = event["type"]
        if kind == "tokens":
            if (live.get("run") or {}).get("trace_id") == event["trace_id"]:
                for node, text in event["tokens"].items():
                    self._tokens[node] = self._tokens.get(node, "") + text
                # Batched: at most one page update per _TOKEN_FLUSH_S while tokens flow.
                if time.perf_counter() - self._tokens_flushed >= _TOKEN_FLUSH_S:
                    self._flush_tokens()
            return
        self._flush_tokens()  # what streamed before this step shows before it
        live = dict(self.live)
        self._events.append(event)
        if kind == "run_start":
            live = {"run": _run_summary(event), "nodes": {}, "order": []}
            if self.workflow is not None and event["version"] != self.graph.get("version"):
                self._redraw()
            self._follow_watch()
        run = live.get("run") or {}
        if event["trace_id"] == run.get("trace_id"):
            nodes = dict(live.get("nodes") or {})
            if kind == "node_start" and not nodes:
                # The run's first node: its thread has a checkpoint now (a new thread is
                # listed) and reads busy, so the list shows it running.
                offset = self.threads.get("offset", 0)
                self._async(self.data.athreads(self.workflow_name, offset), self._set_threads)
            if kind == "node_start":
                nodes[event["node"]] = {**nodes.get(event["node"], {}), "status": "running"}
            elif kind == "node_end":
                before = nodes.get(event["node"], {})
                nodes[event["node"]] = {
                    "status": event["status"],
                    "duration_ms": event["duration_ms"],
                    "count": before.get("count", 0) + 1,
                }
                live["order"] = [*live.get("order", []), event["node"]]
            elif kind == "run_end":
                live["run"] = {**run, **_run_summary(event), "status": event["status"]}
            live["nodes"] = nodes
        live["events"] = list(self._events)[-50:]
        self.live = live
        if kind == "run_end":
            if event["status"] == "interrupted":
                # The tracer sees the node end; the thread's pending interrupts say which
                # node is waiting.
                self._async(
                    self.lab.sessions.athread(event["thread_id"]),
                    lambda info, trace=event["trace_id"]: self._mark_waiting(trace, info),
                )
            self._after_run(event["thread_id"])

    def _flush_tokens(self) -> None:
        self._tokens_flushed = time.perf_counter()
        if not self._tokens:
            return
        pending, self._tokens = self._tokens, {}
        live = self.live
        tokens = dict(live.get("tokens") or {})
        for node, text in pending.items():
            tokens[node] = (tokens.get(node, "") + text)[-_MAX_TOKEN_CHARS:]
        self.live = {**live, "tokens": tokens}

    def _mark_waiting(self, trace_id: str, info: Any) -> None:
        with self._live_lock:
            live = self.live
            if info is None or (live.get("run") or {}).get("trace_id") != trace_id:
                return
            nodes = dict(live.get("nodes") or {})
            for pending in info.interrupts:
                if pending.node:
                    nodes[pending.node] = {**nodes.get(pending.node, {}), "status": "interrupted"}
            self.live = {**live, "nodes": nodes}

    def _after_run(self, thread_id: str) -> None:
        self._async(self.data.athreads(self.workflow_name, self.threads.get("offset", 0)),
                    self._set_threads)  # fmt: skip
        open_thread = (self.thread.get("info") or {}).get("thread_id")
        if open_thread == thread_id or not open_thread:
            # Follow the run's thread, unless the user opens another one meanwhile.
            asked = self._navigation
            self._async(
                self.data.athread(thread_id),
                lambda view: self._open_thread(view) if self._navigation == asked else None,
            )

    def _follow_watch(self) -> None:
        """Redraw on every hot reload of the drawn workflow (``%lgp_watch``)."""
        if self.workflow is None:
            return
        handle = self.lab.watches.get(self.workflow.name)
        if handle is None or handle is self._watched:
            return
        if self._unwatch is not None:
            self._unwatch()
        self._watched = handle
        # The handle holds a weak hop to the studio: a collected studio is not kept alive.
        ref = _weak_call(self, "_on_reload")
        self._unwatch = handle.subscribe(lambda _event: ref())

    def _on_reload(self) -> None:
        on_kernel_thread(lambda: _safely(self, self._redraw, None))

    def _redraw(self, _unused: Any = None) -> None:
        if self.workflow is not None:
            self._async(self.data.agraph(self.workflow), self._set_graph)

    # ------------------------------------------------------------------ applying results

    def _set_graph(self, graph: dict[str, Any]) -> None:
        self.graph = graph

    def _set_threads(self, threads: dict[str, Any]) -> None:
        self.threads = threads

    def _open_thread(self, view: dict[str, Any]) -> None:
        self._show_thread(view)
        first = view["checkpoints"][0]["checkpoint_id"] if view["checkpoints"] else None
        thread_id = view["info"]["thread_id"]
        asked = self._navigation  # a checkpoint the user picks meanwhile wins
        self._async(
            self.data.acheckpoint(thread_id, first),
            lambda pair: self._show_checkpoint(*pair) if self._navigation == asked else None,
        )

    def _show_thread(self, view: dict[str, Any]) -> None:
        if self.workflow is None and view["info"].get("workflow"):
            # Every-thread mode: draw the graph of the open thread's workflow.
            self._async(self.data.workflow_of(view["info"]["thread_id"]), self._adopt)
        self.thread = view

    def _adopt(self, workflow: Any) -> None:
        if self.graph.get("name") != workflow.name:
            self._async(self.data.agraph(workflow), self._set_graph)

    def _show_checkpoint(self, full: Any, view: dict[str, Any]) -> None:
        same = (view.get("thread_id"), view.get("checkpoint_id")) == (
            self.checkpoint.get("thread_id"),
            self.checkpoint.get("checkpoint_id"),
        )
        kept = self._limits if same else {}
        self._full_state, self._limits = full, {}
        state = view.get("state")
        for path, limits in kept.items():
            # A refresh of the checkpoint on screen (after a run) keeps what "show more"
            # opened.
            try:
                part = preview(subtree(full, list(path)), limits, list(path))
            except KeyError:
                continue
            state = _replace_at(state, list(path), part)
            self._limits[path] = limits
        self.checkpoint = {**view, "state": state}

    def _started(self, run: dict[str, Any]) -> None:
        self._say("info", f"run {run['run_id']} started on thread {run['thread_id']}")

    def _after_fork(self, out: dict[str, Any]) -> None:
        self._say("info", f"forked into {out['thread_id']} at {out['checkpoint_id']}")
        self._async(self.data.athread(out["thread_id"]), self._open_thread)

    def _after_delete(self, thread_id: str) -> None:
        if (self.thread.get("info") or {}).get("thread_id") == thread_id:
            self.thread, self.checkpoint, self._full_state = {}, {}, None
        self._say("info", f"deleted thread {thread_id}")
        self._async(self.data.athreads(self.workflow_name), self._set_threads)

    def _say(self, kind: str, text: str) -> None:
        self.status = {"kind": kind, "text": text, "at": time.time()}

    def _require_workflow(self, action: str) -> Any:
        if self.workflow is None:
            from lgp_lab.errors import WorkflowInputError

            raise WorkflowInputError(
                f"the studio cannot {action}: it was opened without a workflow",
                hint="open it on one: %lgp_studio workflows/flow.py (or lgp_lab.studio(graph))",
            )
        return self.workflow

    def _selected(
        self, checkpoint_id: str | None, *, need_checkpoint: bool = True
    ) -> tuple[str, str]:
        from lgp_lab.errors import WorkflowInputError

        thread_id = (self.thread.get("info") or {}).get("thread_id")
        checkpoint_id = checkpoint_id or self.checkpoint.get("checkpoint_id")
        if thread_id is None or (need_checkpoint and not checkpoint_id):
            raise WorkflowInputError(
                "no thread is open in the studio", hint="select a thread first"
            )
        return thread_id, checkpoint_id or ""


def _headless() -> bool:
    """Whether this kernel is executing a notebook with no one at the page: nbclient
    (``jupyter nbconvert --execute``, nbval, papermill) runs cells without stdin, the
    interactive front ends (JupyterLab, Notebook 7, VS Code, Colab) with it."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
    except Exception:
        return False
    return kernel is not None and getattr(kernel, "_allow_stdin", True) is False


def _run_summary(event: LiveEvent) -> dict[str, Any]:
    keys = ("trace_id", "thread_id", "workflow", "version", "at", "status", "error",
            "duration_ms", "checkpoint_id", "trace_url")  # fmt: skip
    summary = {k: event[k] for k in keys if k in event}
    summary.setdefault("status", "running")
    return summary


def _replace_at(tree: Any, path: list[Any], part: Any) -> Any:
    """A copy of the preview ``tree`` with the node at ``path`` replaced by ``part``."""
    if not path:
        return part
    head, rest = path[0], path[1:]
    if isinstance(tree, dict) and head in tree:
        return {**tree, head: _replace_at(tree[head], rest, part)}
    if isinstance(tree, list) and isinstance(head, int) and head < len(tree):
        copy = list(tree)
        copy[head] = _replace_at(tree[head], rest, part)
        return copy
    return tree


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    hint = getattr(exc, "hint", None)
    return f"{text} — {hint}" if hint else text


def _safely(studio: Studio, fn: Callable[[Any], None], arg: Any) -> None:
    try:
        fn(arg)
    except Exception as exc:  # shown in the studio, never raised into the kernel's loop
        studio._say("error", _message(exc))


def _weak_call(obj: Any, method: str) -> Callable[[], None]:
    import weakref

    ref = weakref.ref(obj)

    def call() -> None:
        target = ref()
        if target is not None:
            getattr(target, method)()

    return call


async def _bounded(coro: Any, timeout: float) -> Any:
    import asyncio

    return await asyncio.wait_for(coro, timeout)
