"""The process's (kernel's) default Lab, created on first use.

Magics, widgets and user code share it through :func:`get_lab`, so a notebook and the
API it serves (``%lgp_serve``) use one checkpointer and one copy of each workflow.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lgp_lab.lab import Lab

__all__ = ["close_labs", "get_lab", "labs"]

_LOCK = threading.Lock()
_LABS: dict[str | None, Lab] = {}


def get_lab(env: str | None = None, *, root: str | Path | None = None) -> Lab:
    """The shared Lab for ``env`` (default: ``$LGP_ENV`` or experiment), created on first use.

    The project is found from the working directory (a notebook's own directory in
    Jupyter), as the CLI does.
    """
    from lgp_lab.lab import Lab

    with _LOCK:
        lab = _LABS.get(env)
        if lab is None or lab.closed:
            # The notebook display shows each run; per-node console lines would be noise.
            lab = Lab(env=env, root=root, console=False)
            _LABS[env] = lab
            _LABS.setdefault(lab.environment, lab)
        return lab


def labs() -> list[Lab]:
    """The shared Labs created so far."""
    with _LOCK:
        return list({id(lab): lab for lab in _LABS.values()}.values())


def close_labs() -> None:
    """Close every shared Lab (watchers, servers, engine loop, database)."""
    for lab in labs():
        lab.close()
    with _LOCK:
        _LABS.clear()
