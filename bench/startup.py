"""Start-up time of ``lgp-lab serve``: exec → first 200 from ``GET /ok``, graphs loaded.

All measured side by side in one run, interleaved (load on the machine hits each alike):

- ``python -c pass`` (the interpreter alone);
- ``python -c "import langgraph.graph"`` (what any LangGraph server pays; same interpreter);
- ``lgp-lab serve three --env experiment --port P`` on a 3-node graph, in a fresh temp
  project with its own SQLite file: exec → first 200 from ``GET /ok``;
- the reference, ``langgraph dev --no-reload --no-browser --port P --config
  langgraph.json`` on the same graph, exec → ``/ok``, when its CLI is found.

Bytecode: every child runs with ``PYTHONPYCACHEPREFIX`` set to a private temp directory
(and without ``PYTHONDONTWRITEBYTECODE``), filled by the warm-up run. A venv without
``.pyc`` files (``uv`` does not compile by default; a sandbox may forbid writing them)
otherwise recompiles all of LangGraph and FastAPI on every start, seconds that would
drown what is measured here; installed software runs from bytecode. ``--as-is`` keeps
the caller's environment instead.

``/ok`` proves the graphs are loaded on both: ``lgp-lab serve`` binds its port only
after loading every served workflow (``lgp_lab.server.background.start_server``), and
``langgraph dev`` answers only after its lifespan start-up has collected the graphs. The
first run of each is a warm-up (file cache, the SQLite file's creation), not counted.

Target: (serve → /ok) - (import langgraph.graph) <= 200 ms.

    python bench/startup.py [--repeat 7] [--reference-bin PATH] [--lgp-lab PATH]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _graphs import free_port, three_node_project  # noqa: E402

TARGET_MS = 200.0
DEFAULT_REFERENCE = "/tmp/lgp-ref-venv/bin/langgraph"
READY_DEADLINE_S = 60.0  # per start; a server that is not up by then is a failure
EXPERIMENT_YAML = "server:\n  rate_limit_per_minute: 0\n"
PASS = "python -c pass"
BARE = "python -c 'import langgraph.graph'"
SERVE = "lgp-lab serve → /ok"
DEV = "langgraph dev --no-reload → /ok"


_PYCACHE: str | None = None  # the private bytecode cache (see the module docstring)


def _env() -> dict[str, str]:
    # No LGP_*/LANGFUSE_* from the caller's shell: the temp project's config decides.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGP_", "LANGFUSE_"))}
    # The reference: no LangSmith tracing, no analytics ping (nothing beyond 127.0.0.1).
    env.update(LANGSMITH_TRACING="false", LANGGRAPH_CLI_NO_ANALYTICS="1")
    if _PYCACHE is not None:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    return env


Sample = tuple[float, float | None]  # (wall seconds, CPU seconds of the process or None)


def timed_exit(args: list[str]) -> Sample:
    """Wall and CPU (user + system) seconds of a subprocess that exits by itself."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(args, env=_env(), stdin=subprocess.DEVNULL)
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        proc.returncode = 0  # reaped by wait4
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args)} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def _cpu_seconds(pid: int) -> float | None:
    """CPU (user + system) seconds a running process used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ok(port: int) -> bool:
    """Whether ``GET /ok`` answers 200 now (connection refused: not yet listening)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/ok")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def timed_ready(args: list[str], cwd: Path, port: int) -> Sample:
    """Seconds from exec to the first 200 from ``GET /ok`` (and the server's CPU seconds
    by then); the server is killed after."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        while True:
            if _ok(port):
                return time.perf_counter() - t0, _cpu_seconds(proc.pid)
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise SystemExit(f"{' '.join(args)} exited {proc.returncode}:\n{err[-2000:]}")
            if time.perf_counter() - t0 > READY_DEADLINE_S:
                raise SystemExit(f"{' '.join(args)}: no 200 from /ok in {READY_DEADLINE_S:.0f} s")
            time.sleep(0.002)
    finally:
        proc.kill()
        proc.wait(15)


def lgp_lab_command() -> list[str]:
    """The ``lgp-lab`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "lgp-lab"
    if script.exists():
        return [str(script)]
    found = shutil.which("lgp-lab")
    return [found] if found else [sys.executable, "-m", "lgp_lab"]


def find_reference(option: str | None) -> str | None:
    if option:
        return option if Path(option).exists() or shutil.which(option) else None
    if Path(DEFAULT_REFERENCE).exists():
        return DEFAULT_REFERENCE
    return shutil.which("langgraph")


def reference_project() -> Path:
    """``langgraph.json`` serving the same 3-node graph as ``three``."""
    root = Path(tempfile.mkdtemp(prefix="lgp-bench-startup-ref-"))
    graphs = (HERE / "_graphs.py").read_text()
    (root / "graph.py").write_text(graphs + "\n\nworkflow = make_builder(3).compile()\n")
    (root / "langgraph.json").write_text(
        json.dumps({"graphs": {"three": "./graph.py:workflow"}, "dependencies": ["."]})
    )
    return root


def stats(samples: list[Sample]) -> str:
    ms = [wall * 1000 for wall, _ in samples]
    text = f"median {statistics.median(ms):7.1f} ms  (min {min(ms):7.1f}, max {max(ms):7.1f})"
    cpu = [c * 1000 for _, c in samples if c is not None]
    return text + (f"  cpu median {statistics.median(cpu):7.1f} ms" if cpu else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each (median)")
    parser.add_argument(
        "--reference-bin",
        help=f"the `langgraph` CLI of langgraph-cli[inmem] (default: {DEFAULT_REFERENCE}, "
        "else `langgraph` on PATH)",
    )
    parser.add_argument(
        "--lgp-lab",
        metavar="PATH",
        help="the lgp-lab executable to measure (default: this environment's); e.g. a "
        "wrapper running another checkout, for a before/after comparison",
    )
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="keep the environment's bytecode settings (no private PYTHONPYCACHEPREFIX)",
    )
    args = parser.parse_args()
    global _PYCACHE
    pycache = None if args.as_is else tempfile.mkdtemp(prefix="lgp-bench-startup-pyc-")
    _PYCACHE = pycache

    ours_root = three_node_project("lgp-bench-startup-", EXPERIMENT_YAML)
    reference = find_reference(args.reference_bin)
    ref_root = reference_project() if reference else None
    py = sys.executable
    lgp = [args.lgp_lab] if args.lgp_lab else lgp_lab_command()

    def serve() -> Sample:
        port = free_port()
        cmd = [*lgp, "serve", "three", "--env", "experiment", "--port", str(port)]
        return timed_ready(cmd, ours_root, port)

    def dev() -> Sample:
        assert reference and ref_root
        port = free_port()
        cmd = [reference, "dev", "--no-reload", "--no-browser", "--host", "127.0.0.1",
               "--port", str(port), "--config", str(ref_root / "langgraph.json")]  # fmt: skip
        return timed_ready(cmd, ref_root, port)

    variants: dict[str, Callable[[], Sample]] = {
        PASS: lambda: timed_exit([py, "-c", "pass"]),
        BARE: lambda: timed_exit([py, "-c", "import langgraph.graph"]),
        SERVE: serve,
    }
    if reference:
        variants[DEV] = dev
    try:
        for run in variants.values():  # warm-up: file cache, the SQLite file's creation
            run()
        samples: dict[str, list[Sample]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, run in variants.items():
                samples[name].append(run())
    finally:
        shutil.rmtree(ours_root, ignore_errors=True)
        if ref_root:
            shutil.rmtree(ref_root, ignore_errors=True)
        if pycache:
            shutil.rmtree(pycache, ignore_errors=True)

    bytecode = "as the environment has it" if args.as_is else "private cache, warmed"
    print(f"{args.repeat} runs each, interleaved, after one warm-up run; bytecode: {bytecode}")
    for name, values in samples.items():
        print(f"{name:36} {stats(values)}")
    if not reference:
        print("langgraph dev: reference not found (pass --reference-bin PATH)")
    med = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    low = {name: min(w for w, _ in values) for name, values in samples.items()}
    bare = med[BARE]
    ours = med[SERVE]
    extra = (ours - bare) * 1000
    verdict = "OK" if extra <= TARGET_MS else "OVER"
    print(
        f"serve minus bare langgraph import: {extra:.1f} ms  "
        f"(target <= {TARGET_MS:.0f} ms: {verdict})"
    )
    # The same within each round (the two ran seconds apart): robust to load that
    # changes during the run, which moves both alike.
    paired = statistics.median(
        (ours_run[0] - bare_run[0]) * 1000
        for ours_run, bare_run in zip(samples[SERVE], samples[BARE], strict=True)
    )
    verdict = "OK" if paired <= TARGET_MS else "OVER"
    print(f"  per round, median of (serve - bare import): {paired:.1f} ms  ({verdict})")
    fastest = (low[SERVE] - low[BARE]) * 1000
    print(f"  fastest runs: {fastest:.1f} ms (the machine's load shows in the max)")
    interpreter = med[PASS]
    print(f"import langgraph.graph minus python -c pass: {(bare - interpreter) * 1000:.1f} ms")
    if reference:
        theirs = med[DEV]
        print(f"reference minus bare langgraph import: {(theirs - bare) * 1000:.1f} ms")
        print(f"ratio lgp-lab serve / langgraph dev: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
