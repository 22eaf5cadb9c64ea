"""Time to open the session explorer on a thread with 10,000 checkpoints (target < 1 s).

Seeds a thread with ``--checkpoints`` checkpoints (a 3-node graph, 5 per run), then times
building the explorer at that thread (its summary, the first page of the timeline, the
latest state, the diff against its parent and bytes per channel). The baseline, measured
in the same run, is loading that one state with ``lab.sessions.state``.

    python bench/widgets.py [--checkpoints 10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _graphs import make_builder

from lgp_lab import Lab
from lgp_lab.config import LabConfig
from lgp_lab.widgets import SessionExplorer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoints", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lgp-widgets-"))
    config = LabConfig.model_validate(
        {"observability": {"console": False, "local": False}}
    ).with_root(root)
    with Lab(config) as lab:
        wf = lab.load(make_builder(3), name="bench")
        started = time.perf_counter()
        while lab.sessions.count_checkpoints("long") < args.checkpoints:
            lab.run(wf, {"input": "x"}, thread_id="long")
        count = lab.sessions.count_checkpoints("long")
        print(f"seeded {count} checkpoints in {time.perf_counter() - started:.1f}s")

        baseline, opening = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            lab.sessions.state("long")
            baseline.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            explorer = SessionExplorer(lab, thread_id="long")
            opening.append(time.perf_counter() - t0)
            assert explorer.selected_thread == "long" and explorer.channel_diff
            explorer.close()
    base, opened = statistics.median(baseline), statistics.median(opening)
    print(f"load latest state (baseline)      median {base * 1000:7.1f} ms")
    print(f"open explorer at the thread       median {opened * 1000:7.1f} ms   (target < 1000 ms)")
    print(f"ratio: {opened / base:.2f}")


if __name__ == "__main__":
    main()
