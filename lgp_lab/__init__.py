"""lgp_lab: run, hot-reload and serve LangGraph workflows from JupyterLab and the terminal.

Importing this package is instant and side-effect free; ``Lab`` and friends are
imported on first access.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lgp_lab._version import __version__

__all__ = [
    "Lab",
    "LgpError",
    "RunResult",
    "Workflow",
    "__version__",
    "get_lab",
    "load_config",
    "load_ipython_extension",
    "studio",
    "unload_ipython_extension",
]

if TYPE_CHECKING:
    from lgp_lab.config import load_config
    from lgp_lab.errors import LgpError
    from lgp_lab.kernel import get_lab
    from lgp_lab.lab import Lab
    from lgp_lab.runtime.result import RunResult
    from lgp_lab.runtime.workflow import Workflow
    from lgp_lab.widgets.studio import studio

_LAZY = {
    "Lab": "lgp_lab.lab",
    "LgpError": "lgp_lab.errors",
    "RunResult": "lgp_lab.runtime.result",
    "Workflow": "lgp_lab.runtime.workflow",
    "load_config": "lgp_lab.config",
    "get_lab": "lgp_lab.kernel",
    "studio": "lgp_lab.widgets.studio",
}


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext lgp_lab``: register the magics (the Lab is created on first use)."""
    from lgp_lab.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext lgp_lab``: remove the handlers and close the kernel's Lab."""
    from lgp_lab.magics import unload

    unload(ipython)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lgp_lab' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    if name in ("Lab", "RunResult", "get_lab"):
        _show_results_in_ipython()
    return value


def _show_results_in_ipython() -> None:
    """In IPython, show run results as rich views without ``%load_ext`` too (the domain's
    ``RunResult`` does not render itself; :mod:`lgp_lab.display` registers its view)."""
    import sys

    if "IPython" not in sys.modules:
        return  # not a notebook or IPython shell: nothing to register with
    from IPython import get_ipython

    ipython = get_ipython()
    if ipython is not None:
        from lgp_lab.display import register

        register(ipython)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
