"""``lgp-lab run``: run a workflow once on a thread."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from lgp_lab.cli._options import input_option, json_option, lab_config
from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["run_command"]


@dataclass
class _Request:
    """What to run, as parsed from the command line."""

    input: Any = None  # None: no --input given
    resume: Any = None
    resuming: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)  # context= / config= for Lab


@click.command("run")
@click.argument("workflow")
@click.option(
    "--input",
    "-i",
    "input_text",
    metavar="JSON|TEXT|@FILE",
    help="The run's input: JSON (an object of state keys, or any value the graph takes), "
    "@file, or text (a user message on a graph with `messages`). Default on a new thread: "
    "an input that fits the graph (printed).",
)
@click.option(
    "--context",
    "context_text",
    metavar="JSON|@FILE",
    help="The run context (the graph's context_schema, read as runtime.context).",
)
@click.option(
    "--config",
    "config_text",
    metavar="JSON|@FILE",
    help='A RunnableConfig: {"configurable": {...}, "tags": [...], "metadata": {...}, '
    '"recursion_limit": N}. The thread id is set by --thread.',
)
@click.option(
    "--thread",
    "-t",
    "thread_id",
    metavar="ID",
    help="Thread to continue; a new id is generated and printed when omitted.",
)
@click.option(
    "--resume",
    metavar="JSON|TEXT",
    help="Resume a thread waiting on interrupt() with this value (needs --thread).",
)
@click.option(
    "--env",
    "-e",
    "env",
    metavar="NAME",
    help="Config environment (config/NAME.yaml). Default: $LGP_ENV or experiment.",
)
@click.option(
    "--watch",
    "-w",
    is_flag=True,
    help="Hot reload: rerun on the same thread after every save of the workflow "
    "or its local modules (Ctrl-C stops).",
)
@click.option(
    "--json",
    "json_only",
    is_flag=True,
    help="Print one JSON document per run on stdout: the result, an interrupt, or the error.",
)
@click.option("--verbose", "-v", is_flag=True, help="Show config details and full tracebacks.")
def run_command(
    workflow: str,
    input_text: str | None,
    context_text: str | None,
    config_text: str | None,
    thread_id: str | None,
    resume: str | None,
    env: str | None,
    watch: bool,
    json_only: bool,
    verbose: bool,
) -> None:
    """Run WORKFLOW once on a thread.

    WORKFLOW is a .py file (its graph: `workflow`, `graph`, `app` or the only one), a
    `path.py:attr`, a graph id in langgraph.json, a langgraph.json file, or a name in
    workflows/config.yaml.
    """
    out = Output(verbose=verbose, json_only=json_only)
    request = _Request(input=input_option(input_text))
    for key, text in (("context", context_text), ("config", config_text)):
        value = json_option(text, f"--{key}")
        if value is not None:
            request.kwargs[key] = value
    if resume is not None:
        if thread_id is None:
            raise click.UsageError("--resume needs --thread ID of the interrupted thread")
        if watch:
            raise click.UsageError("--resume and --watch cannot be combined")
        if input_text is not None:
            raise click.UsageError(
                "--resume and --input cannot be combined: --resume answers the interrupt "
                "of a waiting thread"
            )
        request.resume, request.resuming = input_option(resume, "--resume"), True
    config = lab_config(env, "experiment", out)
    sys.exit(_main(out, config, workflow, request, thread_id, watch))


def _main(
    out: Output, config: Any, target: str, request: _Request, thread_id: str | None, watch: bool
) -> int:
    from lgp_lab.lab import Lab
    from lgp_lab.runtime.runner import new_thread_id
    from lgp_lab.storage import database_label

    thread = thread_id or new_thread_id()
    with out.stdout_to_stderr():  # a module-level print() in the user's file, with --json
        try:
            with Lab(config=config) as lab:
                source = lab.config.source or "built-in defaults"
                out.detail(f"config: {source} (env {lab.environment})")
                out.detail(f"checkpoints: {database_label(lab.config)}")
                out.status(f"Loading workflow: {_display_name(target)}")
                workflow = lab.load(target)
                out.detail(
                    f"workflow: {workflow.name} from {workflow.source} (v{workflow.version})"
                )
                run = _Run(out, lab, target, workflow, request, thread, new=thread_id is None)
                if watch:
                    return _watch(out, lab, workflow, run)
                return 0 if run.execute() else 1
        except KeyboardInterrupt:
            out.status("Cancelled; the thread keeps its earlier checkpoints", style="yellow")
            if out.json_only:
                out.result("Cancelled", {"status": "cancelled", "thread_id": thread})
            return 130
        except LgpError as exc:
            out.error(exc, thread_id=thread_id)
            return 1


class _Run:
    """One workflow run with its status lines (rerun as is by ``--watch``)."""

    def __init__(
        self,
        out: Output,
        lab: Any,
        target: str,
        workflow: Any,
        request: _Request,
        thread: str,
        *,
        new: bool,
    ) -> None:
        self.out, self.lab, self.target, self.workflow = out, lab, target, workflow
        self.request, self.thread, self.new = request, thread, new
        self._input: Any = _UNSET

    def execute(self) -> bool:
        """Run once; False if it failed (the error is printed)."""
        out = self.out
        try:
            kwargs = dict(self.request.kwargs)
            if self.request.resuming:
                kwargs["resume"] = self.request.resume
                payload = None
            else:
                payload = self._payload()
            result = self.lab.engine.call(self._stream(payload, kwargs))
        except LgpError as exc:
            out.error(exc, thread_id=self.thread, workflow=self.workflow.name)
            return False
        if result.status == "interrupted":
            out.status(f"⏸ Waiting for input ({result.duration_s:.2f}s)", style="yellow")
            if not out.json_only:  # with --json the interrupts are in the one document
                out.result("Interrupt", result.interrupts)
            out.status(
                f"Resume with: lgp-lab run {shlex.quote(self.target)} "
                f"--thread {shlex.quote(self.thread)} --resume JSON"
            )
        else:
            out.status(f"✅ Complete ({result.duration_s:.2f}s)", style="green")
        out.detail(f"version v{result.version}, checkpoint {result.checkpoint_id}")
        if result.trace_url:
            out.status(f"Trace URL: {result.trace_url}")
        elif result.trace_id:
            out.status(f"Trace: {result.trace_id} (lgp-lab traces)")
        out.result("Result", result.to_dict() if out.json_only else result.state)
        if self.new:
            out.status(f"Continue this thread with: --thread {self.thread}")
            self.new = False  # a --watch rerun continues the thread
        return True

    def _payload(self) -> Any:
        """The input: --input as given, else a default that fits the graph on a new
        thread (said on stderr), else ``None``, which continues an existing thread."""
        if self.request.input is not None:
            return self.request.input
        if self._input is not _UNSET:
            return self._input
        from lgp_lab.jsonable import dumps

        if not self.new and self.lab.sessions.thread(self.thread) is not None:
            self._input = None
            self.out.status(
                f"Input: none (thread {self.thread} continues from its last checkpoint; "
                "pass --input)"
            )
        else:
            from lgp_lab.runtime.inputs import default_input

            self._input = default_input(self.workflow.graph)
            self.out.status(f"Input: {dumps(self._input)} (default for this graph; pass --input)")
        return self._input

    async def _stream(self, payload: Any, kwargs: dict[str, Any]) -> Any:
        """Stream the run on the engine loop; ``Executing...`` once the input is accepted
        (the domain checks it before the first event), so a refused input never shows it."""
        result = None
        async for event, data in self.lab.astream(
            self.workflow, payload, thread_id=self.thread, **kwargs
        ):
            if event == "metadata":
                label = f"thread {self.thread}" + (", new" if self.new else "")
                self.out.status(f"Executing... ({label})")
            elif event == "end":
                result = data
        return result


_UNSET: Any = object()


def _watch(out: Output, lab: Any, workflow: Any, run: _Run) -> int:
    """Run, then rerun on the same thread after every good save, until Ctrl-C."""
    import queue

    events: queue.Queue[Any] = queue.Queue()
    handle = lab.watch(workflow, on_reload=events.put)
    local = len(handle.files) - 1
    out.status("Hot reload: ON")
    extra = f" (+{local} local module{'s' if local != 1 else ''})" if local else ""
    out.status(f"Watching: {_relative(workflow.source)}{extra}")
    try:
        # Inside the try: a Ctrl-C or SIGTERM that lands while the first run's last lines
        # print stops the watch cleanly too.
        run.execute()
        while True:
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                continue
            # A burst that produced several events reruns once, on the newest version.
            pending = [event]
            while not events.empty():
                pending.append(events.get_nowait())
            for ev in pending:
                names = ", ".join(_relative(p) for p in ev.changed)
                out.status(f"File changed: {names} (detected in {ev.detected_s:.2f}s)")
                if ev.ok:
                    out.status(f"Reloaded workflow v{ev.version} ({ev.reload_s:.2f}s)")
                else:
                    out.error(ev.error)
                    out.status(f"Keeping v{ev.version} live; save a fix to reload", style="yellow")
            if any(ev.ok for ev in pending):
                run.execute()
    except KeyboardInterrupt:
        handle.stop()
        out.status("Stopped watching")
        return 0


def _relative(path: Any) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _display_name(target: str) -> str:
    """How a target is named before it loads: ``flow.py`` → ``flow``,
    ``src/agent/graph.py:graph`` → ``graph.py:graph``; ids and names as given."""
    path, sep, attr = target.rpartition(":")
    if sep and path.endswith(".py") and attr.isidentifier():
        return f"{Path(path).name}:{attr}"
    if target.endswith(".py"):
        return Path(target).stem
    return target
