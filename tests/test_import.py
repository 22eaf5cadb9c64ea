"""``import lgp_lab`` is side-effect free: no thread, no file, no heavy imports."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import os, sys, threading
before = set(os.listdir('/proc/self/fd'))
import lgp_lab
after = set(os.listdir('/proc/self/fd'))
assert threading.active_count() == 1, threading.enumerate()
assert after == before, (before, after)
heavy = [m for m in ('langgraph', 'aiosqlite', 'IPython', 'fastapi', 'yaml', 'pydantic')
         if m in sys.modules]
assert not heavy, heavy
print('clean')
"""


def test_import_starts_nothing(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"
    assert list(tmp_path.iterdir()) == []
