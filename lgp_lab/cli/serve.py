"""``lgp-lab serve``: the same workflow files as an authenticated HTTP API."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from lgp_lab.cli._options import lab_config, require_extra
from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["serve_command"]


@click.command("serve")
@click.argument("workflows", nargs=-1)
@click.option(
    "--host",
    metavar="ADDR",
    help="Bind address (default server.host: 127.0.0.1). Binding another address "
    "exposes the API beyond this machine.",
)
@click.option(
    "--port",
    "-p",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="TCP port (default server.port: 8000; 0 picks a free one).",
)
@click.option(
    "--env", "-e", "env", metavar="NAME", help="Config environment (default: $LGP_ENV or hosted)."
)
@click.option(
    "--watch",
    "-w",
    is_flag=True,
    help="Hot-reload the served workflows; requests always get a working version.",
)
@click.option("--verbose", "-v", is_flag=True, help="Log each request and show tracebacks.")
def serve_command(
    workflows: tuple[str, ...],
    host: str | None,
    port: int | None,
    env: str | None,
    watch: bool,
    verbose: bool,
) -> None:
    """Serve WORKFLOWS (files, path.py:attr, langgraph.json graph ids or registered names;
    default: every graph the project declares) over HTTP."""
    import gc

    # No garbage collection until the server is ready (_tune_gc turns it back on): the
    # start-up imports (FastAPI, LangGraph, the graphs) allocate ~150,000 long-lived
    # objects, and the collector walked them again and again (~300 passes, 0.1-0.3 s of
    # the start-up) to find ~1,000 garbage objects in all.
    gc.disable()
    try:
        require_extra("server", "fastapi", "uvicorn")
        out = Output(verbose=verbose)
        config = lab_config(env, "hosted", out)
        sys.exit(_serve(out, list(workflows), host, port, config, watch, verbose))
    finally:
        gc.enable()


def _serve(
    out: Output,
    targets: list[str],
    host: str | None,
    port: int | None,
    config: Any,
    watch: bool,
    verbose: bool,
) -> int:
    from lgp_lab.lab import Lab
    from lgp_lab.runtime.engine import fast_loop_factory
    from lgp_lab.server.background import start_server

    started = time.perf_counter()

    try:
        with Lab(config=config, loop_factory=fast_loop_factory()) as lab:
            out.status("Starting API server...")
            out.status(f"Environment: {lab.environment}")
            handle = start_server(
                lab, targets, host=host, port=port, watch=watch, access_log=verbose
            )
            served = ", ".join(f"{n} (v{lab.workflows[n].version})" for n in handle.workflows)
            out.status(f"Workflows: {served}")
            if lab.config.server.keys():
                out.status("Auth: API key required (Authorization: Bearer <key>)")
            else:
                out.status("Auth: open (no API key configured)", style="yellow")
            if watch:
                out.status("Hot reload: ON")
            out.status(f"Server: {handle.url}  (docs: /docs)")
            out.status(f"✅ Ready ({time.perf_counter() - started:.2f}s)", style="green")
            _tune_gc(watch)
            try:
                while not handle.stopped:
                    time.sleep(0.2)
                out.status("Server exited", style="red")
                return 1
            except KeyboardInterrupt:
                out.status("Shutting down (finishing in-flight requests)...")
                handle.stop()
                out.status("Stopped")
                return 0
    except KeyboardInterrupt:
        return 0
    except LgpError as exc:
        out.error(exc)
        return 1


def _tune_gc(watch: bool) -> None:
    """Garbage-collector settings for a long-running server, once it is ready.

    A run allocates many short-lived objects; with CPython's defaults the collector ran
    ~100 times a second under load here and its full passes re-scanned every object of
    the loaded libraries and graphs: about 7% of the server's CPU (``bench/agent_api.py``).
    ``gc.freeze()`` moves what startup built out of the collector's sight (it stays
    alive: modules, the served graphs), and a larger first generation makes young
    collections rarer. Not with ``--watch``: a reloaded graph's predecessor was frozen,
    and if it holds reference cycles only the collector could free it.

    The collector was off during start-up (``serve_command``) and is turned on here.
    There is no full collection before the freeze: it found no garbage at this point,
    and it held the interpreter ~0.1 s while the first requests (``/ok``) waited; the
    few cycles start-up leaves (~1,000 objects, mostly LangGraph's import) stay frozen.
    """
    import gc

    gc.set_threshold(10_000, 20, 50)
    if not watch:
        gc.freeze()
    gc.enable()
