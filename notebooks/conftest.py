"""The notebooks run under nbval on a temporary database and leave no files behind.

Their kernels start in this directory, inside the repository's project, whose config
reads ``LGP_CHECKPOINT_PATH``: while notebook cells run, it points at a temporary file,
so the tour's threads and traces never land in the project's own ``.lgp/``. Files a
notebook writes here (the quickstart's ``quickstart_flow.py``) are removed afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
_VAR = "LGP_CHECKPOINT_PATH"
_active: dict[str, Any] = {}


def _is_notebook_cell(item: pytest.Item | None) -> bool:
    return item is not None and item.path.suffix == ".ipynb"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before the first cell (and so before nbval starts the kernel, which inherits the
    environment): a temporary database, and a record of this directory's files."""
    if not _is_notebook_cell(item) or _active:
        return
    tmp = tempfile.mkdtemp(prefix="lgp-nbval-")
    _active.update(tmp=tmp, saved=os.environ.get(_VAR), before=set(HERE.iterdir()))
    os.environ[_VAR] = str(Path(tmp) / "checkpoints.sqlite")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last notebook cell (its kernel is shut down by now): restore the
    environment, remove what the notebooks wrote here and the temporary database."""
    if not _active or _is_notebook_cell(nextitem):
        return
    if _active["saved"] is None:
        os.environ.pop(_VAR, None)
    else:
        os.environ[_VAR] = _active["saved"]
    for path in set(HERE.iterdir()) - _active["before"]:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    shutil.rmtree(_active["tmp"], ignore_errors=True)
    _active.clear()
