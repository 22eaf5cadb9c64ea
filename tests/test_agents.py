"""Agent nodes: the Lab's MCP sessions over the real mesh subprocess, Claude Code nodes,
and providers on the real openai SDK against a local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, cli_env, write
from fakes.langfuse_server import FakeLangfuse
from fakes.openai_server import FakeOpenAI, optimize_evaluate_reply

from lgp_lab import Lab
from lgp_lab.agents import OllamaProvider, create_agent_node, create_claude_code_node
from lgp_lab.agents.mcp_client import McpServerError
from lgp_lab.errors import LgpError, WorkflowRunError

PARALLEL = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from lgp_lab.agents import create_claude_code_node

class S(TypedDict, total=False):
    task: str
    alpha_output: str
    alpha_session_id: str
    beta_output: str
    beta_session_id: str
    gamma_output: str
    gamma_session_id: str

workflow = StateGraph(S)
for role in ("alpha", "beta", "gamma"):
    workflow.add_node(role, create_claude_code_node(role, repository=role))
    workflow.add_edge(START, role)
    workflow.add_edge(role, END)
"""


def make_repos(project: Path) -> None:
    for repo, name in (("alpha", "app.py"), ("beta", "lib.rs"), ("gamma", "notes.txt")):
        write(project / "repositories" / repo / name, f"{repo}\n")


def mesh_config(project: Path, extra: str = "") -> None:
    write(
        project / "config" / "experiment.yaml",
        f"""
        mcp:
          servers:
            mesh:
              command: {sys.executable}
              args: [-m, lgp_lab, mesh, --root, repositories, --backend, echo]
        {extra}
        """,
    )


def test_r53_witness_three_nodes_on_three_repositories(tmp_path: Path) -> None:
    """asyncio.gather over three Claude Code nodes sharing one official MCP client session."""
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    make_repos(tmp_path)
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-m",
            "lgp_lab",
            "mesh",
            "--root",
            str(tmp_path / "repositories"),
            "--backend",
            "echo",
        ],
    )

    async def main() -> list[dict]:
        with open(tmp_path / "err.log", "w") as err:
            async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
                await s.initialize()
                nodes = [
                    create_claude_code_node(n, n, mcp_session=s) for n in ("alpha", "beta", "gamma")
                ]
                return await asyncio.gather(*(node({"task": "list files"}) for node in nodes))

    alpha, beta, gamma = asyncio.run(main())
    assert len({alpha["alpha_session_id"], beta["beta_session_id"], gamma["gamma_session_id"]}) == 3
    assert "app.py" in alpha["alpha_output"] and "lib.rs" not in alpha["alpha_output"]
    assert "lib.rs" in beta["beta_output"] and "notes.txt" not in beta["beta_output"]
    assert "notes.txt" in gamma["gamma_output"] and "app.py" not in gamma["gamma_output"]


def test_lab_mcp_sessions_are_lazy_reused_restarted_and_closed(project: Path) -> None:
    make_repos(project)
    mesh_config(project)
    write(project / "parallel.py", PARALLEL)
    lab = Lab(root=project)
    try:
        assert lab._mcp is None  # nothing started until a node needs it
        first = lab.run("parallel.py", {"task": "survey"}, thread_id="p")
        sessions = {r: first.state[f"{r}_session_id"] for r in ("alpha", "beta", "gamma")}
        assert len(set(sessions.values())) == 3
        assert (
            "app.py" in first.state["alpha_output"] and "app.py" not in first.state["beta_output"]
        )
        pid = lab.engine.call(lab.mcp.call_tool("mesh", "mesh_status", {})).structured_content[
            "pid"
        ]

        second = lab.run("parallel.py", {"task": "again"}, thread_id="p")
        assert "turn 2 of session " + sessions["alpha"] in second.state["alpha_output"]
        status = lab.engine.call(lab.mcp.call_tool("mesh", "mesh_status", {})).structured_content
        assert status["pid"] == pid  # the same server was reused

        trace = lab.traces.get(second.trace_id)
        calls = [s for s in trace.spans if s.kind == "span"]
        assert sorted(s.name for s in calls) == [
            "alpha:mesh_execute:alpha",
            "beta:mesh_execute:beta",
            "gamma:mesh_execute:gamma",
        ]
        assert all(s.output["session_id"] for s in calls)

        os.kill(pid, signal.SIGKILL)  # the server dies: the next call restarts it once
        _wait_dead(pid)
        third = lab.run("parallel.py", {"task": "after crash"}, thread_id="fresh")
        assert third.state["alpha_output"]
        new_pid = lab.engine.call(lab.mcp.call_tool("mesh", "mesh_status", {})).structured_content[
            "pid"
        ]
        assert new_pid != pid
    finally:
        lab.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(new_pid):
        time.sleep(0.05)
    assert not _alive(new_pid)  # Lab.close() stopped the subprocess


def _wait_dead(pid: int, timeout: float = 5.0) -> None:
    """Wait (bounded) until ``pid`` has exited: gone, or a zombie not yet reaped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still running after {timeout} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting to be reaped is gone for our purposes
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


def test_failing_server_start_names_the_command_and_stderr(project: Path) -> None:
    write(
        project / "config" / "experiment.yaml",
        f"""
        mcp:
          servers:
            missing:
              command: definitely-not-a-command-xyz
            crashing:
              command: {sys.executable}
              args: [-c, "import sys; sys.stderr.write('boom: bad flag --frobnicate'); sys.exit(3)"]
        """,
    )
    with Lab(root=project) as lab:
        with pytest.raises(McpServerError) as err:
            lab.engine.call(lab.mcp.session("missing"))
        assert "definitely-not-a-command-xyz" in str(err.value)
        with pytest.raises(McpServerError) as err:
            lab.engine.call(lab.mcp.session("crashing"))
        text = str(err.value)
        assert "failed to start" in text and "boom: bad flag --frobnicate" in text
        with pytest.raises(LgpError, match="MCP server 'nope' is not configured"):
            lab.engine.call(lab.mcp.session("nope"))


def test_agent_node_errors(project: Path) -> None:
    with pytest.raises(ValueError, match="known providers: auto, claude_code, offline, ollama"):
        create_agent_node("gpt-9000")
    assert create_agent_node(config={"role": "writer"}).__name__ == "writer_claude_code"
    make_repos(project)
    mesh_config(project)
    write(project / "bad_repo.py", PARALLEL.replace("repository=role", "repository='../escape'"))
    with Lab(root=project) as lab, pytest.raises(WorkflowRunError) as err:
        lab.run("bad_repo.py", {"task": "x"})
    assert "mesh refused '../escape'" in str(err.value) and "leave the mesh root" in str(err.value)


def test_ollama_provider_on_the_openai_sdk(project: Path) -> None:
    with FakeOpenAI(lambda req: "forty-two") as llm:
        provider = OllamaProvider(base_url=llm.base_url, default_model="tiny")
        result = asyncio.run(provider.execute_task("answer", {}, {"system": "be brief"}))
        assert result.output == "forty-two" and result.model == "tiny" and result.cost == 0.0
        assert result.usage == {"input": 3, "output": 1}
        assert provider.get_provider_name() == "ollama:tiny"
        assert provider.get_cost_estimate(1000, 1000) == 0.0
        assert llm.requests[0]["body"]["messages"][0] == {"role": "system", "content": "be brief"}
        assert llm.requests[0]["auth"] == "Bearer ollama"


def test_unreachable_ollama_is_one_clear_bounded_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    provider = OllamaProvider(base_url=url, connect_timeout_s=1)
    with pytest.raises(LgpError) as err:  # bounded: a hang is a TimeoutError, not a pass
        asyncio.run(asyncio.wait_for(provider.execute_task("hi", {}, {}), 10))
    assert str(err.value).splitlines()[0] == f"Ollama not reachable at {url}"
    assert "start `ollama serve` or set llm_providers.ollama.base_url" in str(err.value)


def test_optimize_evaluate_workflow_end_to_end(project: Path) -> None:
    shutil_copy(REPO / "workflows" / "optimize_evaluate_ollama.py", project / "workflows")
    with FakeOpenAI(optimize_evaluate_reply) as llm, FakeLangfuse() as lf:
        env = cli_env(
            OLLAMA_BASE_URL=llm.base_url,
            OLLAMA_MODEL="tiny",
            LANGFUSE_PUBLIC_KEY="pk",
            LANGFUSE_SECRET_KEY="sk",
            LANGFUSE_BASE_URL=lf.url,
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "lgp_lab",
                "run",
                "optimize_evaluate_ollama",
                "--input",
                '{"task": "Explain checkpoints"}',
                "--json",
            ],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert "[lgp] agent writer → ollama:tiny" in proc.stderr
        assert "[lgp] agent validator → ollama:tiny" in proc.stderr
        generations = [
            s
            for s in lf.spans_of(result["trace_id"])
            if s["attributes"].get("langfuse.observation.type") == "generation"
        ]
    state = result["result"]
    assert state["approved"] is True and state["drafts"] == 2
    assert state["writer_output"].startswith("Draft 2")
    assert len(llm.requests) == 4
    assert len(generations) == 4
    attrs = generations[0]["attributes"]
    assert attrs["langfuse.observation.model.name"] == "tiny"
    assert json.loads(attrs["langfuse.observation.usage_details"])["input"] > 0

    with FakeOpenAI(optimize_evaluate_reply) as llm:
        example = subprocess.run(
            [
                sys.executable,
                str(REPO / "examples" / "test_ollama_workflow.py"),
                "--base-url",
                llm.base_url,
                "--model",
                "tiny",
                "--root",  # its database in the test's project, not the repository's .lgp/
                str(project),
            ],
            cwd=project,
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert example.returncode == 0, example.stderr
    assert "writer     ollama:tiny" in example.stdout
    assert "Ollama (local)            $0.00" in example.stdout
    assert "Fixed subscription" in example.stdout and "per invocation" in example.stdout


def shutil_copy(src: Path, dest_dir: Path) -> None:
    import shutil

    shutil.copy(src, dest_dir / src.name)


# --------------------------------------------------------------------------- issue 14

AUTO_FLOW = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph, START, END
from lgp_lab.agents import create_agent_node

class S(TypedDict, total=False):
    task: str
    agent_output: str

workflow = StateGraph(S)
workflow.add_node("agent", create_agent_node("auto"))
workflow.add_edge(START, "agent")
workflow.add_edge("agent", END)
"""


def _ollama_config(project: Path, base_url: str) -> None:
    write(
        project / "config" / "experiment.yaml",
        f"""
        llm_providers:
          ollama:
            enabled: true
            base_url: {base_url}/v1
            default_model: tiny
        """,
    )


def test_auto_provider_probe_never_blocks_the_engine_loop(project: Path, loop_watchdog) -> None:
    from fakes.blackhole import BlackHole

    write(project / "auto_flow.py", AUTO_FLOW)
    with BlackHole() as hole:
        _ollama_config(project, hole.url)
        with Lab(root=project) as lab:
            result = lab.run("auto_flow.py", {"task": "hello"})
    assert result.state["agent_output"].startswith("[offline echo backend")
    assert loop_watchdog.pings > 0
    assert not loop_watchdog.violations, loop_watchdog.report()


def test_provider_is_per_lab_closed_with_it_and_not_kept(project: Path) -> None:
    import gc
    import weakref

    made: list[weakref.ref] = []
    original = OllamaProvider.__init__

    def tracking_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        made.append(weakref.ref(self))

    write(project / "auto_flow.py", AUTO_FLOW.replace('"auto"', '"ollama"'))
    with FakeOpenAI(lambda req: "first") as one, FakeOpenAI(lambda req: "second") as two:
        OllamaProvider.__init__ = tracking_init  # type: ignore[method-assign]
        try:
            _ollama_config(project, one.base_url.removesuffix("/v1"))
            lab = Lab(root=project)
            assert lab.run("auto_flow.py", {"task": "a"}).state["agent_output"] == "first"
            provider = made[0]()
            client = provider._client
            lab.close()
            assert client.is_closed(), "the provider's AsyncOpenAI client outlived its Lab"
            del lab, provider, client
            gc.collect()
            assert made[0]() is None, "the provider cache kept a closed Lab's provider"
            # A new Lab reads its own config, whatever id() it gets.
            _ollama_config(project, two.base_url.removesuffix("/v1"))
            with Lab(root=project) as lab:
                assert lab.run("auto_flow.py", {"task": "b"}).state["agent_output"] == "second"
        finally:
            OllamaProvider.__init__ = original  # type: ignore[method-assign]


def test_reloading_a_workflow_does_not_grow_the_agent_registry(project: Path) -> None:
    from lgp_lab.agents.providers import injected_agents

    flow = write(project / "auto_flow.py", AUTO_FLOW)
    with Lab(root=project) as lab:
        lab.run(str(flow), {"task": "x"})
        before = len(injected_agents())
        for i in range(5):
            write(flow, AUTO_FLOW + f"\n# edit {i}\n")
            lab.reload(lab.load(str(flow)))
        assert len(injected_agents()) == before


def test_mcp_server_start_leaks_no_file_descriptor(project: Path) -> None:
    make_repos(project)
    mesh_config(project)

    def open_logs() -> list[str]:
        targets = []
        for fd in Path("/proc/self/fd").iterdir():
            try:
                targets.append(os.readlink(fd))
            except OSError:  # closed while listing
                continue
        return [t for t in targets if "lgp-mcp-" in t]

    with Lab(root=project) as lab:
        for _ in range(3):
            lab.engine.call(lab.mcp.session("mesh"))
            lab.engine.call(lab.mcp.aclose())
        assert open_logs() == [], "each MCP server start left its stderr log file open"


def test_claude_code_node_without_the_agents_extra_is_one_immediate_line(
    project: Path, tmp_path: Path
) -> None:
    blocker = write(
        tmp_path / "nomcp" / "sitecustomize.py",
        """
        import sys
        sys.modules["mcp"] = None  # as if `pip install lgp-lab` without [agents]
        sys.modules["openai"] = None
        """,
    )
    make_repos(project)
    write(project / "parallel.py", PARALLEL)
    env = cli_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(blocker.parent), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "lgp_lab", "run", "parallel.py", "-i", '{"task": "x"}'],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert 'pip install "lgp-lab[agents]"' in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "never retrieved" not in proc.stderr, proc.stderr
    assert "no answer within" not in proc.stderr, proc.stderr
