"""Per-run cost of tracing: the local trace store and the Langfuse exporter, each against
an untraced run of the same graph, measured in the same run (calls interleaved in blocks).

Langfuse is the real SDK exporting to a local stand-in server that speaks its OTLP
protocol (tests/fakes/langfuse_server.py). Target: local store overhead <= 15 %.

    python bench/tracing.py [--calls 200] [--nodes 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _graphs import make_builder  # noqa: E402
from fakes.langfuse_server import FakeLangfuse  # noqa: E402

from lgp_lab import Lab  # noqa: E402
from lgp_lab.config import LabConfig  # noqa: E402


def lab_for(root: Path, observability: dict) -> Lab:
    config = LabConfig.model_validate(
        {"observability": {"console": False, **observability}}
    ).with_root(root)
    return Lab(config)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--nodes", type=int, default=3)
    args = parser.parse_args()
    for name in [n for n in os.environ if n.startswith("LANGFUSE_")]:
        del os.environ[name]
    builder = make_builder(args.nodes)
    with FakeLangfuse() as fake:
        labs = {
            "untraced": lab_for(Path(tempfile.mkdtemp()), {"local": False}),
            "local store": lab_for(Path(tempfile.mkdtemp()), {"local": True}),
            "local + Langfuse": lab_for(
                Path(tempfile.mkdtemp()),
                {
                    "local": True,
                    "langfuse": {
                        "enabled": True,
                        "public_key": "pk-bench",
                        "secret_key": "sk-bench",
                        "host": fake.url,
                    },
                },
            ),
        }
        workflows = {k: lab.load(builder, name="bench") for k, lab in labs.items()}
        samples: dict[str, list[float]] = {k: [] for k in labs}
        for key, lab in labs.items():  # warm up
            for _ in range(20):
                lab.run(workflows[key], {"input": "x"})
        for _ in range(max(1, args.calls // 20)):
            for key, lab in labs.items():
                for _ in range(20):
                    t0 = time.perf_counter()
                    lab.run(workflows[key], {"input": "x"})
                    samples[key].append(time.perf_counter() - t0)
        for lab in labs.values():
            lab.close()
        exported = len(fake.spans)

    base = statistics.median(samples["untraced"])
    print(f"graph: {args.nodes} nodes, {len(samples['untraced'])} runs each")
    for key, values in samples.items():
        p50 = statistics.median(values)
        print(f"{key:18} p50 {p50 * 1000:6.2f} ms   overhead {100 * (p50 / base - 1):+5.1f} %")
    print(f"Langfuse stand-in received {exported} spans")
    print(
        f"ratio: {statistics.median(samples['local store']) / base:.2f} "
        "(local store / untraced; target <= 1.15)"
    )


if __name__ == "__main__":
    main()
