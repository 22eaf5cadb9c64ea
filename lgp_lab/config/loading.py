"""Finding the project and loading an environment's configuration.

A project is the first directory, walking up from the working directory, that holds
``config/`` or ``workflows/``. Its ``config/<env>.yaml`` is validated by the section
models after ``${VAR}`` and ``${VAR:-default}`` are expanded from the environment.
Outside any project, built-in defaults apply with the working directory as root.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from lgp_lab.config.base import BUILTIN_ENVIRONMENTS, DEFAULT_ENV, KEY_REQUIRED
from lgp_lab.config.model import LabConfig
from lgp_lab.config.redaction import redact_url
from lgp_lab.errors import ConfigError

__all__ = [
    "ENV_VAR",
    "available_environments",
    "builtin_config",
    "expand_env",
    "find_project_root",
    "load_config",
    "parse_config_file",
]

ENV_VAR = "LGP_ENV"
# What the built-in defaults read from the environment (outside a project, or an
# environment without a config file), as the shipped config/*.yaml files do, so
# `LGP_API_KEY=... lgp-lab serve flow.py --env hosted` works anywhere.
_BUILTIN: dict[str, Any] = {
    "checkpoint": {"path": "${LGP_CHECKPOINT_PATH:-.lgp/checkpoints.sqlite}"},
    "server": {"api_key": "${LGP_API_KEY}"},
}
# Where no key is required (experiment) the key is optional, as config/experiment.yaml
# has it: an unset LGP_API_KEY is then no missing variable, the API is open by design.
_BUILTIN_OPEN: dict[str, Any] = {**_BUILTIN, "server": {"api_key": "${LGP_API_KEY:-}"}}
_ENV_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` with ``config/`` or ``workflows/``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "config").is_dir() or (candidate / "workflows").is_dir():
            return candidate
    return None


def available_environments(root: Path) -> list[str]:
    """Every environment a project has: the built-in ones and its ``config/*.yaml``.

    A file overrides the built-in environment of its name only; the others stay.
    """
    config_dir = root / "config"
    defined = {p.stem for p in config_dir.glob("*.yaml")} if config_dir.is_dir() else set()
    return sorted(defined | set(BUILTIN_ENVIRONMENTS))


def load_config(env: str | None = None, start: Path | None = None) -> LabConfig:
    """Load the configuration of environment ``env`` for the project around ``start``.

    Args:
        env: Environment name; defaults to ``$LGP_ENV`` or ``experiment``.
        start: Where to look for the project; defaults to the working directory.

    Raises:
        ConfigError: The environment does not exist or its file is invalid.
    """
    env = env or os.environ.get(ENV_VAR) or DEFAULT_ENV
    if not _ENV_NAME.match(env):
        raise ConfigError(
            f"environment name {env!r} is not valid",
            hint="use letters, digits, '_', '-' or '.', e.g. --env hosted",
        )
    root = find_project_root(start)
    if root is None:
        return _builtin_env(env).with_root(start or Path.cwd())

    path = root / "config" / f"{env}.yaml"
    if path.is_file():
        return parse_config_file(path, env=env).with_root(root, path)
    if env in BUILTIN_ENVIRONMENTS:
        # Built in until a file overrides it, whatever else config/ holds.
        return builtin_config(env).with_root(root)
    raise ConfigError(
        f"environment {env!r} has no config file {_rel(path, root)} and is not built in; "
        f"known: {', '.join(available_environments(root))}",
        hint=f"create {_rel(path, root)}, or pick a known one",
    )


def _builtin_env(env: str) -> LabConfig:
    """The built-in defaults of a known environment (outside a project, where no
    config/ defines others)."""
    if env not in BUILTIN_ENVIRONMENTS:
        raise ConfigError(
            f"environment {env!r} is not built in (no config/{env}.yaml here); "
            f"known: {', '.join(BUILTIN_ENVIRONMENTS)}",
            hint=f"pick a known one, or add config/{env}.yaml to the project",
        )
    return builtin_config(env)


def builtin_config(env: str = DEFAULT_ENV) -> LabConfig:
    """The defaults used without a config file; ``LGP_API_KEY`` and
    ``LGP_CHECKPOINT_PATH`` are read as the shipped config files read them (the key is
    required in ``hosted`` and ``production``, optional elsewhere)."""
    missing: set[str] = set()
    settings = _BUILTIN if env in KEY_REQUIRED else _BUILTIN_OPEN
    config = LabConfig.model_validate({**expand_env(settings, missing), "environment": env})
    config._missing_env = frozenset(missing)
    return config


def parse_config_file(path: Path, *, env: str | None = None) -> LabConfig:
    """Parse and validate one YAML config file."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})",
            hint="fix the YAML syntax (indentation, ':' after keys, quotes)",
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings, got {type(raw).__name__}",
            hint="start the file with keys such as 'checkpoint:'",
        )
    missing: set[str] = set()
    data = expand_env(raw, missing)
    data.setdefault("environment", env or path.stem)
    try:
        config = LabConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(path, exc) from None
    config._missing_env = frozenset(missing)
    return config


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, missing: set[str] | None = None) -> Any:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in every string of ``value``.

    An unset variable without a default expands to ``""`` and is added to ``missing``
    so the setting that needs it can say which variable to set.
    """
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            got = os.environ.get(name)
            if got is not None and (got != "" or default is None):
                return got
            if default is not None:
                return default
            if missing is not None:
                missing.add(name)
            return ""

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: expand_env(v, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, missing) for v in value]
    return value


def _config_error(path: Path, exc: ValidationError) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            parent = _model_at(err["loc"][:-1])
            known = sorted(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            fix = f"did you mean '{close[0]}'?" if close else "remove it"
            lines.append(f"unknown key '{loc}'; {fix} (known keys here: {', '.join(known)})")
        else:
            # Never echo a database password back (a checkpoint.url is in the input).
            lines.append(f"'{loc}': {err['msg']} (got {redact_url(err.get('input'))!r})")
    return ConfigError(
        f"{path}: invalid configuration\n  " + "\n  ".join(lines),
        hint="correct the key or value named above; see the README's Configuration section",
    )


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = LabConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
