"""The hosted API under load, against one 3-node graph, all measured in the same run.

- ``/invoke`` p50 overhead over in-process ``Lab.arun`` (same graph, same machine);
- throughput at concurrency 8 and 32, with error counts;
- ``GET /sessions/{id}`` p50 on a thread with 10,000 checkpoints;
- time from starting ``lgp-lab serve`` to its first healthy answer.

The server is a real ``lgp-lab serve`` subprocess on 127.0.0.1; the load comes from
httpx in this process. Targets: overhead <= 3 ms, >= 124 runs/s at c=8 (twice
``langgraph dev``'s 61.8), 0 errors at c=32, session query < 20 ms, ready < 1 s.

    python bench/http_api.py [--seconds 4] [--checkpoints 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _graphs import free_port, three_node_project  # noqa: E402

# Like curl and browsers, send small requests at once (no Nagle delay against delayed ACKs).
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def make_project() -> Path:
    return three_node_project("lgp-http-", "server:\n  rate_limit_per_minute: 0\n")


def seed_long_thread(root: Path, checkpoints: int) -> tuple[float, str]:
    """Fill a thread with ``checkpoints`` checkpoints; return Lab.arun's p50 too."""
    from lgp_lab import Lab

    with Lab(root=root) as lab:
        wf = lab.load("three")
        samples = []
        for _ in range(220):
            t0 = time.perf_counter()
            lab.engine.call(lab.arun(wf, {"input": "x"}))
            samples.append(time.perf_counter() - t0)
        arun_p50 = statistics.median(samples[20:])
        per_run = lab.sessions.count_checkpoints(
            lab.engine.call(lab.arun(wf, {"input": "x"}, thread_id="long")).thread_id
        )
        while lab.sessions.count_checkpoints("long") < checkpoints:
            lab.run(wf, {"input": "x"}, thread_id="long")
        assert per_run > 0
        return arun_p50, "long"


async def load(url: str, concurrency: int, seconds: float) -> tuple[int, int, float]:
    ok = errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = httpx.AsyncHTTPTransport(limits=limits, socket_options=NODELAY)
    async with httpx.AsyncClient(base_url=url, transport=transport, timeout=30) as client:

        async def worker() -> None:
            nonlocal ok, errors
            while time.perf_counter() < deadline:
                try:
                    r = await client.post("/workflows/three/invoke", json={"input": "x"})
                    ok += r.status_code == 200
                    errors += r.status_code != 200
                except httpx.HTTPError:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return ok, errors, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--checkpoints", type=int, default=10_000)
    args = parser.parse_args()

    root = make_project()
    print(f"seeding a thread with {args.checkpoints} checkpoints ...", flush=True)
    arun_p50, long_thread = seed_long_thread(root, args.checkpoints)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LGP_")}
    started = time.perf_counter()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lgp_lab",
            "serve",
            "three",
            "--env",
            "experiment",
            "--port",
            str(port),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = None
        while time.perf_counter() - started < 30:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    ready = time.perf_counter() - started
                    break
            except httpx.TransportError:
                time.sleep(0.01)
        if ready is None:
            raise RuntimeError("server did not become healthy in 30 s")

        transport = httpx.HTTPTransport(socket_options=NODELAY)
        with httpx.Client(base_url=url, transport=transport, timeout=30) as client:
            for _ in range(30):
                client.post("/workflows/three/invoke", json={"input": "x"})
            invoke = []
            for _ in range(200):
                t0 = time.perf_counter()
                r = client.post("/workflows/three/invoke", json={"input": "x"})
                invoke.append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
            sessions = []
            for _ in range(100):
                t0 = time.perf_counter()
                r = client.get(f"/sessions/{long_thread}")
                sessions.append(time.perf_counter() - t0)
                assert r.status_code == 200
            count = r.json()["checkpoints"]

        results = {c: asyncio.run(load(url, c, args.seconds)) for c in (8, 32)}
    finally:
        server.terminate()
        server.wait(15)

    invoke_p50 = statistics.median(invoke) * 1000
    print(f"serve start -> first healthy answer: {ready * 1000:.0f} ms   (target < 1000 ms)")
    print(f"Lab.arun in-process p50:  {arun_p50 * 1000:.2f} ms")
    print(f"POST /invoke p50:         {invoke_p50:.2f} ms")
    print(f"/invoke overhead:         {invoke_p50 - arun_p50 * 1000:.2f} ms   (target <= 3 ms)")
    for c, (ok, errors, elapsed) in results.items():
        print(
            f"throughput c={c:<2}: {ok / elapsed:7.1f} runs/s, {errors} errors "
            f"({ok} runs in {elapsed:.1f}s)"
        )
    print(
        f"GET /sessions/{{id}} on {count} checkpoints: p50 "
        f"{statistics.median(sessions) * 1000:.2f} ms   (target < 20 ms)"
    )
    print(
        f"ratio: {results[8][0] / results[8][2] / 61.8:.2f} (c=8 throughput / langgraph dev 61.8)"
    )


if __name__ == "__main__":
    main()
