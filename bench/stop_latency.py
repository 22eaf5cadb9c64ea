"""How fast lgp_lab lets go: interrupts, Ctrl-C, and a dead Langfuse.

The timing checks that used to sit in unit tests, measured here against a baseline taken
in the same run:

- kernel interrupt: a kernel interrupt during ``%lgp_run`` of a node sleeping 30 s, until
  the ``KeyboardInterrupt`` reply; baseline: interrupting ``time.sleep(30)`` in the same
  kernel. Target: < 3 s (was in tests/test_kernel.py).
- Ctrl-C of ``lgp-lab run --watch``: SIGINT until the process exits; baseline: SIGINT of a
  Python process that imported lgp_lab and sleeps. Target: < 2 s (was in test_reload.py).
- Langfuse down: wall time of ``lgp-lab run`` with Langfuse at a closed loopback port;
  baseline: the same run with Langfuse off. Target: + < 2.5 s (was in test_observability).

    python bench/stop_latency.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SLOW_FLOW = """
import asyncio
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END

class S(TypedDict, total=False):
    input: str
    output: str

async def step(state):
    await asyncio.sleep(float(state.get("input") or 0))
    return {"output": "done"}

workflow = StateGraph(S)
workflow.add_node("step", step)
workflow.add_edge(START, "step")
workflow.add_edge("step", END)
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    env.update(extra, PYTHONUNBUFFERED="1")
    return env


def _project(tmp: Path) -> Path:
    root = tmp / "proj"
    shutil.copytree(REPO / "workflows", root / "workflows")
    shutil.copytree(REPO / "config", root / "config")
    (root / "slow_flow.py").write_text(SLOW_FLOW, encoding="utf-8")
    return root


def _wait_idle(kc, msg_id: str, timeout: float = 60) -> dict:
    """The shell reply to ``msg_id`` (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reply = kc.get_shell_msg(timeout=1)
        except queue.Empty:
            continue
        if reply["parent_header"].get("msg_id") == msg_id:
            return reply["content"]
    raise TimeoutError(f"no reply within {timeout} s")


def _checkpoints(project: Path, thread_id: str) -> int:
    import sqlite3

    path = project / ".lgp" / "checkpoints.sqlite"
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        sql = "SELECT COUNT(*) FROM checkpoints WHERE thread_id = ?"
        return db.execute(sql, (thread_id,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def kernel_interrupt(project: Path, runs: int) -> tuple[list[float], list[float]]:
    """(lgp_run interrupt latencies, plain sleep interrupt latencies) in seconds."""
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3", cwd=str(project))
    ours, base = [], []
    try:
        _wait_idle(
            kc,
            kc.execute(
                '%load_ext lgp_lab\nr = %lgp_run slow_flow.py -i \'{"input": "0"}\' -t s -q'
            ),
        )
        for _ in range(runs):
            before = _checkpoints(project, "s")
            msg_id = kc.execute(
                '%lgp_run slow_flow.py -i \'{"input": "30"}\' -t s -q', stop_on_error=False
            )
            deadline = time.monotonic() + 30
            while _checkpoints(project, "s") <= before and time.monotonic() < deadline:
                time.sleep(0.02)
            started = time.perf_counter()
            km.interrupt_kernel()
            _wait_idle(kc, msg_id)
            ours.append(time.perf_counter() - started)

            msg_id = kc.execute("import time\ntime.sleep(30)", stop_on_error=False)
            time.sleep(0.5)  # the cell is running (a benchmark, not a test)
            started = time.perf_counter()
            km.interrupt_kernel()
            _wait_idle(kc, msg_id)
            base.append(time.perf_counter() - started)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return ours, base


def _sigint_exit(args: list[str], cwd: Path, ready: str) -> float:
    proc = subprocess.Popen(
        args, cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        if ready in line or time.monotonic() > deadline:
            break
    started = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    return time.perf_counter() - started


def ctrl_c(project: Path, runs: int) -> tuple[list[float], list[float]]:
    """(lgp-lab run --watch exit after SIGINT, plain python exit after SIGINT)."""
    ours, base = [], []
    for _ in range(runs):
        ours.append(
            _sigint_exit(
                [sys.executable, "-m", "lgp_lab", "run", "basic_workflow", "--watch"],
                project,
                "Complete",
            )
        )
        code = "import lgp_lab, time\nprint('ready', flush=True)\ntime.sleep(60)"
        base.append(_sigint_exit([sys.executable, "-c", code], project, "ready"))
    return ours, base


def langfuse_down(project: Path, runs: int) -> tuple[list[float], list[float]]:
    """(run wall time with Langfuse at a closed port, the same without Langfuse)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    traced_env = _env(
        LANGFUSE_PUBLIC_KEY="pk-lf-bench",
        LANGFUSE_SECRET_KEY="sk-lf-bench",
        LANGFUSE_BASE_URL=closed,
    )
    args = [sys.executable, "-m", "lgp_lab", "run", "basic_workflow", "-i", "hi"]
    ours, base = [], []
    for _ in range(runs):  # interleaved: both see the same machine load
        for env, sink in ((traced_env, ours), (_env(), base)):
            started = time.perf_counter()
            subprocess.run(args, cwd=project, env=env, capture_output=True, timeout=120)
            sink.append(time.perf_counter() - started)
    return ours, base


def _report(name: str, ours: list[float], base: list[float], target: str) -> None:
    o, b = statistics.median(ours), statistics.median(base)
    print(
        f"{name:<22} lgp_lab {o * 1000:8.0f} ms   baseline {b * 1000:8.0f} ms   "
        f"ratio {o / b if b else float('inf'):5.2f}   +{(o - b) * 1000:6.0f} ms   ({target})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-kernel", action="store_true", help="no Jupyter kernel part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lgp-bench-stop-") as tmp:
        project = _project(Path(tmp))
        print(f"median of {args.runs} runs, baseline measured in the same run")
        if not args.skip_kernel:
            _report("kernel interrupt", *kernel_interrupt(project, args.runs), "target < 3 s")
        _report("Ctrl-C run --watch", *ctrl_c(project, args.runs), "target < 2 s")
        _report("Langfuse down", *langfuse_down(project, args.runs), "target + < 2500 ms")


if __name__ == "__main__":
    main()
