"""The mesh MCP server as a real subprocess, driven by the official MCP client."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from conftest import write
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "repos"
    for repo, files in {
        "alpha": ["app.py", "README.md"],
        "beta": ["lib.rs"],
        "gamma": ["notes.txt", "data/rows.csv"],
    }.items():
        for name in files:
            path = root / repo / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{repo}:{name}\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("top secret\n")
    os.symlink(tmp_path / "outside", root / "escape")
    return root


async def with_mesh(root: Path, errlog: Path, body, *, backend: str = "echo", env=None):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "lgp_lab", "mesh", "--root", str(root), "--backend", backend],
        env=env,
    )
    with open(errlog, "w") as err:
        async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as session:
            await session.initialize()
            return await body(session)


def test_tools_isolation_refusals_and_sessions(tmp_path: Path) -> None:
    root = make_root(tmp_path)
    errlog = tmp_path / "mesh.log"

    async def body(s: ClientSession) -> None:
        tools = {t.name for t in (await s.list_tools()).tools}
        assert {"mesh_execute", "list_repositories", "mesh_status"} <= tools
        repos = json.loads((await s.call_tool("list_repositories", {})).content[0].text)
        assert repos == {"repositories": ["alpha", "beta", "gamma"], "backend": "echo"}

        # R5.3 witness at the protocol level: three repositories at once.
        results = await asyncio.gather(
            *(
                s.call_tool("mesh_execute", {"repository": r, "task": f"describe {r}"})
                for r in ("alpha", "beta", "gamma")
            )
        )
        data = [r.structured_content for r in results]
        assert len({d["session_id"] for d in data}) == 3
        assert "app.py" in data[0]["output"] and "lib.rs" not in data[0]["output"]
        assert "lib.rs" in data[1]["output"] and "app.py" not in data[1]["output"]
        assert "data/rows.csv" in data[2]["output"] and "app.py" not in data[2]["output"]
        assert all("offline" in d["output"] for d in data)

        # Continuity: the session remembers its earlier task.
        again = await s.call_tool(
            "mesh_execute",
            {"repository": "alpha", "task": "now the tests", "session_id": data[0]["session_id"]},
        )
        assert again.structured_content["turn"] == 2
        assert "Earlier tasks in this session: describe alpha" in again.structured_content["output"]

        refusals = {
            "..": "leave the mesh root",
            "/etc": "absolute path",
            "escape": "symlink that leaves the mesh root",
            "nope": "unknown repository 'nope'; known: alpha, beta, gamma",
            "alpha/../beta": "leave the mesh root",
            "alpha/data": "nested path",
        }
        for name, reason in refusals.items():
            res = await s.call_tool("mesh_execute", {"repository": name, "task": "x"})
            assert res.is_error and reason in res.content[0].text, (name, res.content)
            assert "Error executing tool" not in res.content[0].text
        cross = await s.call_tool(
            "mesh_execute",
            {"repository": "beta", "task": "x", "session_id": data[0]["session_id"]},
        )
        assert cross.is_error and "belongs to repository 'alpha'" in cross.content[0].text
        unknown = await s.call_tool(
            "mesh_execute", {"repository": "beta", "task": "x", "session_id": "mesh-nope"}
        )
        assert unknown.is_error and "unknown session" in unknown.content[0].text
        status = (await s.call_tool("mesh_status", {})).structured_content
        assert status["sessions"] == {"alpha": 1, "beta": 1, "gamma": 1}

    asyncio.run(with_mesh(root, errlog, body))
    log = errlog.read_text()
    assert "serving" in log and "shutdown: closed 3 sessions" in log
    assert "top secret" not in log


def test_claude_backend_runs_the_cli_inside_the_repository(tmp_path: Path) -> None:
    """A stand-in `claude` on PATH records its cwd and arguments like print mode would."""
    root = make_root(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "claude"
    fake.write_text(
        "#!" + sys.executable + "\n"
        "import json, os, sys\n"
        "args = sys.argv[1:]\n"
        "resumed = args[args.index('--resume') + 1] if '--resume' in args else None\n"
        "print(json.dumps({'result': f'cwd={os.path.basename(os.getcwd())} task={args[1]} "
        "resumed={resumed}', 'session_id': resumed or 'claude-sess-1', 'is_error': False}))\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    async def body(s: ClientSession) -> None:
        first = await s.call_tool("mesh_execute", {"repository": "beta", "task": "fix it"})
        data = first.structured_content
        assert data["backend"] == "claude" and data["output"] == "cwd=beta task=fix it resumed=None"
        second = await s.call_tool(
            "mesh_execute",
            {"repository": "beta", "task": "and test", "session_id": data["session_id"]},
        )
        assert second.structured_content["output"].endswith("resumed=claude-sess-1")

    asyncio.run(with_mesh(root, tmp_path / "mesh.log", body, backend="auto", env=env))


def test_llm_backend_file_tools_stay_inside_the_repository(tmp_path: Path) -> None:
    from fakes.openai_server import FakeOpenAI

    root = make_root(tmp_path)

    def reply(request: dict) -> str | dict:
        tool_results = [m for m in request["messages"] if m["role"] == "tool"]
        if len(tool_results) == 0:
            escape = json.dumps({"path": "../../outside/secret.txt"})
            readme = json.dumps({"path": "README.md"})
            return {
                "tool_calls": [
                    {"id": "c1", "type": "function",
                     "function": {"name": "read_file", "arguments": escape}},
                    {"id": "c2", "type": "function",
                     "function": {"name": "read_file", "arguments": readme}},
                ]
            }  # fmt: skip
        return "tool results: " + " | ".join(m["content"].strip() for m in tool_results)

    with FakeOpenAI(reply) as llm:
        params_env = {**os.environ}

        async def body(s: ClientSession) -> str:
            res = await s.call_tool("mesh_execute", {"repository": "alpha", "task": "read"})
            assert not res.is_error, res.content
            return res.structured_content["output"]

        params = [
            sys.executable,
            "-m",
            "lgp_lab",
            "mesh",
            "--root",
            str(root),
            "--backend",
            "llm",
            "--llm-base-url",
            llm.base_url,
            "--llm-model",
            "tiny",
        ]

        async def run() -> str:
            server = StdioServerParameters(command=params[0], args=params[1:], env=params_env)
            with open(tmp_path / "mesh.log", "w") as err:
                async with stdio_client(server, errlog=err) as (r, w), ClientSession(r, w) as s:
                    await s.initialize()
                    return await body(s)

        output = asyncio.run(run())
    assert "outside the repository" in output and "alpha:README.md" in output
    assert "top secret" not in output


def test_mesh_refuses_a_missing_root(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "lgp_lab", "mesh", "--root", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2 and "is not a directory" in proc.stderr


@pytest.fixture(autouse=True)
def _tests_on_path() -> None:
    sys.path.insert(0, str(Path(__file__).parent))


def _plugin_dist(root: Path) -> Path:
    """A tiny installed distribution (a .dist-info on sys.path) declaring both groups."""
    write(
        root / "lgp_plugin_demo.py",
        """
        from lgp_lab.agents.mesh.backends import Backend
        from lgp_lab.agents.providers import AgentResult, LLMProvider

        class ShoutProvider(LLMProvider):
            def __init__(self, **settings):
                self.settings = settings
            def get_provider_name(self):
                return "shout:v1"
            def get_cost_estimate(self, input_tokens, output_tokens):
                return 0.0
            async def execute_task(self, task, state, config):
                return AgentResult(output=task.upper(), model="shout")

        class ReverseBackend(Backend):
            name = "reverse"
            async def run(self, repo, task, session):
                return task[::-1]
        """,
    )
    info = root / "lgp_plugin_demo-0.1.dist-info"
    write(info / "METADATA", "Name: lgp-plugin-demo\nVersion: 0.1\n")
    write(
        info / "entry_points.txt",
        """
        [lgp_lab.providers]
        shout = lgp_plugin_demo:ShoutProvider

        [lgp_lab.mesh_backends]
        reverse = lgp_plugin_demo:ReverseBackend
        """,
    )
    return root


def test_providers_and_backends_are_entry_points(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from lgp_lab.agents import create_agent_node
    from lgp_lab.agents.mesh.backends import MeshSession, make_backend
    from lgp_lab.agents.registry import mesh_backends, providers

    monkeypatch.syspath_prepend(str(_plugin_dist(tmp_path / "site")))
    assert {"claude_code", "ollama", "offline", "shout"} <= set(providers())
    node = create_agent_node("shout", {"role": "crier"})
    assert asyncio.run(node({"task": "hello"})) == {"crier_output": "HELLO"}
    backend = make_backend("reverse")
    assert asyncio.run(backend.run(project, "abc", MeshSession("s", "r"))) == "cba"
    with pytest.raises(ValueError, match="known: auto, claude, echo, llm, reverse"):
        make_backend("nope")
    # An install whose entry-point metadata is stale still finds the built-ins.
    monkeypatch.setattr("lgp_lab.agents.registry.entry_points", lambda group: [])
    assert set(providers()) == {"claude_code", "ollama", "offline"}
    assert set(mesh_backends()) == {"echo", "claude", "llm"}


def test_unknown_mesh_backend_lists_the_registered_ones(tmp_path) -> None:
    from conftest import run_cli

    (tmp_path / "repositories").mkdir()
    result = run_cli("mesh", "--backend", "nope", cwd=tmp_path)
    assert result.returncode == 2
    assert "known: auto, claude, echo, llm" in result.stderr
