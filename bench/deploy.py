"""Deploy time, rolling-update time and time from anomaly onset to rollback.

    python bench/deploy.py [--replicas 2]

1. ``lgp-lab deploy --target local`` of a one-node workflow with N replicas on a real
   PostgreSQL server (tests/postgres.py: initdb into a temp dir, 127.0.0.1), against the
   baseline of one ``lgp-lab serve --env production`` process until it answers.
2. A second deploy (v2) rolled out under constant load: wall time of the roll, requests
   served during it and how many failed (target: 0).
3. Anomaly: a version failing 12% of runs hot-reloaded under load (in-process Lab + a
   served API): seconds from the reload to the automatic rollback, against the 60 s
   detection target.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _graphs import free_port  # noqa: E402

KEY = secrets.token_urlsafe(32)
FLOW = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START

VERSION = "v1"
FAILING_AT = set()

class State(TypedDict, total=False):
    n: int
    output: str

async def work(state: State) -> State:
    if state.get("n", 0) % 100 in FAILING_AT:
        raise RuntimeError("bad release")
    return {"output": f"{VERSION}:{state.get('n', 0)}"}

builder = StateGraph(State)
builder.add_node("work", work)
builder.add_edge(START, "work")
workflow = builder
"""
TWELVE_PERCENT = [5, 13, 21, 29, 37, 45, 53, 61, 69, 77, 85, 93]


def _postgres_server_class() -> type:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "lgp_tests_postgres", HERE.parent / "tests" / "postgres.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PostgresServer


def _project(tmp: Path) -> Path:
    root = tmp / "proj"
    (root / "workflows").mkdir(parents=True)
    (root / "config").mkdir()
    (root / "workflows" / "flow.py").write_text(FLOW)
    shipped = (HERE.parent / "config" / "production.yaml").read_text()
    (root / "config" / "production.yaml").write_text(
        shipped.replace("rate_limit_per_minute: 100", "rate_limit_per_minute: 0")
    )
    return root


def _cli(root: Path, env: dict[str, str], *args: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lgp_lab", *args], cwd=root, env=env, capture_output=True,
        text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"lgp-lab {' '.join(args)} failed:\n{done.stderr}")
    return time.perf_counter() - started


def _wait_ready(url: str, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"{url} not ready in {timeout}s")


class _Load(threading.Thread):
    """One client POSTing runs back to back until stopped (bounded)."""

    def __init__(self, url: str, path: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.path, self.stop = url, path, stop
        self.ok = self.failed = 0

    def run(self) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {KEY}", "Connection": "close"}
        for n in range(1_000_000):
            if self.stop.is_set():
                return
            try:
                r = httpx.post(f"{self.url}{self.path}", json={"input": {"n": n}},
                               headers=headers, timeout=60)  # fmt: skip
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            self.ok += ok
            self.failed += not ok


def bench_deploy(replicas: int) -> None:
    server_class = _postgres_server_class()
    with server_class() as pg, tempfile.TemporaryDirectory(prefix="lgp-bench-deploy-") as tmp:
        root = _project(Path(tmp))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
        env.update(DATABASE_URL=pg.create_database("deploy"), LGP_API_KEY=KEY)
        # Baseline: one plain `lgp-lab serve` process until /ready answers.
        port = free_port()
        started = time.perf_counter()
        serve = subprocess.Popen(
            [sys.executable, "-m", "lgp_lab", "serve", "flow", "--env", "production",
             "--port", str(port)], cwd=root, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_ready(f"http://127.0.0.1:{port}")
            baseline = time.perf_counter() - started
        finally:
            serve.terminate()
            serve.wait(30)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        try:
            first = _cli(root, env, "deploy", "flow", "--replicas", str(replicas),
                         "--port", str(port))  # fmt: skip
            print(f"deploy (gate + release + {replicas} replicas ready): {first:.2f} s; "
                  f"one `lgp-lab serve` until /ready: {baseline:.2f} s; "
                  f"ratio {first / baseline:.2f}")  # fmt: skip
            flow = root / "workflows" / "flow.py"
            flow.write_text(flow.read_text().replace('"v1"', '"v2"'))
            stop = threading.Event()
            clients = [_Load(url, "/workflows/flow/invoke", stop) for _ in range(4)]
            for c in clients:
                c.start()
            roll = _cli(root, env, "deploy", "flow")
            stop.set()
            for c in clients:
                c.join(60)
            ok, failed = sum(c.ok for c in clients), sum(c.failed for c in clients)
            print(
                f"rolling update to v2 under load ({replicas} replicas): {roll:.2f} s; "
                f"{ok} requests served during it, {failed} failed (target 0)"
            )
            back = _cli(root, env, "deploy", "--rollback")
            print(f"rollback to v1: {back:.2f} s (no gate: the release was checked before)")
        finally:
            _cli(root, env, "deploy", "--stop")


def bench_anomaly() -> None:
    from lgp_lab import Lab
    from lgp_lab.config import load_config
    from lgp_lab.runtime.anomaly import anomaly_watcher
    from lgp_lab.server.background import start_server

    with tempfile.TemporaryDirectory(prefix="lgp-bench-anomaly-") as tmp:
        root = Path(tmp) / "proj"
        (root / "workflows").mkdir(parents=True)
        flow = root / "workflows" / "flow.py"
        flow.write_text(FLOW)
        config = load_config("experiment", root)
        config.observability.console = False
        config.anomaly.enabled = True  # off by default in experiment
        config.server.rate_limit_per_minute = 0
        with Lab(config=config, console=False) as lab:
            handle = start_server(lab, [str(flow)], port=0)
            stop = threading.Event()
            clients = [_Load(handle.url, "/workflows/flow/invoke", stop) for _ in range(4)]
            try:
                for c in clients:
                    c.start()
                time.sleep(1.0)  # a healthy v1 under load first (a warm-up, not a sync)
                flow.write_text(FLOW.replace("FAILING_AT = set()",
                                             f"FAILING_AT = {TWELVE_PERCENT!r}"))  # fmt: skip
                onset = time.perf_counter()
                lab.reload("flow")
                watcher = anomaly_watcher(lab)
                deadline = onset + 120
                while not watcher.incidents and time.perf_counter() < deadline:
                    time.sleep(0.005)
                detected = time.perf_counter() - onset
            finally:
                stop.set()
                for c in clients:
                    c.join(60)
                handle.stop()
            if not watcher.incidents:
                raise SystemExit("no rollback within 120 s")
            incident = watcher.incidents[0]
            rate = sum(c.ok + c.failed for c in clients) / max(detected, 1e-9)
            window = config.anomaly.window_s
            print(
                f"anomaly onset -> rollback: {detected:.2f} s at ~{rate:.0f} runs/s "
                f"({incident.failures}/{incident.runs} failed runs, "
                f"{incident.error_rate:.1%} > {incident.threshold:.0%}); "
                f"ratio vs the {window:.0f} s target: {detected / window:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    bench_deploy(args.replicas)
    bench_anomaly()


if __name__ == "__main__":
    main()
