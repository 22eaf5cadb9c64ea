"""``lgp-lab traces``: recent runs from the local trace store."""

from __future__ import annotations

import sys
from typing import Any

import click

from lgp_lab.cli._options import lab_config
from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["MIN_PREFIX", "traces_command"]

MIN_PREFIX = 8  # the shortest trace id prefix the store resolves (ids are 32 hex digits)
_SCAN = 1000  # traces scanned to name the known workflows or an ambiguous prefix's matches


@click.command("traces")
@click.option("--workflow", "-w", metavar="NAME", help="Only this workflow's runs.")
@click.option("--thread", "-t", "thread_id", metavar="ID", help="Only this thread's runs.")
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--env", "-e", "env", metavar="NAME", help="Config environment.")
@click.option("--json", "json_only", is_flag=True, help="Print the traces as JSON.")
@click.argument("trace_id", required=False)
def traces_command(
    workflow: str | None,
    thread_id: str | None,
    limit: int,
    env: str | None,
    json_only: bool,
    trace_id: str | None,
) -> None:
    """List recent traces, or show one trace (TRACE_ID, or 8+ characters of it) with its
    node spans."""
    out = Output(json_only=json_only)
    if trace_id is not None and len(trace_id) < MIN_PREFIX:
        raise click.BadParameter(
            f"{trace_id!r} is too short: give the trace id or at least its first "
            f"{MIN_PREFIX} characters (lgp-lab traces lists them)",
            param_hint="'TRACE_ID'",
        )
    config = lab_config(env, "experiment", out)
    if config.checkpoint.backend == "sqlite" and not config.checkpoint_path.is_file():
        # Nothing was ever run here: say so without creating the database.
        _nothing(out, trace_id, f"no trace store here yet ({config.checkpoint_path} is absent)")
        return
    from lgp_lab.lab import Lab

    try:
        with Lab(config=config) as lab:
            if trace_id:
                _show_one(out, lab, trace_id)
                return
            traces = lab.traces.list(workflow, thread_id=thread_id, limit=limit)
            known = [] if traces or not workflow else _workflows(lab)
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    if json_only:
        out.result("Traces", [t.to_dict() for t in traces])
        return
    if traces:
        _table(traces)
    elif workflow:
        where = f" on thread {thread_id!r}" if thread_id else ""
        out.status(f"No traces for workflow {workflow!r}{where}")
        out.status(
            f"Workflows with traces: {', '.join(known)}" if known else "No traces yet at all"
        )
    elif thread_id:
        out.status(f"No traces for thread {thread_id!r}")
    else:
        out.status("No traces yet: run a workflow (lgp-lab run ...) first")


def _nothing(out: Output, trace_id: str | None, why: str) -> None:
    if trace_id:
        out.error(LgpError(f"trace {trace_id!r} not found: {why}"))
        sys.exit(1)
    if out.json_only:
        out.result("Traces", [])
    else:
        out.status(f"No traces yet: {why}; run a workflow (lgp-lab run ...) first")


def _show_one(out: Output, lab: Any, trace_id: str) -> None:
    trace = lab.traces.get(trace_id)
    if trace is None:
        matches = [
            t.trace_id for t in lab.traces.list(limit=_SCAN) if t.trace_id.startswith(trace_id)
        ]
        if len(matches) > 1:
            message = f"trace id prefix {trace_id!r} matches {len(matches)} traces"
            hint = f"give more characters: {', '.join(m[:16] for m in matches[:5])}"
        else:
            message = f"trace {trace_id!r} not found in the local trace store"
            hint = "lgp-lab traces lists the recent ones"
        out.error(LgpError(message, hint=hint))
        sys.exit(1)
    if out.json_only:
        out.result("Trace", trace.to_dict())
    else:
        _show_trace(trace)


def _workflows(lab: Any) -> list[str]:
    return sorted({t.workflow for t in lab.traces.list(limit=_SCAN)})


# Dropped in this order when the table is wider than the terminal (least telling first);
# trace, workflow, thread and status always stay.
_OPTIONAL = ("ms", "started (UTC)", "cost share")
# A thread id (a UUID from the SDK: 36 characters) may fold past this width so that the
# other columns keep their names on one line; `lgp-lab run` makes 12-character ids.
_THREAD_FOLD = 12


def _table(traces: list) -> None:
    from rich.cells import cell_len
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from lgp_lab.observability.cost import allocation

    shares = [allocation(t.metadata) for t in traces]
    rows: list[dict[str, Text]] = []
    for t, share in zip(traces, shares, strict=True):
        rows.append(
            {
                "trace": Text(t.trace_id[:12]),
                "started (UTC)": Text(t.started_at.strftime("%m-%d %H:%M:%S")),
                "workflow": Text(f"{t.workflow} v{t.workflow_version}"),
                "thread": Text(t.thread_id or ""),
                "status": Text(t.status, style="red" if t.status == "error" else ""),
                "ms": Text(f"{t.duration_ms:.1f}" if t.duration_ms is not None else ""),
                "cost share": Text(share.short if share is not None else ""),
            }
        )
    columns = ["trace", "started (UTC)", "workflow", "thread", "status", "ms"]
    if any(share is not None for share in shares):
        columns.append("cost share")  # an empty column only costs width

    def width(names: list[str]) -> int:
        cells = [
            min(w, _THREAD_FOLD) if name == "thread" else w
            for name in names
            for w in [max(cell_len(name), *(r[name].cell_len for r in rows))]
        ]
        return sum(cells) + 3 * len(names) + 1  # padding 1+1 and a rule per column, one more

    console = Console()
    hidden = []
    for name in _OPTIONAL:
        if width(columns) <= console.width:
            break
        if name in columns:
            columns.remove(name)
            hidden.append(name)
    table = Table(title="Recent traces (lgp-lab traces ID shows one)", title_justify="left")
    for name in columns:
        if name == "thread":
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, no_wrap=True, min_width=12 if name == "trace" else None)
    for row in rows:
        table.add_row(*(row[name] for name in columns))
    console.print(table)
    if hidden:
        console.print(
            f"hidden at {console.width} columns: {', '.join(hidden)} "
            "(a wider terminal or --json shows them)",
            style="dim", markup=False, highlight=False,
        )  # fmt: skip
    note = next((share.note for share in shares if share is not None), None)
    if note and "cost share" in columns:
        console.print(note, style="dim", markup=False, highlight=False, soft_wrap=True)


def _show_trace(trace) -> None:
    from rich.console import Console

    from lgp_lab.observability.cost import allocation

    console = Console(highlight=False)
    console.print(
        f"[bold]{trace.workflow}[/bold] v{trace.workflow_version} — {trace.status}"
        f" in {trace.duration_ms or 0:.1f} ms",
        markup=True,
    )
    console.print(
        f"trace {trace.trace_id} · thread {trace.thread_id} · checkpoint {trace.checkpoint_id}",
        markup=False,
    )
    console.print(f"tags: {', '.join(trace.tags)}", markup=False)
    share = allocation(trace.metadata)
    if share is not None:
        console.print(f"cost: {share.long}", markup=False)
    if trace.langfuse_url:
        console.print(f"Langfuse: {trace.langfuse_url}", markup=False)
    if trace.error:
        console.print(f"error: {trace.error}", style="red", markup=False)
    for span in trace.spans:
        took = f"{span.duration_ms:.1f} ms" if span.duration_ms is not None else "?"
        mark = "✗" if span.status == "error" else "↳"
        console.print(
            f"  {mark} {span.name} ({took})" + (f": {span.error}" if span.error else ""),
            markup=False,
        )
