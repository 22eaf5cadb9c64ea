"""Extension points: LLM providers and mesh backends found through entry points.

A provider or a mesh backend is a package, not an edit to a list (as simonw/llm does):
it declares an entry point in the ``lgp_lab.providers`` or ``lgp_lab.mesh_backends``
group, and lgp_lab's own are registered the same way in its ``pyproject.toml``::

    [project.entry-points."lgp_lab.providers"]
    my_llm = "my_package.provider:MyProvider"

The built-ins are also known here by name, so an install whose entry-point metadata is
stale (an editable install not reinstalled since the group was added) still finds them.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from typing import Any

__all__ = ["MESH_BACKENDS_GROUP", "PROVIDERS_GROUP", "mesh_backends", "plugins", "providers"]

PROVIDERS_GROUP = "lgp_lab.providers"
MESH_BACKENDS_GROUP = "lgp_lab.mesh_backends"

_BUILTINS: dict[str, dict[str, str]] = {
    PROVIDERS_GROUP: {
        "claude_code": "lgp_lab.agents.providers:ClaudeCodeProvider",
        "ollama": "lgp_lab.agents.providers:OllamaProvider",
        "offline": "lgp_lab.agents.providers:OfflineProvider",
    },
    MESH_BACKENDS_GROUP: {
        "echo": "lgp_lab.agents.mesh.backends:EchoBackend",
        "claude": "lgp_lab.agents.mesh.backends:ClaudeCliBackend",
        "llm": "lgp_lab.agents.mesh.backends:LLMBackend",
    },
}

log = logging.getLogger("lgp_lab.agents")


def plugins(group: str) -> dict[str, Any]:
    """The objects registered under entry-point ``group`` by name, built-ins included.

    An entry point that fails to import is logged and skipped: one broken plugin
    package must not take the others (or the built-ins) down with it.
    """
    found: dict[str, Any] = {}
    for name, target in _BUILTINS.get(group, {}).items():
        found[name] = _resolve(target)
    for ep in entry_points(group=group):
        if ep.name in found and ep.value == _BUILTINS.get(group, {}).get(ep.name):
            continue
        try:
            found[ep.name] = ep.load()
        except Exception as exc:
            log.warning("skipping %s entry point %r (%s): %s", group, ep.name, ep.value, exc)
    return found


def providers() -> dict[str, Any]:
    """LLM provider classes by name (``lgp_lab.providers``)."""
    return plugins(PROVIDERS_GROUP)


def mesh_backends() -> dict[str, Any]:
    """Mesh backend classes by name (``lgp_lab.mesh_backends``)."""
    return plugins(MESH_BACKENDS_GROUP)


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
