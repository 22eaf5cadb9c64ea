"""The ``lgp-lab`` (alias ``lgp``) command line: thin commands over :class:`lgp_lab.Lab`."""

from __future__ import annotations

import importlib
from collections.abc import ItemsView, Iterator, ValuesView
from typing import Any

import click

from lgp_lab._version import __version__

__all__ = ["cli", "main"]

# Each command's module is imported when that command runs (or --help lists it): one
# command's dependencies (rich tables, deploy's clients, the checks) are not every
# command's start-up cost; `lgp-lab serve` imports serve.py alone.
_COMMANDS = {
    "run": "lgp_lab.cli.run:run_command",
    "create": "lgp_lab.cli.create:create_command",
    "templates": "lgp_lab.cli.create:templates_command",
    "serve": "lgp_lab.cli.serve:serve_command",
    "traces": "lgp_lab.cli.traces:traces_command",
    "mesh": "lgp_lab.cli.mesh:mesh_command",
    "db": "lgp_lab.cli.db:db_command",
    "check": "lgp_lab.cli.check:check_command",
    "incidents": "lgp_lab.cli.deploy:incidents_command",
    "deploy": "lgp_lab.cli.deploy:deploy_command",
    "releases": "lgp_lab.cli.deploy:releases_command",
}


class _LazyCommands(dict):  # type: ignore[type-arg]
    """``Group.commands``: name -> Command, each imported on first access.

    Values are ``"module:attr"`` until read; every read path (``[]``, ``get``,
    ``items``, ``values``) resolves them, so code that walks ``cli.commands`` sees
    Command objects as before. Names (``in``, iteration, ``sorted``) need no import.
    """

    def _resolve(self, name: str) -> click.Command:
        value = dict.__getitem__(self, name)
        if isinstance(value, str):
            module, _, attr = value.partition(":")
            value = getattr(importlib.import_module(module), attr)
            dict.__setitem__(self, name, value)
        return value

    def __getitem__(self, name: str) -> click.Command:
        return self._resolve(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self._resolve(name) if dict.__contains__(self, name) else default

    def items(self) -> ItemsView[str, click.Command]:  # type: ignore[override]
        return {name: self._resolve(name) for name in self}.items()

    def values(self) -> ValuesView[click.Command]:  # type: ignore[override]
        return {name: self._resolve(name) for name in self}.values()

    def __iter__(self) -> Iterator[str]:
        return dict.__iter__(self)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lgp-lab")
def cli() -> None:
    """Run, hot-reload and serve LangGraph workflows with persistent threads."""


cli.commands = _LazyCommands(_COMMANDS)


def main() -> None:
    """Console-script entry point."""
    import signal

    # SIGTERM ends a command like Ctrl-C does: watchers stop, the database closes.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    # Ctrl-C (SIGINT) too, even when the command was started with SIGINT ignored (in
    # the background of a non-interactive shell, as CI jobs and process managers start
    # it): Python then installs no handler, and the server would outlive every Ctrl-C.
    # uvicorn, under `langgraph dev`, installs its own the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
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
