"""How long `lgp-lab run` of a tiny workflow takes, and how much of it is exiting.

For a two-node workflow in a fresh temporary directory, measures as subprocesses:

- baseline: `python -c "import langgraph.graph"` (what any LangGraph script pays);
- after:  `lgp-lab run flow.py` as shipped;
- before: the same with the exit fix undone (`gc.freeze` made a no-op, so interpreter
  teardown collects LangGraph's objects again), for the before/after comparison.

For each it prints the median wall time and, for the runs, the time from the last output
line to the process exit (the "tail" a user waits through after the result printed).

    python bench/cli_exit.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOW = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END


class State(TypedDict, total=False):
    input: str
    output: str


def echo(state: State) -> State:
    return {"output": "echo: " + state.get("input", "")}


workflow = StateGraph(State)
workflow.add_node("echo", echo)
workflow.add_edge(START, "echo")
workflow.add_edge("echo", END)
"""

# `lgp-lab run` with gc.freeze() disabled: the CLI as it exited before the fix.
_BEFORE = "import gc, sys; gc.freeze = lambda: None; from lgp_lab.cli import main; main()"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, seconds from the last output line to exit) of one subprocess."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.stdout is not None
    last = t0
    for _line in proc.stdout:
        last = time.perf_counter()
    code = proc.wait()
    end = time.perf_counter()
    if code != 0:
        raise SystemExit(f"{' '.join(args)} exited {code}")
    return end - t0, end - last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per variant (median shown)")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="lgp-cli-exit-") as tmp:
        _bench(Path(tmp), runs)


def _bench(root: Path, runs: int) -> None:
    (root / "flow.py").write_text(FLOW, encoding="utf-8")
    py = sys.executable
    variants = {
        "baseline import langgraph.graph": [py, "-c", "import langgraph.graph"],
        "lgp-lab run (before: no fast exit)": [py, "-c", _BEFORE, "run", "flow.py", "-i", "hi"],
        "lgp-lab run (after)": [py, "-m", "lgp_lab", "run", "flow.py", "-i", "hi"],
    }
    timed(variants["lgp-lab run (after)"], root)  # warm the file cache and the database
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(runs):  # interleaved, so load on the machine hits every variant alike
        for name, args in variants.items():
            samples[name].append(timed(args, root))
    medians = {
        name: (statistics.median(w for w, _ in s), statistics.median(t for _, t in s))
        for name, s in samples.items()
    }
    print(f"median of {runs} runs each")
    for name, (wall, tail) in medians.items():
        shown = "" if name.startswith("baseline") else f"   last line → exit {tail * 1000:5.0f} ms"
        print(f"{name:36} wall {wall:5.2f} s{shown}")
    base = medians["baseline import langgraph.graph"][0]
    before, after = medians["lgp-lab run (before: no fast exit)"], medians["lgp-lab run (after)"]
    print(f"ratio wall / baseline: before {before[0] / base:.2f}, after {after[0] / base:.2f}")
    print(f"exit tail: before {before[1] * 1000:.0f} ms → after {after[1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
