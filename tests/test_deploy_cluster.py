"""``lgp-lab deploy --target kubernetes`` from a machine that cannot reach the cluster's
database: the manifests render, the gate says the database check was not run (and
why), and the release travels in the manifests, recorded by a Job in the cluster.

Real components: the CLI as a subprocess, the shipped production config with an
unreachable ``DATABASE_URL`` (loopback port 1), the Job's own command run as the cluster
would run it against a real PostgreSQL server, and kubernetes-validate on the objects.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from conftest import cli_env, run_cli, write

pytestmark = pytest.mark.slow

KEY = secrets.token_urlsafe(32)
UNREACHABLE = "postgresql://u:p@127.0.0.1:1/db"
REPO = Path(__file__).resolve().parent.parent

FLOW = """
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START

    class State(TypedDict, total=False):
        input: str
        output: str

    async def answer(state: State) -> State:
        return {"output": "v1:" + state.get("input", "")}

    builder = StateGraph(State)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    workflow = builder
"""


@pytest.fixture
def laptop_project(tmp_path: Path) -> Path:
    root = tmp_path / "agents"
    write(root / "workflows" / "flow.py", FLOW)
    write(root / "config" / "production.yaml", (REPO / "config/production.yaml").read_text())
    return root


def _render(root: Path, out: Path, env: dict[str, str]) -> str:
    done = run_cli("deploy", "flow", "--target", "kubernetes", "--image", "reg/agents:1",
                   "--output", str(out), cwd=root, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_kubernetes_manifests_render_without_reaching_the_cluster_database(
    laptop_project: Path, tmp_path: Path, postgres_url: str
) -> None:
    root = laptop_project
    laptop = cli_env(DATABASE_URL=UNREACHABLE, LGP_API_KEY=KEY)
    out = tmp_path / "k8s.yaml"
    stderr = _render(root, out, laptop)
    # The database check was not run, and says why; it is not a failure.
    assert "❌" not in stderr, stderr
    [line] = [ln for ln in stderr.splitlines() if "database:" in ln]
    assert "not run" in line and "only reachable from inside the cluster" in line, line
    assert "postgresql://u:***@127.0.0.1:1/db" in line and ":p@" not in stderr
    assert "Validating environment... ✅" in stderr and "✅ Rendered: kubectl apply -f" in stderr
    objects = list(yaml.safe_load_all(out.read_text()))
    kinds = [o["kind"] for o in objects]
    assert kinds == ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler", "ConfigMap", "Job"]  # fmt: skip
    for obj in objects:
        kubernetes_validate.validate(obj, kubernetes_validate.latest_version(), strict=True)
    job, release_map = objects[-1], objects[-2]
    assert f"job/{job['metadata']['name']}" in stderr  # named in what to expect
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == "reg/agents:1"
    env = {e["name"]: e for e in container["env"]}
    # The Job reads the cluster's database from the Secret, as the API's pods do.
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "agents-secrets", "key": "DATABASE_URL"
    }  # fmt: skip
    assert UNREACHABLE not in out.read_text()  # never this machine's value

    # The cluster runs the Job: its command, its env (the Secret's DATABASE_URL: a real
    # server here), the release ConfigMap mounted where the command reads it.
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    [release_volume] = [n for n, v in volumes.items() if "configMap" in v and
                        v["configMap"]["name"] == release_map["metadata"]["name"]]  # fmt: skip
    mounted = tmp_path / "mounted-release"
    for key, data in release_map["binaryData"].items():
        write(mounted / key, "")
        (mounted / key).write_bytes(base64.b64decode(data))
    mount = mounts[release_volume] + "/"
    args = [a.replace(mount, f"{mounted}/", 1) if a.startswith(mount) else a
            for a in container["args"]]  # fmt: skip
    assert container["command"] == ["lgp-lab"]
    cluster = cli_env(DATABASE_URL=postgres_url, LGP_API_KEY=KEY,
                      LGP_ENV=env["LGP_ENV"]["value"])  # fmt: skip
    recorded = run_cli(*args, cwd=root, env=cluster, timeout=120)
    assert recorded.returncode == 0, recorded.stderr
    assert "rel-0001" in recorded.stderr + recorded.stdout
    again = run_cli(*args, cwd=root, env=cluster, timeout=120)  # a retried Job pod
    assert again.returncode == 0, again.stderr
    listed = json.loads(run_cli("releases", "--json", cwd=root, env=cluster).stdout)
    assert [(r["release_id"], r["target"]) for r in listed] == [("rel-0001", "kubernetes")]
    assert listed[0]["workflows"] == ["flow"]
    assert listed[0]["files"] == ["config/production.yaml", "workflows/flow.py"]
    assert listed[0]["content_hash"][:12] in stderr  # the snapshot the gate passed

    # From where the database is reachable, that release rolls back as any other: its
    # manifests (without the recording Job) come back as they were rendered.
    back = tmp_path / "back.yaml"
    rolled = run_cli("deploy", "--target", "kubernetes", "--rollback", "rel-0001",
                     "--output", str(back), cwd=root, env=cluster, timeout=300)  # fmt: skip
    assert rolled.returncode == 0, rolled.stderr
    assert list(yaml.safe_load_all(back.read_text())) == objects[:5]
    # Without the database, a rollback says where the history is and how to reach it.
    refused = run_cli("deploy", "--target", "kubernetes", "--rollback", cwd=root, env=laptop,
                      timeout=120)  # fmt: skip
    assert refused.returncode == 1
    assert "release history" in refused.stderr and "port-forward" in refused.stderr
