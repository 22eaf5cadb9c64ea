"""Notebook front-end cost, measured inside a real Jupyter kernel.

Prints the time of ``%load_ext lgp_lab`` in a fresh kernel (target < 300 ms) and the
p50 of ``%lgp_run`` (with its rich display) against ``Lab.run`` on the same workflow
and the same Lab, fresh thread per call, in the same run.

    python bench/magics.py [--calls 200]
"""

from __future__ import annotations

import argparse
import queue
import shutil
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import start_new_kernel

HERE = Path(__file__).resolve().parent

MEASURE = """
import time, statistics
_ip = get_ipython()
_t = time.perf_counter()
_ip.run_line_magic("load_ext", "lgp_lab")
_load = time.perf_counter() - _t
from lgp_lab import get_lab
_lab = get_lab()
_wf = _lab.load("bench_flow.py")
for _ in range(20):
    _lab.run(_wf, {{"input": "x"}})
    _ip.run_line_magic("lgp_run", "bench_flow.py -i x")
_lab_s, _magic_s = [], []
for _ in range({blocks}):
    for _ in range(20):
        _t = time.perf_counter(); _lab.run(_wf, {{"input": "x"}})
        _lab_s.append(time.perf_counter() - _t)
    for _ in range(20):
        _t = time.perf_counter(); _ip.run_line_magic("lgp_run", "bench_flow.py -i x")
        _magic_s.append(time.perf_counter() - _t)
print("RESULT", _load, statistics.median(_lab_s), statistics.median(_magic_s), len(_lab_s))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lgp-magics-"))
    shutil.copy(HERE / "_graphs.py", root / "_graphs.py")
    (root / "bench_flow.py").write_text(
        "from _graphs import make_builder\nworkflow = make_builder(2)\n"
    )
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(root))
    try:
        msg_id = kc.execute(MEASURE.format(blocks=max(1, args.calls // 20)), silent=False)
        line = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=5)
            except queue.Empty:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            text = msg["content"].get("text", "")
            if "RESULT" in text:
                line = text[text.index("RESULT") :].split("\n")[0]
            if msg["msg_type"] == "error":
                raise RuntimeError("\n".join(msg["content"]["traceback"]))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    if line is None:
        raise RuntimeError("the kernel printed no result")
    _, load, lab_p50, magic_p50, calls = line.split()
    load, lab_p50, magic_p50 = float(load), float(lab_p50), float(magic_p50)
    print(f"%load_ext lgp_lab (fresh kernel):  {load * 1000:.1f} ms   (target < 300 ms)")
    print(f"Lab.run          p50 {lab_p50 * 1000:.2f} ms  ({calls} calls, 2-node graph)")
    print(f"%lgp_run         p50 {magic_p50 * 1000:.2f} ms  (with rich display)")
    print(f"%lgp_run overhead over Lab.run: {(magic_p50 - lab_p50) * 1000:.2f} ms")
    print(f"ratio: {magic_p50 / lab_p50:.2f}")


if __name__ == "__main__":
    main()
