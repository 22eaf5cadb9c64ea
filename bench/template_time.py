"""Idea to running workflow: `lgp-lab create` + first `lgp-lab run` from an empty directory.

For each template, in a fresh temporary directory, times the two commands a new user
types, end to end as subprocesses. The baseline, measured in the same run, is the
startup of `lgp-lab --version`. Target (plan R6): < 60 s.

    python bench/template_time.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATES = ["basic", "with_claude_code", "multi_agent", "data_pipeline", "custom"]


def timed(args: list[str], cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lgp_lab", *args], cwd=cwd, env=env, check=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    base = timed(["--version"], Path.cwd())
    print(f"lgp-lab --version (startup baseline): {base:.2f}s")
    worst = 0.0
    for template in TEMPLATES:
        root = Path(tempfile.mkdtemp(prefix=f"lgp-idea-{template}-"))
        create = timed(["create", "my_workflow", "--template", template], root)
        run = timed(["run", "my_workflow"], root)
        total = create + run
        worst = max(worst, total)
        print(f"{template:17} create {create:5.2f}s + first run {run:5.2f}s = {total:5.2f}s")
    print(f"slowest idea → running workflow: {worst:.2f}s  (target < 60 s)")
    print(f"ratio: {worst / base:.1f} (slowest create+run / startup)")


if __name__ == "__main__":
    main()
