"""A LangGraph project's ``langgraph.json``: its graphs, dependencies, env and store.

lgp_lab reads the same file ``langgraph dev`` does (schema in langgraph-cli's
``schemas.py``), so an existing project runs unchanged::

    {
      "dependencies": ["."],
      "graphs": {"agent": "./src/agent/graph.py:graph"},
      "env": ".env",
      "store": {"index": {"embed": "openai:text-embedding-3-small", "dims": 1536}}
    }

``graphs`` values are ``"./path.py:attr"`` strings or objects with ``path`` (and
``description``). ``dependencies`` that are local paths become importable the way
``langgraph dev``'s editable install makes them: the directory itself, and its ``src/``
for a src layout. ``env`` (a ``.env`` file or a mapping) fills variables that are not
already set — the real environment wins.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lgp_lab.errors import ConfigError
from lgp_lab.ids import split_target

__all__ = [
    "PROJECT_FILE",
    "GraphSpec",
    "Project",
    "find_project_file",
    "read_project",
    "split_target",
]

PROJECT_FILE = "langgraph.json"
_KNOWN_KEYS = {
    "$schema",
    "dependencies",
    "graphs",
    "env",
    "store",
    "checkpointer",
    "http",
    "auth",
    "python_version",
    "node_version",
    "pip_config_file",
    "pip_installer",
    "base_image",
    "image_distro",
    "dockerfile_lines",
    "keep_pkg_tools",
    "api_version",
    "ui",
    "ui_config",
    "webhooks",
    "encryption",
    "middleware_order",
}
_ACTIVATED: set[Path] = set()
_ACTIVATE_LOCK = threading.Lock()


@dataclass(frozen=True)
class GraphSpec:
    """One graph a project declares: ``path.py`` and the module attribute (if named)."""

    name: str
    path: Path
    attr: str | None = None
    description: str = ""
    declared_in: Path | None = None


@dataclass
class Project:
    """A parsed ``langgraph.json``."""

    file: Path
    graphs: dict[str, GraphSpec] = field(default_factory=dict)
    dependencies: list[Path] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    store: dict[str, Any] | None = None
    checkpointer: dict[str, Any] | None = None

    @property
    def root(self) -> Path:
        """The directory holding ``langgraph.json``."""
        return self.file.parent

    def import_paths(self) -> list[Path]:
        """Directories put on ``sys.path`` so the project's own packages import."""
        paths: list[Path] = []
        for dep in self.dependencies:
            src = dep / "src"
            if src.is_dir():
                paths.append(src)  # src layout: the package lives under src/
            paths.append(dep)
        return paths

    def activate(self) -> None:
        """Make the dependencies importable and load ``env`` (once per file per process).

        Variables already in the environment are never overridden.
        """
        with _ACTIVATE_LOCK:
            for path in reversed(self.import_paths()):
                entry = str(path)
                if entry not in sys.path:
                    sys.path.insert(0, entry)
                _forget_shadowed(path)
            if self.file in _ACTIVATED:
                return
            _ACTIVATED.add(self.file)
            for key, value in self.env.items():
                os.environ.setdefault(key, value)


def find_project_file(start: Path | None = None, *, stop: Path | None = None) -> Path | None:
    """The nearest ``langgraph.json`` at or above ``start`` (not above ``stop``)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        file = candidate / PROJECT_FILE
        if file.is_file():
            return file
        if stop is not None and candidate == stop.resolve():
            break
    return None


def read_project(file: Path) -> Project:
    """Parse and validate ``langgraph.json``.

    Raises:
        ConfigError: Not JSON, or a key has the wrong shape; names the key and the fix.
    """
    file = file.resolve()
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})",
            hint="fix the JSON syntax (langgraph.json allows no comments or trailing commas)",
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: must be a JSON object", hint='e.g. {"graphs": {...}}')
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], sorted(_KNOWN_KEYS), n=1)
        raise ConfigError(
            f"{file}: unknown key(s) {', '.join(repr(k) for k in unknown)}",
            hint=f"did you mean {close[0]!r}?" if close else "see the langgraph.json reference",
        )
    return Project(
        file=file,
        graphs=_graphs(file, raw.get("graphs", {})),
        dependencies=_dependencies(file, raw.get("dependencies", [])),
        env=_env(file, raw.get("env")),
        store=_mapping(file, "store", raw.get("store")),
        checkpointer=_mapping(file, "checkpointer", raw.get("checkpointer")),
    )


# --------------------------------------------------------------------------- private


def _forget_shadowed(path: Path) -> None:
    """Drop imported modules that this project's own packages shadow.

    A kernel that ran another project with a package of the same name (``agent``)
    would otherwise keep serving that project's modules.
    """
    try:
        names = {
            child.stem if child.suffix == ".py" else child.name
            for child in path.iterdir()
            if (child.suffix == ".py" and child.stem.isidentifier())
            or ((child / "__init__.py").is_file() and child.name.isidentifier())
        }
    except OSError:
        return
    for mod_name, module in list(sys.modules.items()):
        top = mod_name.partition(".")[0]
        if top not in names:
            continue
        file = getattr(module, "__file__", None)
        if file is None:
            continue
        try:
            Path(file).resolve().relative_to(path)
        except ValueError:
            sys.modules.pop(mod_name, None)


def _graphs(file: Path, raw: Any) -> dict[str, GraphSpec]:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{file}: 'graphs' must map graph ids to './path.py:attr'",
            hint='write e.g. "graphs": {"agent": "./src/agent/graph.py:graph"}',
        )
    graphs: dict[str, GraphSpec] = {}
    for name, spec in raw.items():
        description = ""
        if isinstance(spec, dict):
            description = str(spec.get("description") or "")
            spec = spec.get("path")
        if not isinstance(spec, str) or not spec.strip():
            raise ConfigError(
                f"{file}: graph {name!r} needs a path like './src/agent/graph.py:graph' "
                f"(got {spec!r})",
                hint=f'write "{name}": "./path/to/graph.py:graph"',
            )
        path_text, attr = split_target(spec.strip())
        if not path_text.endswith(".py"):
            # "module.sub:attr" (an installed module) — resolve against the dependencies.
            module, _, attr_text = spec.strip().partition(":")
            path_text = module.replace(".", "/") + ".py"
            attr = attr_text or None
            candidates = [file.parent / path_text, file.parent / "src" / path_text]
            found = next((c for c in candidates if c.is_file()), candidates[0])
            path = found
        else:
            path = Path(path_text)
            path = path if path.is_absolute() else file.parent / path
        graphs[str(name)] = GraphSpec(
            name=str(name),
            path=path.resolve(),
            attr=attr,
            description=description,
            declared_in=file,
        )
    return graphs


def _dependencies(file: Path, raw: Any) -> list[Path]:
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        raise ConfigError(
            f"{file}: 'dependencies' must be a list of strings",
            hint='write e.g. "dependencies": ["."]',
        )
    paths = []
    for dep in raw:
        # Local paths start with "." or "/"; other entries are PyPI requirements that
        # `langgraph dev` would pip-install — they must already be installed here.
        if dep.startswith((".", "/")):
            path = Path(dep)
            path = (path if path.is_absolute() else file.parent / path).resolve()
            if path.is_dir():
                paths.append(path)
    return paths


def _env(file: Path, raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    if isinstance(raw, str):
        env_file = Path(raw)
        env_file = env_file if env_file.is_absolute() else file.parent / env_file
        if not env_file.is_file():
            return {}  # langgraph dev also starts without the .env a fresh clone lacks
        from dotenv import dotenv_values

        return {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    raise ConfigError(
        f"{file}: 'env' must be a path to a .env file or a mapping (got {raw!r})",
        hint='write "env": ".env"',
    )


def _mapping(file: Path, key: str, raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: {key!r} must be an object (got {raw!r})")
    return raw
