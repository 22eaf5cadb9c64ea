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
    if text is None:
        from lgp_lab.runtime.runner import DEFAULT_INPUT

        return dict(DEFAULT_INPUT)
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {path}: {exc.strerror}", param_hint="--input"
            ) from None
    stripped = text.strip()
    if stripped.startswith(("{", "[")):
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(
                f"looks like JSON but is not valid ({exc.msg} at column {exc.colno}); "
                """write it as '{"input": "hello"}' or pass plain text""",
                param_hint="--input",
            ) from None
        if not isinstance(value, dict):
            raise click.BadParameter(
                'a JSON input must be an object of state keys, e.g. \'{"input": "hi"}\'',
                param_hint="--input",
            )
        return value
    return {"input": text}


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
@click.option("--json", "json_only", is_flag=True, help="Print only the result as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Show config details and full tracebacks.")
def run_command(
    workflow: str,
    input_text: str | None,
    thread_id: str | None,
    resume: str | None,
    env: str | None,
    json_only: bool,
    verbose: bool,
) -> None:
    """Run WORKFLOW (a .py file or a name in workflows/config.yaml) once on a thread."""
    out = Output(verbose=verbose, json_only=json_only)
    payload = parse_input(input_text)
    resume_value: Any = None
    if resume is not None:
        if thread_id is None:
            raise click.UsageError("--resume needs --thread ID of the interrupted thread")
        try:
            resume_value = json.loads(resume)
        except json.JSONDecodeError:
            resume_value = resume
    sys.exit(_run(out, workflow, payload, thread_id, resume, resume_value, env))


def _run(
    out: Output,
    target: str,
    payload: Any,
    thread_id: str | None,
    resume: str | None,
    resume_value: Any,
    env: str | None,
) -> int:
    from lgp_lab.lab import Lab

    try:
        with Lab(env=env) as lab:
            out.detail(
                f"config: {lab.config.source or 'built-in defaults'} (env {lab.environment})"
            )
            out.detail(f"checkpoints: {lab.checkpoint_path}")
            out.status(f"Loading workflow: {_display_name(target)}")
            workflow = lab.load(target)
            out.detail(f"file: {workflow.source} (v{workflow.version})")
            from lgp_lab.runtime.runner import new_thread_id

            thread = thread_id or new_thread_id()
            label = f"thread {thread}" + ("" if thread_id else ", new")
            out.status(f"Executing... ({label})")
            if resume is not None:
                result = lab.run(workflow, thread_id=thread, resume=resume_value)
            else:
                result = lab.run(workflow, payload, thread_id=thread)
    except KeyboardInterrupt:
        out.status("Cancelled; the thread keeps its earlier checkpoints", style="yellow")
        return 130
    except LgpError as exc:
        out.error(exc)
        return 1
    if result.status == "interrupted":
        out.status(f"⏸ Waiting for input ({result.duration_s:.2f}s)", style="yellow")
        out.result("Interrupt", result.interrupts)
        out.status(f"Resume with: lgp-lab run {target} --thread {result.thread_id} --resume JSON")
    else:
        out.status(f"✅ Complete ({result.duration_s:.2f}s)", style="green")
    out.detail(f"version v{result.version}, checkpoint {result.checkpoint_id}")
    out.result("Result", result.to_dict() if out.json_only else result.state)
    if thread_id is None:
        out.status(f"Continue this thread with: --thread {result.thread_id}")
    return 0


def _display_name(target: str) -> str:
    return Path(target).stem if target.endswith(".py") else target
