"""Time of ``import lgp_lab`` in a fresh interpreter (target < 100 ms), against bare Python.

python bench/import_time.py [--repeat 10]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def timed(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    base = statistics.median(timed("pass") for _ in range(args.repeat))
    with_import = statistics.median(timed("import lgp_lab") for _ in range(args.repeat))
    print(f"python -c pass          median {base * 1000:.1f} ms")
    print(f"python -c import lgp_lab median {with_import * 1000:.1f} ms")
    print(f"import lgp_lab cost: {(with_import - base) * 1000:.1f} ms  (target < 100 ms)")
    print(f"ratio: {with_import / base:.2f}")


if __name__ == "__main__":
    main()
