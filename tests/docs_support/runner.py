"""Run a page's code blocks in order, the way a reader would, in a temporary project.

- **python**: pytest-examples' ``EvalExample`` runs it in this process, in the project
  directory, with the page's environment; ``#>`` lines after a ``print`` are checked.
  The page's Python blocks share one namespace, like cells of a notebook.
- **ipython**: cells of an IPython ``InteractiveShell`` (the magics), as the magics tests
  run them; ``%unload_ext lgp_lab`` at the end of the page closes the kernel's Lab.
- **bash / console**: each command runs in ``bash -o pipefail`` in the project; exported
  variables and ``cd`` carry over to the next command. ``lgp-lab serve`` (and
  ``run --watch``) is started in the background, waited on (``GET /ok``, or its first
  completed run), used by the blocks after it and stopped with Ctrl-C (SIGINT) at the
  end of the page, which must exit 0 as documented.
- **yaml / json / toml**: loaded the way lgp_lab loads them: a config file through the
  config models, ``workflows/config.yaml`` through the registry, ``langgraph.json``
  through the project reader (and its ``checkpointer.ttl`` through the TTL resolver),
  entry points against the groups lgp_lab reads.
- **js**: node runs it (ES module) with the JS SDK that ``npm ci --prefix tests/js``
  installs, as tests/test_js_clients.py does.

Placeholders that stand for things this machine lacks are replaced in every block
before it runs: ports ``80NN`` (``:8000``, ``--port 8000``) by free ports on 127.0.0.1,
the example database URL by a fresh database on a real PostgreSQL server
(tests/postgres.py), Langfuse's cloud host by the Langfuse stand-in and Ollama's URL by
the OpenAI-compatible stand-in (tests/fakes/). Nothing is written outside the page's
temporary directory: HOME, XDG and Jupyter/IPython directories point into it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pytest_examples import EvalExample

from docs_support.blocks import Block, front_matter, page_blocks

__all__ = ["PG_PLACEHOLDER", "PageRun"]

REPO = Path(__file__).resolve().parents[2]
JS_MODULES = REPO / "tests" / "js" / "node_modules"
# The example database of the guides; each page gets a fresh real one instead.
PG_PLACEHOLDER = "postgresql://app:secret@db.internal:5432/agents"
LANGFUSE_PLACEHOLDER = "https://cloud.langfuse.com"
OLLAMA_PLACEHOLDER = "http://localhost:11434/v1"
_PORT = re.compile(r"(?:(?<=:)|(?<=--port )|(?<=-p ))(80\d\d)\b")
COMMAND_TIMEOUT_S = 240
READY_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30
_INHERITED = ("LGP_", "LANGFUSE_", "LANGGRAPH_", "LANGSMITH_", "LANGCHAIN_", "OPENAI_", "OLLAMA_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shell_commands(block: Block) -> list[str]:
    """The commands of a shell block: ``$ `` lines of a console block (with their
    ``\\`` continuations), or every non-comment line of a bash block."""
    lines = block.example.source.splitlines()
    console = block.language == "console"
    commands: list[str] = []
    current: str | None = None
    for line in lines:
        if current is not None and current.endswith("\\"):
            current += "\n" + line
            continue
        if current is not None:
            commands.append(current)
            current = None
        if console:
            if line.startswith("$ "):
                current = line[2:]
        elif line.strip() and not line.lstrip().startswith("#"):
            current = line
    if current is not None:
        commands.append(current)
    return commands


def _words(command: str) -> list[str]:
    """The command's words, leading ``VAR=value`` assignments dropped."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return []
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words.pop(0)
    if words[:3] == ["python", "-m", "lgp_lab"]:
        words = ["lgp-lab", *words[3:]]
    return words


def _is_lgp(words: list[str], sub: str) -> bool:
    return len(words) >= 2 and words[0] in ("lgp-lab", "lgp") and words[1] == sub


class Background:
    """A long-running command of the page (a server, a watch)."""

    def __init__(self, command: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.command = command
        self.proc = proc
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int | None:
        """Ctrl-C (SIGINT to its process group), then SIGKILL if it hangs; its exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                return None
        return self.proc.returncode


class PageRun:
    """Runs one page's blocks; use as a context manager (it cleans up what it started)."""

    def __init__(
        self,
        page: Path,
        tmp: Path,
        eval_example: EvalExample,
        database: Callable[[], str],
    ) -> None:
        self.page = page
        self.tmp = tmp
        self.eval_example = eval_example
        self.database = database
        self.blocks = page_blocks(page)
        self.root = tmp / "project"
        self.cwd = self.root
        self.env = self._base_env()
        self.subs: dict[str, str] = {}
        self.python_globals: dict[str, Any] = {}
        self.background: list[Background] = []
        self.transcript: list[str] = []
        self.deployed_env: str | None = None
        self._stack = contextlib.ExitStack()
        self._shell: Any = None
        self.ran: list[str] = []
        self.not_run: list[str] = []

    # ------------------------------------------------------------------ set-up

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED)}
        env.pop("DATABASE_URL", None)
        home = self.tmp / "home"
        dirs = {
            "HOME": home,
            "XDG_CONFIG_HOME": home / ".config",
            "XDG_DATA_HOME": home / ".local" / "share",
            "XDG_CACHE_HOME": home / ".cache",
            "XDG_STATE_HOME": home / ".local" / "state",
            "IPYTHONDIR": home / ".ipython",
            "JUPYTER_CONFIG_DIR": home / ".jupyter",
            "JUPYTER_DATA_DIR": home / ".local" / "share" / "jupyter",
            "JUPYTER_RUNTIME_DIR": home / ".jupyter" / "runtime",
            "MPLCONFIGDIR": home / ".config" / "matplotlib",
        }
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        env.update({k: str(v) for k, v in dirs.items()})
        # The venv running the tests first: `lgp-lab`, `python` and `jupyter` are its own.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        env["COLUMNS"] = "120"
        return env

    def __enter__(self) -> PageRun:
        self.root.mkdir(parents=True)
        if front_matter(self.page).get("examples_project", "repo") == "repo":
            for name in ("workflows", "config", "examples"):
                shutil.copytree(REPO / name, self.root / name)
        self._prepare_substitutions()
        return self

    def _runnable(self) -> list[Block]:
        return [b for b in self.blocks if not b.skipped and b.kind not in ("text", None)]

    def _prepare_substitutions(self) -> None:
        code = "\n".join(b.example.source for b in self._runnable())
        for number in sorted(set(_PORT.findall(code))):
            self.subs[number] = str(free_port())
        if PG_PLACEHOLDER in code:
            self.subs[PG_PLACEHOLDER] = self.database()
        commands = "\n".join(
            b.example.source for b in self._runnable() if b.kind in ("shell", "python")
        )
        if LANGFUSE_PLACEHOLDER in commands:
            from fakes.langfuse_server import FakeLangfuse

            self.subs[LANGFUSE_PLACEHOLDER] = self._stack.enter_context(FakeLangfuse()).url
        if OLLAMA_PLACEHOLDER in commands:
            from fakes.openai_server import FakeOpenAI, optimize_evaluate_reply

            fake = self._stack.enter_context(FakeOpenAI(optimize_evaluate_reply))
            self.subs[OLLAMA_PLACEHOLDER] = fake.base_url

    def substitute(self, text: str) -> str:
        for placeholder, value in self.subs.items():
            if not placeholder.isdigit():
                text = text.replace(placeholder, value)
        return _PORT.sub(lambda m: self.subs.get(m.group(1), m.group(1)), text)

    def unsubstitute(self, text: str) -> str:
        """``text`` with the stand-ins' values put back to the page's placeholders."""
        for placeholder, value in self.subs.items():
            text = text.replace(value, placeholder)
        return text

    def __exit__(self, *exc: object) -> None:
        problems = []
        try:
            if self._shell is not None and "lgp_lab" in self._shell.extension_manager.loaded:
                with self._applied():
                    self._shell.run_line_magic("unload_ext", "lgp_lab")
            for bg in reversed(self.background):
                code = bg.stop()
                if code != 0 and not any(exc):
                    problems.append(
                        f"{bg.command!r} did not exit 0 on Ctrl-C (got {code}):\n{bg.output()}"
                    )
            if self.deployed_env is not None:
                # The replicas of `lgp-lab deploy` outlive the command: stop them even when
                # the page failed before its own `lgp-lab deploy --stop`.
                self._exec(f"lgp-lab deploy --stop --env {self.deployed_env}", None)
        finally:
            self._stack.close()
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)

    def summary(self) -> str:
        """One line per command run: the command and how it ended (``-rP`` shows it)."""
        lines = []
        for entry in self.transcript:
            parts = entry.splitlines()
            lines.append(f"{parts[0][:100]}  {parts[-1] if len(parts) > 1 else ''}")
        return "\n".join(lines)

    # ------------------------------------------------------------------ running

    def run(self) -> None:
        for block in self.blocks:
            if block.skipped:
                if not block.reason:
                    pytest.fail(f'{block.where}: test="skip" needs a reason="..."')
                continue
            kind = block.kind
            if kind == "text":
                continue
            if kind is None or kind == "browser":
                pytest.fail(
                    f"{block.where}: no way to run a {block.language!r} block here; run it "
                    'or mark it test="skip" reason="..."',
                    pytrace=False,
                )
            started = time.monotonic()
            try:
                getattr(self, f"_run_{kind}")(block)
            except pytest.fail.Exception:
                raise
            except Exception as exc:
                raise AssertionError(
                    f"{block.where} ({block.language}) failed: {exc}\n\n"
                    + "\n".join(self.transcript[-20:])
                ) from exc
            self.ran.append(block.where)
            if kind != "shell":  # shell commands enter the transcript one by one
                took = time.monotonic() - started
                self.transcript.append(f"{block.where} ({block.language})\n[ok, {took:.1f} s]")

    @contextlib.contextmanager
    def _applied(self) -> Iterator[None]:
        """This process with the page's environment and working directory."""
        saved_env, saved_cwd = dict(os.environ), Path.cwd()
        os.environ.clear()
        os.environ.update(self.env)
        os.chdir(self.cwd)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved_env)
            os.chdir(saved_cwd)

    def _write_titled(self, block: Block) -> Path | None:
        if block.title is None:
            return None
        path = self.root / block.title
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(block.example.source, encoding="utf-8")
        return path

    # python -------------------------------------------------------------

    def _run_python(self, block: Block) -> None:
        if self._write_titled(block):
            return
        example = dataclasses.replace(block.example, source=self.substitute(block.example.source))
        with self._applied():
            if self.eval_example.update_examples:
                result = self.eval_example.run_print_update(
                    example, module_globals=self.python_globals
                )
                example.source = self.unsubstitute(example.source)
            elif "#>" in example.source:
                result = self.eval_example.run_print_check(
                    example, module_globals=self.python_globals
                )
            else:
                result = self.eval_example.run(example, module_globals=self.python_globals)
        self.python_globals.update(result)

    # ipython ------------------------------------------------------------

    def _run_ipython(self, block: Block) -> None:
        from IPython.core.interactiveshell import InteractiveShell

        with self._applied():
            if self._shell is None:
                self._shell = InteractiveShell.instance()
            result = self._shell.run_cell(self.substitute(block.example.source))
        error = result.error_before_exec or result.error_in_exec
        assert result.success, f"the cell raised {error!r}"

    # shell --------------------------------------------------------------

    def _exec(self, command: str, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
        state, where = self.tmp / "shell-env", self.tmp / "shell-cwd"
        script = (
            f"cd {shlex.quote(str(self.cwd))}\n{command}\n__rc=$?\n"
            f"env -0 > {shlex.quote(str(state))}; pwd > {shlex.quote(str(where))}\n"
            "exit $__rc\n"
        )
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", "-o", "pipefail", "-c", script],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        took = time.monotonic() - started
        self.transcript.append(
            f"$ {command}\n{proc.stdout}{proc.stderr}[exit {proc.returncode}, {took:.1f} s]"
        )
        if state.exists():
            pairs = state.read_text().split("\0")
            self.env = dict(p.split("=", 1) for p in pairs if "=" in p)
            self.cwd = Path(where.read_text().strip())
        if expect is not None:
            assert proc.returncode == expect, (
                f"`{command}` exited {proc.returncode}, expected {expect}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc

    def _run_background(self, command: str, words: list[str]) -> None:
        serve = _is_lgp(words, "serve")
        if serve and not {"--port", "-p"} & set(words):
            # The free port that stands in for the default 8000.
            port = self.subs.setdefault("8000", str(free_port()))
            command = f"{command.split('#', 1)[0].rstrip()} --port {port}"
            words = _words(command)
        log = self.tmp / f"background-{len(self.background)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", "-c", f"cd {shlex.quote(str(self.cwd))} && exec {command}"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: Ctrl-C reaches only it
            )
        bg = Background(command, proc, log)
        self.background.append(bg)
        self.transcript.append(f"$ {command} &")
        started = time.monotonic()
        deadline = started + READY_TIMEOUT_S
        port = words[words.index("--port") + 1] if "--port" in words else None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"`{command}` exited {proc.returncode}:\n{bg.output()}")
            if serve and port:
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"http://127.0.0.1:{port}/ok", timeout=2).status_code == 200:
                        break
            elif "✅ Complete" in bg.output():
                break
            time.sleep(0.1)
        else:
            raise AssertionError(
                f"`{command}` was not ready in {READY_TIMEOUT_S} s:\n{bg.output()}"
            )
        self.transcript.append(f"[ready, {time.monotonic() - started:.1f} s]")

    def _run_shell(self, block: Block) -> None:
        commands = [self.substitute(c) for c in shell_commands(block)]
        assert commands, f"{block.where}: a shell block with no command"
        expected_last = int(block.settings.get("returncode", "0"))
        for i, command in enumerate(commands):
            last = i == len(commands) - 1
            expect = expected_last if last else 0
            words = _words(command)
            long_running = _is_lgp(words, "serve") or (_is_lgp(words, "run") and "--watch" in words)
            if long_running and expect == 0:
                self._run_background(command, words)
                continue
            if _is_lgp(words, "deploy") and "--stop" not in words and "kubernetes" not in words:
                env = words[words.index("--env") + 1] if "--env" in words else "production"
                self.deployed_env = env
            self._exec(command, expect)

    # data ---------------------------------------------------------------

    def _run_yaml(self, block: Block) -> None:
        from lgp_lab.config import parse_config_file
        from lgp_lab.runtime.registry import read_registry

        source = self.substitute(block.example.source)
        data = yaml.safe_load(source)
        assert isinstance(data, dict), "a YAML example is a mapping of settings"
        path = self._write_titled(block)
        with self._applied():
            if set(data) == {"workflows"}:
                folder = path.parent if path else self.tmp / "registry" / block.where
                if path is None:
                    folder.mkdir(parents=True)
                    (folder / "config.yaml").write_text(source, encoding="utf-8")
                entries = read_registry(folder)
                assert set(entries) == set(data["workflows"])
            else:
                if path is None:
                    path = self.tmp / "config" / f"{block.example.start_line}.yaml"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(source, encoding="utf-8")
                parse_config_file(path, env="experiment")

    def _run_json(self, block: Block) -> None:
        from lgp_lab.config import builtin_config
        from lgp_lab.runtime.project import read_project
        from lgp_lab.runtime.retention import resolve_ttl

        json.loads(block.example.source)
        path = self._write_titled(block)
        if path is None:
            path = self.tmp / "json" / str(block.example.start_line) / "langgraph.json"
            path.parent.mkdir(parents=True)
            path.write_text(block.example.source, encoding="utf-8")
        with self._applied():
            project = read_project(path)
            resolve_ttl(builtin_config(), project)

    def _run_toml(self, block: Block) -> None:
        from lgp_lab.agents.registry import MESH_BACKENDS_GROUP, PROVIDERS_GROUP

        data = tomllib.loads(block.example.source)
        groups = data["project"]["entry-points"]
        assert set(groups) <= {PROVIDERS_GROUP, MESH_BACKENDS_GROUP}, sorted(groups)
        for entries in groups.values():
            for target in entries.values():
                assert re.fullmatch(r"[\w.]+:[\w.]+", target), f"not module:attr: {target}"

    # js -----------------------------------------------------------------

    def _run_js(self, block: Block) -> None:
        node = shutil.which("node")
        if node is None or not (JS_MODULES / "@langchain" / "langgraph-sdk").is_dir():
            # CI installs both (scripts/test.sh); elsewhere say so rather than pass silently.
            self.not_run.append(
                f"{block.where}: node or the JS SDK is missing (npm ci --prefix tests/js)"
            )
            return
        folder = self.tmp / "js"
        folder.mkdir(exist_ok=True)
        link = folder / "node_modules"
        if not link.exists():
            link.symlink_to(JS_MODULES, target_is_directory=True)
        script = folder / f"example_{block.example.start_line}.mjs"
        script.write_text(self.substitute(block.example.source), encoding="utf-8")
        proc = subprocess.run(
            [node, str(script)],
            env=self.env,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
        )
        self.transcript.append(f"$ node {script.name}\n{proc.stdout}{proc.stderr}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
