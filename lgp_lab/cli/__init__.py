"""The ``lgp-lab`` (alias ``lgp``) command line: thin commands over :class:`lgp_lab.Lab`."""

from __future__ import annotations

import click

from lgp_lab import __version__
from lgp_lab.cli.check import check_command
from lgp_lab.cli.create import create_command, templates_command
from lgp_lab.cli.db import db_command
from lgp_lab.cli.deploy import deploy_command, incidents_command, releases_command
from lgp_lab.cli.mesh import mesh_command
from lgp_lab.cli.run import run_command
from lgp_lab.cli.serve import serve_command
from lgp_lab.cli.traces import traces_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lgp-lab")
def cli() -> None:
    """Run, hot-reload and serve LangGraph workflows with persistent threads."""


cli.add_command(run_command)
cli.add_command(create_command)
cli.add_command(templates_command)
cli.add_command(serve_command)
cli.add_command(traces_command)
cli.add_command(mesh_command)
cli.add_command(db_command)
cli.add_command(check_command)
cli.add_command(incidents_command)
cli.add_command(deploy_command)
cli.add_command(releases_command)


def main() -> None:
    """Console-script entry point."""
    import signal

    # SIGTERM ends a command like Ctrl-C does: watchers stop, the database closes.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    _log_to_stderr()
    try:
        cli(prog_name="lgp-lab")
    finally:
        _fast_exit()


def _fast_exit() -> None:
    """Skip the garbage collections of interpreter teardown.

    A command's resources are closed by now (the Lab's ``with`` block: database, engine
    loop, trace flush); what is left is tearing down LangGraph's ~3000 modules, where
    the collector walks every object again: 0.3 s of a 10 ms run. Freezing moves them
    out of its reach; atexit handlers and thread joins still run as usual.
    """
    import gc

    gc.freeze()


def _log_to_stderr() -> None:
    """lgp_lab's own INFO messages (e.g. each injected agent) as ``[lgp] ...`` lines."""
    import logging
    import sys

    logger = logging.getLogger("lgp_lab")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[lgp] %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
