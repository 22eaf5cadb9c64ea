"""Option parsing shared by the commands: JSON values, the environment, optional extras.

Every problem with what the user typed is a :class:`click.UsageError` (exit code 2,
naming the option); problems found later (loading, running) are ``LgpError`` (exit 1).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = [
    "input_option",
    "json_option",
    "lab_config",
    "require_extra",
]


def _read(text: str, option: str) -> str:
    """``@path`` → the file's text; anything else as given."""
    if not text.startswith("@"):
        return text
    path = Path(text[1:]).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise _bad(option, f"cannot read {path}: {exc.strerror or exc}") from None


def json_option(text: str | None, option: str) -> dict[str, Any] | None:
    """A JSON object option (``--context``, ``--config``): inline or ``@file.json``."""
    if text is None:
        return None
    raw = _read(text, option)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _bad(
            option,
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            f"""write it as '{{"key": "value"}}' or @file.json""",
        ) from None
    if not isinstance(value, dict):
        raise _bad(option, f"must be a JSON object, got {type(value).__name__}: {raw.strip()}")
    return value


def input_option(text: str | None, option: str = "--input") -> Any:
    """``--input`` (or ``--resume``): a JSON value, ``@file`` (JSON, or its text), or text.

    Text that starts like a JSON object or array must be valid JSON; other valid JSON
    (a quoted string, a number, ``true``) is passed as that value; anything else is
    passed as the text itself, which the workflow maps to its state (a user message on a
    graph with a ``messages`` channel). ``None``: no input was given.
    """
    if text is None:
        return None
    from lgp_lab.runtime.inputs import parse_json_or_text

    from_file = text.startswith("@")
    raw = _read(text, option)
    try:
        value = parse_json_or_text(raw, strict=True)
    except ValueError as exc:
        raise _bad(option, str(exc)) from None
    # A file's text keeps its content exactly; inline text too (only JSON is stripped).
    return raw if from_file and value is raw else value


def lab_config(env: str | None, default: str, out: Output) -> Any:
    """Load the configuration of ``--env`` (or ``$LGP_ENV``, or ``default``).

    An environment that does not exist is a usage error naming the known ones, also
    outside a project, where only the built-in environments exist. A config file that
    does not validate is printed as an error (a JSON document with ``--json``), exit 1.
    """
    from lgp_lab.config import (
        BUILTIN_ENVIRONMENTS,
        ENV_VAR,
        available_environments,
        find_project_root,
        load_config,
    )

    name = env or os.environ.get(ENV_VAR) or default
    origin = f"${ENV_VAR}" if env is None and os.environ.get(ENV_VAR) else "--env"
    root = find_project_root()
    # The built-in environments, and a project's config/<env>.yaml files.
    known = available_environments(root) if root is not None else list(BUILTIN_ENVIRONMENTS)
    if name not in known:
        raise _bad(
            origin,
            f"environment {name!r} is neither built in nor a config file config/{name}.yaml;"
            f" known: {', '.join(known)}\n  fix: pick a known one, or add config/{name}.yaml"
            " to the project",
        )
    try:
        return load_config(name)
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)


def require_extra(extra: str, *modules: str) -> None:
    """Import ``modules`` or exit with one line naming ``pip install "lgp-lab[extra]"``."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or module
            raise MissingExtra(
                f"{missing!r} is not installed (needed here); "
                f'install it with: pip install "lgp-lab[{extra}]"'
            ) from None


class MissingExtra(click.ClickException):
    """An optional dependency is missing: one ``[lgp] ❌`` line naming the install, exit 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"[lgp] ❌ {self.message}", err=True)


def _bad(option: str, message: str) -> click.BadParameter:
    ctx = click.get_current_context(silent=True)
    return click.BadParameter(message, ctx=ctx, param_hint=f"'{option}'")
