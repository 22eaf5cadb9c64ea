"""Hot-reload latency: save -> new result on screen, and save -> detection.

Starts the real ``lgp-lab run FLOW --watch`` subprocess in a temp project, saves a new
version of the workflow N times, and times each save until the new result appears on
the subprocess's stdout. Detection latency (save -> the watcher sees it) and reload
time (import + compile) are measured separately in-process with ``Lab.watch``.
Targets: detection < 500 ms, total < 2 s, our own total median < 300 ms.

    python bench/reload_latency.py [--edits 12]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

FLOW = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
{imports}

class S(TypedDict, total=False):
    input: str
    output: str

def a(state):
    return {{"output": "{marker}"}}

def b(state):
    return {{"output": state["output"] + "!"}}

def c(state):
    return {{"output": state["output"] + "!"}}

workflow = StateGraph(S)
for name, fn in (("a", a), ("b", b), ("c", c)):
    workflow.add_node(name, fn)
workflow.add_edge(START, "a")
workflow.add_edge("a", "b")
workflow.add_edge("b", "c")
workflow.add_edge("c", END)
"""


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def cli_latency(root: Path, edits: int) -> list[float]:
    flow = root / "flow.py"
    flow.write_text(FLOW.format(marker="m0", imports=""))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LGP_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lgp_lab", "run", "flow.py", "--watch", "--json"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        bufsize=1,
    )
    lines: queue.Queue[tuple[float, str]] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put((time.perf_counter(), line))

    threading.Thread(target=pump, daemon=True).start()

    def wait_marker(marker: str, timeout: float = 15) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                at, line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            if f'"{marker}!!"' in line:
                return at
        raise TimeoutError(f"no result with {marker} within {timeout}s")

    samples = []
    try:
        wait_marker("m0", 30)
        for i in range(1, edits + 1):
            time.sleep(0.3)  # a human pause between saves
            marker = f"m{i}"
            t0 = time.perf_counter()
            flow.write_text(FLOW.format(marker=marker, imports=""))
            samples.append(wait_marker(marker) - t0)
    finally:
        proc.terminate()
        proc.wait(10)
    return samples


def engine_latency(root: Path, edits: int) -> tuple[list[float], list[float], list[float]]:
    from lgp_lab import Lab
    from lgp_lab.config import LabConfig

    flow = root / "engine_flow.py"
    flow.write_text(FLOW.format(marker="e0", imports=""))
    events: queue.Queue = queue.Queue()
    detect, reload, total = [], [], []
    with Lab(LabConfig().with_root(root)) as lab:
        lab.watch(str(flow), on_reload=lambda e: events.put((time.perf_counter(), e)))
        for i in range(1, edits + 1):
            time.sleep(0.2)
            t0 = time.perf_counter()
            flow.write_text(FLOW.format(marker=f"e{i}", imports=""))
            at, event = events.get(timeout=15)
            assert event.ok, event.error
            total.append(at - t0)
            reload.append(event.reload_s)
            detect.append(at - t0 - event.reload_s)
    return detect, reload, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--edits", type=int, default=12)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lgp-reload-"))
    detect, reload, swap = engine_latency(root, args.edits)
    screen = cli_latency(root, args.edits)
    print(f"edits: {args.edits} (3-node workflow)")
    print(f"detection   (save -> watcher sees it):        {ms(detect)}   target < 500 ms")
    print(f"reload      (re-import + compile + swap):     {ms(reload)}")
    print(f"engine      (save -> new version live):       {ms(swap)}")
    print(
        f"on screen   (save -> new result in `run --watch`): {ms(screen)}   "
        "targets: median < 300 ms, max < 2 s"
    )
    print(
        f"ratio: {statistics.median(screen) / statistics.median(swap):.2f} "
        "(on screen / engine swap)"
    )


if __name__ == "__main__":
    main()
