"""``lgp-lab run``: run a workflow once on a thread."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["parse_input", "run_command"]


def parse_input(text: str | None) -> Any:
    """Parse ``--input``: JSON object, ``@file.json``, or plain text → ``{"input": text}``."""
    from lgp_lab.runtime.runner import parse_input_text

    if text is not None and text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint="--input"
            ) from None
    try:
        return parse_input_text(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--input") from None


@click.command("run")
@click.argument("workflow")
@click.option(
    "--input",
    "-i",
    "input_text",
    metavar="JSON|TEXT|@FILE",
    help='State input: a JSON object, @file.json, or text (becomes {"input": TEXT}). '
    'Default: {"input": "test"}.',
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
    metavar="JSON",
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
@click.option("--json", "json_only", is_flag=True, help="Print only the result as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Show config details and full tracebacks.")
def run_command(
    workflow: str,
    input_text: str | None,
    thread_id: str | None,
    resume: str | None,
    env: str | None,
    watch: bool,
    json_only: bool,
    verbose: bool,
) -> None:
    """Run WORKFLOW (a .py file or a name in workflows/config.yaml) once on a thread."""
    out = Output(verbose=verbose, json_only=json_only)
    payload = parse_input(input_text)
    if resume is not None:
        if thread_id is None:
            raise click.UsageError("--resume needs --thread ID of the interrupted thread")
        if watch:
            raise click.UsageError("--resume and --watch cannot be combined")
        try:
            payload = _Resume(json.loads(resume))
        except json.JSONDecodeError:
            payload = _Resume(resume)
    sys.exit(_main(out, workflow, payload, thread_id, env, watch))


class _Resume:
    """A --resume value (as opposed to a state input)."""

    def __init__(self, value: Any) -> None:
        self.value = value


def _main(
    out: Output, target: str, payload: Any, thread_id: str | None, env: str | None, watch: bool
) -> int:
    from lgp_lab.lab import Lab
    from lgp_lab.runtime.runner import new_thread_id

    try:
        with Lab(env=env) as lab:
            source = lab.config.source or "built-in defaults"
            out.detail(f"config: {source} (env {lab.environment})")
            out.detail(f"checkpoints: {lab.checkpoint_path}")
            out.status(f"Loading workflow: {_display_name(target)}")
            workflow = lab.load(target)
            out.detail(f"file: {workflow.source} (v{workflow.version})")
            thread = thread_id or new_thread_id()
            if watch:
                return _watch(out, lab, target, workflow, payload, thread, thread_id is None)
            ok = _execute(out, lab, target, workflow, payload, thread, thread_id is None)
            return 0 if ok else 1
    except KeyboardInterrupt:
        out.status("Cancelled; the thread keeps its earlier checkpoints", style="yellow")
        return 130
    except LgpError as exc:
        out.error(exc)
        return 1


def _execute(
    out: Output, lab: Any, target: str, workflow: Any, payload: Any, thread: str, new: bool
) -> bool:
    """One run with its status lines; False if it failed (the error is printed)."""
    label = f"thread {thread}" + (", new" if new else "")
    out.status(f"Executing... ({label})")
    try:
        if isinstance(payload, _Resume):
            result = lab.run(workflow, thread_id=thread, resume=payload.value)
        else:
            result = lab.run(workflow, payload, thread_id=thread)
    except LgpError as exc:
        out.error(exc)
        return False
    if result.status == "interrupted":
        out.status(f"⏸ Waiting for input ({result.duration_s:.2f}s)", style="yellow")
        out.result("Interrupt", result.interrupts)
        out.status(f"Resume with: lgp-lab run {target} --thread {thread} --resume JSON")
    else:
        out.status(f"✅ Complete ({result.duration_s:.2f}s)", style="green")
    out.detail(f"version v{result.version}, checkpoint {result.checkpoint_id}")
    if result.trace_url:
        out.status(f"Trace URL: {result.trace_url}")
    elif result.trace_id:
        out.status(f"Trace: {result.trace_id} (lgp-lab traces)")
    out.result("Result", result.to_dict() if out.json_only else result.state)
    if new:
        out.status(f"Continue this thread with: --thread {thread}")
    return True


def _watch(
    out: Output, lab: Any, target: str, workflow: Any, payload: Any, thread: str, new: bool
) -> int:
    """Run, then rerun on the same thread after every good save, until Ctrl-C."""
    import queue

    events: queue.Queue[Any] = queue.Queue()
    handle = lab.watch(workflow, on_reload=events.put)
    local = len(handle.files) - 1
    out.status("Hot reload: ON")
    extra = f" (+{local} local module{'s' if local != 1 else ''})" if local else ""
    out.status(f"Watching: {_relative(workflow.source)}{extra}")
    _execute(out, lab, target, workflow, payload, thread, new)
    try:
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
                _execute(out, lab, target, workflow, payload, thread, False)
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
    return Path(target).stem if target.endswith(".py") else target
