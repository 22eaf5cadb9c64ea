"""``lgp-lab traces``: recent runs from the local trace store."""

from __future__ import annotations

import sys

import click

from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["traces_command"]


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
    """List recent traces, or show one trace (TRACE_ID) with its node spans."""
    from lgp_lab.lab import Lab

    out = Output(json_only=json_only)
    try:
        with Lab(env=env) as lab:
            if trace_id:
                trace = lab.traces.get(trace_id)
                if trace is None:
                    out.error(LgpError(f"trace {trace_id!r} not found in the local trace store"))
                    sys.exit(1)
                if json_only:
                    out.result("Trace", trace.to_dict())
                else:
                    _show_trace(trace)
                return
            traces = lab.traces.list(workflow, thread_id=thread_id, limit=limit)
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    if json_only:
        out.result("Traces", [t.to_dict() for t in traces])
        return
    if not traces:
        out.status("No traces yet: run a workflow (lgp-lab run ...) first")
        return
    _table(traces)


def _table(traces: list) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Recent traces (lgp-lab traces ID shows one)", title_justify="left")
    table.add_column("trace", no_wrap=True, min_width=12)
    for column in ("started (UTC)", "workflow", "thread", "status", "ms", "$/run"):
        table.add_column(column, overflow="fold")
    for t in traces:
        per_run = t.metadata.get("cost_per_invocation")
        table.add_row(
            t.trace_id[:12],
            t.started_at.strftime("%m-%d %H:%M:%S"),
            f"{t.workflow} v{t.workflow_version}",
            t.thread_id or "",
            t.status if t.status != "error" else f"[red]{t.status}[/red]",
            f"{t.duration_ms:.1f}" if t.duration_ms is not None else "",
            f"${per_run:.4f}" if per_run is not None else "",
        )
    Console().print(table)


def _show_trace(trace) -> None:
    from rich.console import Console

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
