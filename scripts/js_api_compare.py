"""Score the vendored JS API suite (tests/js_api) on ``langgraph dev`` and on
``lgp-lab serve``, side by side. Not run in CI: it installs LangGraph's own server.

    python scripts/js_api_compare.py                  # both servers, then the differences
    python scripts/js_api_compare.py --venv /tmp/v    # another throwaway venv

The reference server runs from a throwaway virtualenv outside the repository (default
/tmp/lgp-ref-venv), created on first use with ``langgraph-cli[inmem]`` at a pinned version
and this project's locked ``langgraph``, ``langgraph-checkpoint`` and ``langchain-core``
(from uv.lock), so both servers run the same graph code on the same LangGraph. Both
serve a temporary copy of tests/js_api/graphs on a free 127.0.0.1 port; nothing is
written into the repository.

The output: each server's summary line (tests under ``[not_applicable]`` in
tests/js_api/expected_failures.toml are left out of both scores), then every test whose
outcome differs between the two.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "js_api"))

import run_suite  # noqa: E402  (the runner lives beside the suite, not in a package)

CLI_VERSION = "0.4.40"
DEFAULT_VENV = Path(tempfile.gettempdir()) / "lgp-ref-venv"
# Locked here and installed in the reference venv too: the same LangGraph underneath.
LOCKED = ("langgraph", "langgraph-checkpoint", "langchain-core")
DEV_START_TIMEOUT_S = 120.0


def locked_versions(lock: Path = REPO / "uv.lock") -> dict[str, str]:
    """The versions uv.lock pins for :data:`LOCKED`."""
    packages = tomllib.loads(lock.read_text(encoding="utf-8")).get("package", [])
    found = {p["name"]: p["version"] for p in packages if p.get("name") in LOCKED}
    missing = set(LOCKED) - set(found)
    if missing:
        raise SystemExit(f"uv.lock pins no version of {sorted(missing)}")
    return found


def ensure_reference_venv(venv: Path, cli_version: str) -> Path:
    """The ``langgraph`` executable of ``venv``, creating and filling the venv if needed."""
    langgraph = venv / "bin" / "langgraph"
    pins = [f"langgraph-cli[inmem]=={cli_version}"] + [
        f"{name}=={version}" for name, version in sorted(locked_versions().items())
    ]
    stamp = venv / ".lgp-ref-pins"
    if langgraph.exists() and stamp.exists() and stamp.read_text() == "\n".join(pins):
        return langgraph
    if venv.resolve().is_relative_to(REPO):
        raise SystemExit(f"{venv} is inside the repository; pick a folder outside it")
    # The interpreter this script runs under (outside any venv), so no download is needed.
    base_python = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    uv = shutil.which("uv")
    print(f"== creating {venv} with {', '.join(pins)}", flush=True)
    python = venv / "bin" / "python"
    if uv:
        if not python.exists():
            subprocess.run(
                [uv, "venv", "--quiet", "--python", str(base_python), str(venv)], check=True
            )
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(python), *pins],
            check=True,
        )
    else:
        if not python.exists():
            subprocess.run([str(base_python), "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pins], check=True)
    stamp.write_text("\n".join(pins))
    return langgraph


def run_on_langgraph_dev(langgraph: Path, *, timeout_s: float) -> run_suite.SuiteRun:
    """The suite against ``langgraph dev`` serving a temporary copy of the graphs."""
    with tempfile.TemporaryDirectory(prefix="lgp-js-api-dev-") as tmp:
        project = run_suite.copy_project(Path(tmp) / "project")
        log = Path(tmp) / "dev.log"
        port = run_suite.free_port()
        url = f"http://127.0.0.1:{port}"
        env = run_suite.server_env({"LANGGRAPH_CLI_NO_ANALYTICS": "1"})
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [str(langgraph), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
                 "--port", str(port)],
                cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            run_suite.wait_until_up(url, timeout_s=DEV_START_TIMEOUT_S, proc=proc, log=log)
            return run_suite.run_vitest(url, timeout_s=timeout_s)
        finally:
            run_suite.stop_process(proc)


def score(run: run_suite.SuiteRun, expectations: run_suite.Expectations) -> str:
    """``42 of 62 applicable tests pass``, from the runner's comparison."""
    comparison = run_suite.compare(run, expectations)
    applicable = len(comparison.passed) + len(comparison.failed)
    return (
        f"{len(comparison.passed)} of {applicable} applicable tests pass "
        f"({len(comparison.not_applicable)} not applicable, {len(comparison.skipped)} skipped; "
        f"{run.duration_s:.0f} s)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run both servers and print the scores and the differences."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--cli-version", default=CLI_VERSION)
    parser.add_argument("--timeout", type=float, default=run_suite.DEFAULT_SUITE_TIMEOUT_S)
    parser.add_argument("--json", type=Path, help="write {test: {dev, lgp}} here")
    args = parser.parse_args(argv)

    problem = run_suite.node_modules_missing()
    if problem:
        raise SystemExit(problem)
    expectations = run_suite.load_expectations()
    langgraph = ensure_reference_venv(args.venv, args.cli_version)

    started = time.monotonic()
    print(f"== langgraph dev (langgraph-cli {args.cli_version})", flush=True)
    dev = run_on_langgraph_dev(langgraph, timeout_s=args.timeout)
    print("== lgp-lab serve (SQLite)", flush=True)
    lgp = run_suite.run_suite(None, timeout_s=args.timeout)

    names = sorted(set(dev.outcomes) | set(lgp.outcomes))
    differ = [n for n in names if dev.outcomes.get(n) != lgp.outcomes.get(n)]
    width = max((len(n) for n in differ), default=10)
    print()
    print(f"langgraph dev : {score(dev, expectations)}")
    print(f"lgp-lab serve : {score(lgp, expectations)}")
    print(f"\n{len(differ)} tests differ:")
    print(f"  {'test':{width}}  {'dev':7}  lgp_lab")
    for name in differ:
        na = "  (not applicable)" if name in expectations.not_applicable else ""
        dev_outcome, lgp_outcome = dev.outcomes.get(name, "-"), lgp.outcomes.get(name, "-")
        print(f"  {name:{width}}  {dev_outcome:7}  {lgp_outcome}{na}")
    print(f"\n(total {time.monotonic() - started:.0f} s)")
    if args.json:
        table = {n: {"dev": dev.outcomes.get(n), "lgp": lgp.outcomes.get(n)} for n in names}
        args.json.write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
