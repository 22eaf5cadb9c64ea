"""Run the JS Agent Server's own API test suite (vendored ``api.test.mts``) against a
Python server, and compare the outcome with ``expected_failures.toml``.

By default the runner copies the Python port of the suite's graphs (``graphs/``) to a
temporary directory, starts ``lgp-lab serve --env experiment`` there on a free
127.0.0.1 port (SQLite database in the same temporary directory), runs vitest once
with ``LGP_JS_API_URL`` pointing at it, and stops the server. With ``--url`` it runs
against a server that is already up (``langgraph dev`` on the same graphs, say).

The comparison is strict: the run fails when a test fails that is not listed, when a
listed test passes (take it off the list), or when the list names a test the suite no
longer has. Tests listed under ``[not_applicable]`` (JS-only features) are reported but
never counted as passed or failed; tests under ``[flaky]`` (a known race, either outcome
seen) are counted as they come but held to neither outcome, and so is any failure whose
message matches a pattern under ``[flaky_messages]`` (a known race any test can hit).

    python tests/js_api/run_suite.py                 # lgp-lab serve, strict
    python tests/js_api/run_suite.py --url http://127.0.0.1:2024 --report-only
    python tests/js_api/run_suite.py --json results.json  # {test: outcome}

Needs ``npm ci --prefix tests/js_api`` first (vitest and the SDK, pinned in
package-lock.json). Nothing is written into the repository: server files, vitest's
JSON report and logs live in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "EXPECTATIONS_FILE",
    "GRAPHS_DIR",
    "SUITE_DIR",
    "URL_ENV",
    "Comparison",
    "Expectations",
    "LgpServer",
    "Outcome",
    "SuiteRun",
    "compare",
    "copy_project",
    "free_port",
    "load_expectations",
    "main",
    "node_modules_missing",
    "parse_vitest_json",
    "report",
    "run_suite",
    "run_vitest",
    "server_env",
    "stop_process",
    "wait_until_up",
]

SUITE_DIR = Path(__file__).resolve().parent
GRAPHS_DIR = SUITE_DIR / "graphs"
EXPECTATIONS_FILE = SUITE_DIR / "expected_failures.toml"
# The variable the vendored api.test.mts reads its server URL from.
URL_ENV = "LGP_JS_API_URL"
# One vitest run takes 45-65 s on a healthy server; a stuck one is stopped here.
DEFAULT_SUITE_TIMEOUT_S = 240.0
DEFAULT_START_TIMEOUT_S = 90.0

Outcome = Literal["passed", "failed", "skipped"]


# --------------------------------------------------------------------------- results


@dataclass
class SuiteRun:
    """One vitest run: each test's outcome by full name (``describe > ... > title``)."""

    outcomes: dict[str, Outcome]
    messages: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    # A file-level failure (an import error, a failing beforeAll) with no test results.
    suite_errors: list[str] = field(default_factory=list)


@dataclass
class Expectations:
    """``expected_failures.toml``: test name → one-line reason, in three sections."""

    expected_failures: dict[str, str]
    not_applicable: dict[str, str]
    flaky: dict[str, str] = field(default_factory=dict)
    # Regular expression → reason: a failure whose message matches is a known race.
    flaky_messages: dict[str, str] = field(default_factory=dict)

    def listed(self) -> set[str]:
        """Every test name the file mentions."""
        return {*self.expected_failures, *self.not_applicable, *self.flaky}

    def known_race(self, message: str) -> str | None:
        """The reason of the first ``[flaky_messages]`` pattern ``message`` matches."""
        for pattern, reason in self.flaky_messages.items():
            if re.search(pattern, message):
                return reason
        return None


@dataclass
class Comparison:
    """A run checked against the expectations; ``ok`` when nothing is out of line."""

    passed: list[str]
    failed: list[str]
    expected_failed: list[str]
    flaky_failed: list[str]
    unexpected_failures: list[str]
    now_passing: list[str]
    stale: list[str]
    not_applicable: list[str]
    skipped: list[str]
    suite_errors: list[str]

    @property
    def ok(self) -> bool:
        return not (self.unexpected_failures or self.now_passing or self.stale or self.suite_errors)

    def summary(self) -> str:
        """``JS API suite: 32 passed, 30 failed (30 expected), 4 not applicable``."""
        expected = f"{len(self.expected_failed)} expected"
        if self.flaky_failed:
            expected += f", {len(self.flaky_failed)} flaky"
        line = (
            f"JS API suite: {len(self.passed)} passed, {len(self.failed)} failed "
            f"({expected}), {len(self.not_applicable)} not applicable"
        )
        if self.skipped:
            line += f", {len(self.skipped)} skipped by the suite"
        return line


def load_expectations(path: Path = EXPECTATIONS_FILE) -> Expectations:
    """Read the expected-failure list (``[expected_failures]``, ``[not_applicable]``,
    ``[flaky]``, ``[flaky_messages]``); a test name may appear in one section only."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    sections = ("expected_failures", "not_applicable", "flaky", "flaky_messages")
    unknown = set(raw) - set(sections)
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {sorted(unknown)}")
    parsed = [{str(k): str(v) for k, v in raw.get(name, {}).items()} for name in sections]
    seen: set[str] = set()
    for section in parsed[:3]:
        twice = seen & set(section)
        if twice:
            raise ValueError(f"{path}: listed in two sections: {sorted(twice)}")
        seen |= set(section)
    for pattern in parsed[3]:
        re.compile(pattern)  # a broken pattern fails the load, not the comparison
    return Expectations(*parsed)


def compare(run: SuiteRun, expectations: Expectations) -> Comparison:
    """Check ``run`` against ``expectations`` (strict both ways)."""
    outcomes = run.outcomes
    not_applicable = sorted(n for n in outcomes if n in expectations.not_applicable)
    applicable = {n: o for n, o in outcomes.items() if n not in expectations.not_applicable}
    passed = sorted(n for n, o in applicable.items() if o == "passed")
    failed = sorted(n for n, o in applicable.items() if o == "failed")
    skipped = sorted(n for n, o in applicable.items() if o == "skipped")
    listed = expectations.expected_failures
    flaky = [
        n
        for n in failed
        if n not in listed
        and (n in expectations.flaky or expectations.known_race(run.messages.get(n, "")))
    ]
    return Comparison(
        passed=passed,
        failed=failed,
        expected_failed=[n for n in failed if n in listed],
        flaky_failed=flaky,
        unexpected_failures=[n for n in failed if n not in listed and n not in flaky],
        now_passing=[n for n in passed if n in listed],
        # A listed name the suite does not have (renamed upstream, or a typo): an entry
        # that can never be checked is an error, not silently kept.
        stale=sorted(
            n for n in expectations.listed() if n not in outcomes and not run.suite_errors
        ),
        not_applicable=not_applicable,
        skipped=skipped,
        suite_errors=list(run.suite_errors),
    )


def parse_vitest_json(report: Mapping[str, Any]) -> SuiteRun:
    """Vitest's ``--reporter=json`` output (Jest's format) → a :class:`SuiteRun`."""
    outcomes: dict[str, Outcome] = {}
    messages: dict[str, str] = {}
    errors: list[str] = []
    for file_result in report.get("testResults") or []:
        assertions = file_result.get("assertionResults", []) or []
        if file_result.get("status") == "failed" and file_result.get("message"):
            # Set when the file itself failed (import error, beforeAll threw).
            errors.append(f"{file_result.get('name')}: {file_result['message']}")
        for test in assertions:
            name = " > ".join([*test.get("ancestorTitles", []), test["title"]])
            status = test.get("status")
            outcome: Outcome = (
                "passed" if status == "passed" else "failed" if status == "failed" else "skipped"
            )
            outcomes[name] = outcome
            if outcome == "failed":
                messages[name] = "\n".join(test.get("failureMessages") or []) or "(no message)"
    return SuiteRun(outcomes=outcomes, messages=messages, suite_errors=errors)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(
    url: str, *, timeout_s: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None
) -> None:
    """Poll ``url/ok`` (both servers answer it) until 200, the process dies, or timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{url}/ok", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(
        f"server at {url} did not answer /ok within {timeout_s:.0f} s:\n{_tail(log)}"
    )


def stop_process(proc: subprocess.Popen[bytes], *, grace_s: float = 20.0) -> None:
    """SIGTERM the process group we started, SIGKILL it if it outlives ``grace_s``."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def copy_project(dest: Path, source: Path = GRAPHS_DIR) -> Path:
    """The graphs folder copied to ``dest`` (without caches): servers write beside it."""
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", ".lgp", "*.pyc"))
    return dest


def server_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a server under test.

    Inherited settings that would change what the suite sees are dropped: lgp_lab's
    ``LGP_*`` (an API key would lock the suite out, a checkpoint path would point at
    another database), ``LANGGRAPH_CONFIG`` (the project's ``env`` sets it, and the real
    environment wins), and ``CI``.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LGP_", "LANGFUSE_")) and k not in {"LANGGRAPH_CONFIG", "CI"}
    }
    env["PYTHONUNBUFFERED"] = "1"
    # No tracing to a real service from a test server.
    env["LANGSMITH_TRACING"] = "false"
    env["LANGCHAIN_TRACING_V2"] = "false"
    env.update(extra or {})
    return env


class LgpServer:
    """``lgp-lab serve`` on a temporary copy of the graphs, on a free loopback port.

    Use as a context manager; the temporary directory (project copy, SQLite database,
    log) is removed on exit.
    """

    def __init__(
        self,
        *,
        python: str = sys.executable,
        start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.python = python
        self.start_timeout_s = start_timeout_s
        self.extra_env = dict(env or {})
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LgpServer:
        self._tmp = tempfile.TemporaryDirectory(prefix="lgp-js-api-")
        tmp = Path(self._tmp.name)
        project = copy_project(tmp / "project")
        self.log = tmp / "serve.log"
        self.port = free_port()
        env = server_env(
            {
                # The database in the temporary directory, whatever lgp_lab's root is.
                "LGP_CHECKPOINT_PATH": str(tmp / "checkpoints.sqlite"),
                **self.extra_env,
            }
        )
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [self.python, "-m", "lgp_lab", "serve", "--env", "experiment",
                 "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            wait_until_up(self.url, timeout_s=self.start_timeout_s, proc=self.proc, log=self.log)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def log_tail(self) -> str:
        return _tail(self.log)


def node_modules_missing(suite_dir: Path = SUITE_DIR) -> str | None:
    """Why vitest cannot run (a message naming the fix), or ``None`` when it can."""
    if shutil.which("node") is None:
        return "node is not installed (needed for the vendored JS API suite)"
    if not (suite_dir / "node_modules" / "vitest" / "vitest.mjs").is_file():
        return (
            f"{suite_dir}/node_modules is missing: run `npm ci --prefix "
            f"{os.path.relpath(suite_dir)}` (scripts/test.sh does)"
        )
    return None


def run_vitest(
    url: str,
    *,
    timeout_s: float = DEFAULT_SUITE_TIMEOUT_S,
    test_filter: str | None = None,
    suite_dir: Path = SUITE_DIR,
) -> SuiteRun:
    """Run vitest once against ``url``; the outcome of every test.

    Raises:
        RuntimeError: node_modules missing, vitest timed out, or wrote no report.
    """
    problem = node_modules_missing(suite_dir)
    if problem:
        raise RuntimeError(problem)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    # Upstream starts its own JS server when CI is set; the vendored copy no longer
    # does, but CI also changes vitest's defaults, so it is unset for a stable run.
    env[URL_ENV] = url
    env["NO_COLOR"] = "1"
    with tempfile.TemporaryDirectory(prefix="lgp-js-api-vitest-") as tmp:
        report = Path(tmp) / "results.json"
        output = Path(tmp) / "vitest.log"
        cmd = [
            "node",
            str(suite_dir / "node_modules" / "vitest" / "vitest.mjs"),
            "run",
            "--reporter=json",
            f"--outputFile={report}",
        ]
        if test_filter:
            cmd += ["-t", test_filter]
        started = time.monotonic()
        with output.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=suite_dir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                stop_process(proc, grace_s=5)
                raise RuntimeError(
                    f"vitest did not finish within {timeout_s:.0f} s:\n{_tail(output)}"
                ) from None
        duration = time.monotonic() - started
        if not report.exists():
            raise RuntimeError(f"vitest wrote no report (exit {proc.returncode}):\n{_tail(output)}")
        run = parse_vitest_json(json.loads(report.read_text(encoding="utf-8")))
    run.duration_s = duration
    return run


def run_suite(
    url: str | None = None,
    *,
    timeout_s: float = DEFAULT_SUITE_TIMEOUT_S,
    test_filter: str | None = None,
) -> SuiteRun:
    """The suite against ``url``, or against a fresh ``lgp-lab serve`` when ``None``."""
    if url is not None:
        return run_vitest(url.rstrip("/"), timeout_s=timeout_s, test_filter=test_filter)
    problem = node_modules_missing()
    if problem:  # before starting a server for nothing
        raise RuntimeError(problem)
    with LgpServer() as server:
        try:
            return run_vitest(server.url, timeout_s=timeout_s, test_filter=test_filter)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n--- lgp-lab serve log:\n{server.log_tail()}") from None


# --------------------------------------------------------------------------- report


def report(comparison: Comparison, run: SuiteRun, expectations: Expectations) -> str:
    """The human-readable verdict: what is out of line, then the summary line."""
    lines: list[str] = []
    for error in comparison.suite_errors:
        lines.append(f"SUITE ERROR: {error}")
    for name in comparison.unexpected_failures:
        message = run.messages.get(name, "").strip().splitlines()
        lines.append(f"UNEXPECTED FAILURE: {name}")
        lines.extend(f"    {m}" for m in message[:8])
    for name in comparison.now_passing:
        lines.append(f"now passes: take it off the list: {name}")
        lines.append(f"    (listed because: {expectations.expected_failures[name]})")
    for name in comparison.flaky_failed:
        message = run.messages.get(name, "")
        why = expectations.flaky.get(name) or expectations.known_race(message)
        lines.append(f"flaky, failed this time: {name}")
        lines.append(f"    listed because: {why}")
        # The first line says which race it was this time (or that it was another one).
        lines.append(f"    {(message.strip().splitlines() or ['(no message)'])[0]}")
    for name in comparison.stale:
        lines.append(f"not in the suite (stale entry in {EXPECTATIONS_FILE.name}): {name}")
    lines.append(f"{comparison.summary()} ({run.duration_s:.0f} s)")
    return "\n".join(lines)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", help="run against this server (already up) instead of starting lgp-lab serve"
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="print the outcome, exit 0 whatever it is (for a server the list is not about)",
    )
    parser.add_argument("--json", type=Path, help="also write {test name: outcome} here")
    parser.add_argument("-t", "--filter", help="vitest -t: only tests whose name matches")
    parser.add_argument("--timeout", type=float, default=DEFAULT_SUITE_TIMEOUT_S)
    return parser.parse_args(argv)


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the server's context manager still stops it."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Script entry point; the exit status is 0 when the strict comparison holds."""
    args = _parse_args(argv)
    expectations = load_expectations()
    with _sigterm_as_exit():
        run = run_suite(args.url, timeout_s=args.timeout, test_filter=args.filter)
    if args.json:
        args.json.write_text(json.dumps(run.outcomes, indent=2, sort_keys=True) + "\n")
    comparison = compare(run, expectations)
    if args.filter:
        comparison.stale = []  # a filtered run leaves most names out on purpose
    if args.report_only:
        for name, outcome in sorted(run.outcomes.items()):
            print(f"{outcome:8} {name}")
        print(comparison.summary() + f" ({run.duration_s:.0f} s)")
        return 0
    print(report(comparison, run, expectations))
    return 0 if comparison.ok else 1


if __name__ == "__main__":
    sys.exit(main())
