"""``lgp-lab deploy --target local`` on a real PostgreSQL server: two replicas under
uvicorn's supervisor, v2 rolled out under constant load with zero failed requests,
``--rollback`` restoring v1, ``lgp-lab releases`` listing them; plus the refusals
(a failing gate, a port in use) and Kubernetes rendering through the CLI."""

from __future__ import annotations

import json
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from conftest import cli_env, run_cli, write

pytestmark = pytest.mark.slow

KEY = secrets.token_urlsafe(32)

FLOW = """
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START

    VERSION = "v1"
    FAILING_AT = set()

    class State(TypedDict, total=False):
        input: str
        output: str

    async def answer(state: State) -> State:
        text = state.get("input", "")
        if text.isdigit() and int(text) % 100 in FAILING_AT:
            raise RuntimeError(f"bad release on input {text}")
        return {"output": f"{VERSION}:{text}"}

    builder = StateGraph(State)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    workflow = builder
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def deploy_project(tmp_path: Path, postgres_url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A project with one workflow, the shipped production config (PostgreSQL via
    DATABASE_URL) and the env a deploy runs with; the replicas are stopped after."""
    root = tmp_path / "proj"
    write(root / "workflows" / "flow.py", FLOW)
    repo_config = Path(__file__).resolve().parent.parent / "config" / "production.yaml"
    # The shipped file, with the per-key rate limit off: the load below is one key.
    text = repo_config.read_text().replace("rate_limit_per_minute: 100", "rate_limit_per_minute: 0")
    assert "rate_limit_per_minute: 0" in text
    write(root / "config" / "production.yaml", text)
    env = cli_env(DATABASE_URL=postgres_url, LGP_API_KEY=KEY)
    try:
        yield root, env
    finally:
        run_cli("deploy", "--stop", cwd=root, env=env, timeout=120)


class _Load:
    """Constant load: ``workers`` clients POSTing runs back to back (a new connection
    each, as independent clients do) until stopped; every outcome recorded."""

    def __init__(self, url: str, workers: int = 3) -> None:
        self.url = url
        self.stop = threading.Event()
        self.results: list[tuple[int | str, str | None]] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(workers)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {KEY}", "Connection": "close"}
        for n in range(100_000):  # bounded; stopped long before
            if self.stop.is_set():
                return
            try:
                response = httpx.post(
                    f"{self.url}/workflows/flow/invoke",
                    json={"input": {"input": str(n)}}, headers=headers, timeout=60,
                )  # fmt: skip
                output = response.json().get("result", {}).get("output")
                self.results.append((response.status_code, output))
            except Exception as exc:  # a refused or dropped connection is a failure too
                self.results.append((type(exc).__name__, None))

    def finish(self) -> list[tuple[int | str, str | None]]:
        self.stop.set()
        for thread in self.threads:
            thread.join(90)
        return list(self.results)


def _invoke(url: str) -> str:
    response = httpx.post(
        f"{url}/workflows/flow/invoke", json={"input": {"input": "x"}},
        headers={"Authorization": f"Bearer {KEY}"}, timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["result"]["output"]


def test_rolling_update_under_load_and_rollback(deploy_project: tuple[Path, dict]) -> None:
    root, env = deploy_project
    port = _free_port()
    first = run_cli("deploy", "flow", "--replicas", "2", "--port", str(port), cwd=root, env=env,
                    timeout=300)  # fmt: skip
    assert first.returncode == 0, first.stderr
    url = f"http://127.0.0.1:{port}"
    for line in ("Validating environment... ✅", "Running health checks... ✅",
                 f"✅ Deployed: {url} (rel-0001)"):  # fmt: skip
        assert line in first.stderr
    assert _invoke(url) == "v1:x"
    # The official SDK through a replica (its app runs on the Lab's engine loop, bridged
    # from uvicorn's): a thread, a waited run and a streamed one.
    from langgraph_sdk import get_sync_client

    with get_sync_client(url=url, api_key=KEY) as sdk:
        thread = sdk.threads.create()
        done = sdk.runs.wait(thread["thread_id"], "flow", input={"input": "sdk"})
        assert done["output"] == "v1:sdk"
        chunks = list(sdk.runs.stream(None, "flow", input={"input": "s"}, stream_mode="values"))
        values = [c.data for c in chunks if c.event == "values"]
        assert values[-1] == {"input": "s", "output": "v1:s"}, chunks
    # Both replicas answer (two processes share the socket).
    pids = {httpx.get(f"{url}/release", timeout=10).json()["pid"] for _ in range(40)}
    assert len(pids) == 2

    write(root / "workflows" / "flow.py", FLOW.replace('"v1"', '"v2"'))
    load = _Load(url)
    second = run_cli("deploy", "flow", cwd=root, env=env, timeout=300)
    results = load.finish()
    assert second.returncode == 0, second.stderr
    assert "Rolling update: 2 replicas, one at a time..." in second.stderr
    failed = [r for r in results if r[0] != 200]
    assert failed == [], f"{len(failed)} of {len(results)} requests failed: {failed[:5]}"
    outputs = [r[1].split(":")[0] for r in results]
    assert "v1" in outputs and "v2" in outputs and len(results) > 20  # served through the roll
    assert outputs[-1] == "v2" and _invoke(url) == "v2:x"

    back = run_cli("deploy", "--rollback", "rel-0001", cwd=root, env=env, timeout=300)
    assert back.returncode == 0, back.stderr
    assert "Rolling back to rel-0001" in back.stderr
    assert _invoke(url) == "v1:x"

    listed = run_cli("releases", cwd=root, env=env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == ["rel-0003", "rel-0002", "rel-0001"]
    assert "(rollback to rel-0001)" in lines[0]
    as_json = json.loads(run_cli("releases", "--json", cwd=root, env=env).stdout)
    hashes = {r["release_id"]: r["content_hash"] for r in as_json}
    assert hashes["rel-0003"] == hashes["rel-0001"] != hashes["rel-0002"]
    assert as_json[-1]["files"] == ["config/production.yaml", "workflows/flow.py"]


def test_failed_gate_refuses_and_records_nothing(deploy_project: tuple[Path, dict]) -> None:
    root, env = deploy_project
    write(root / "workflows" / "flow.py", FLOW.replace(
        "async def answer(state: State) -> State:",
        "async def answer(state: State) -> State:\n        import time; time.sleep(0.01)",
    ))  # fmt: skip
    refused = run_cli("deploy", "flow", "--port", str(_free_port()), cwd=root, env=env,
                      timeout=300)  # fmt: skip
    assert refused.returncode == 1
    assert "❌ blocking-io" in refused.stderr
    assert "not deploying (fix them, or pass --force)" in refused.stderr
    listed = run_cli("releases", cwd=root, env=env)
    assert listed.stdout.strip() == "No releases of production yet."


def test_port_in_use_is_refused_before_recording(deploy_project: tuple[Path, dict]) -> None:
    root, env = deploy_project
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        taken = run_cli("deploy", "flow", "--port", str(port), cwd=root, env=env, timeout=300)
    assert taken.returncode == 1
    assert f"127.0.0.1:{port} is in use" in taken.stderr and "--port" in taken.stderr


def test_kubernetes_target_renders_and_says_plainly_without_kubectl(
    deploy_project: tuple[Path, dict],
) -> None:
    root, env = deploy_project
    out = root / "k8s.yaml"
    env = {**env, "PATH": "/nonexistent"}  # no kubectl on this PATH
    done = run_cli("deploy", "flow", "--target", "kubernetes", "--image", "reg/agents:1",
                   "--output", str(out), "--apply", cwd=root, env=env, timeout=300)  # fmt: skip
    assert done.returncode == 1
    assert "kubectl is not installed here: nothing applied" in done.stderr
    kinds = [d["kind"] for d in yaml.safe_load_all(out.read_text())]
    assert kinds == ["ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler"]  # fmt: skip
    listed = json.loads(run_cli("releases", "--json", cwd=root, env=env).stdout)
    assert [r["target"] for r in listed] == ["kubernetes"]
    # A new image, then a rollback: the recorded manifests (old image) come back as they
    # were, with no --image needed.
    newer = run_cli("deploy", "flow", "--target", "kubernetes", "--image", "reg/agents:2",
                    cwd=root, env=env, timeout=300)  # fmt: skip
    assert newer.returncode == 0, newer.stderr
    assert "✅ Rendered: kubectl apply -f" in newer.stderr
    back = run_cli("deploy", "--target", "kubernetes", "--rollback", "rel-0001",
                   "--output", str(out), cwd=root, env=env, timeout=300)  # fmt: skip
    assert back.returncode == 0, back.stderr
    [deployment] = [d for d in yaml.safe_load_all(out.read_text()) if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "reg/agents:1"


def test_replicas_on_sqlite_are_refused(deploy_project: tuple[Path, dict]) -> None:
    root, env = deploy_project
    config = root / "config" / "production.yaml"
    lines = config.read_text().replace("backend: postgres", "backend: sqlite").splitlines()
    write(config, "\n".join(ln for ln in lines if not ln.strip().startswith("url:")) + "\n")
    refused = run_cli("deploy", "flow", "--replicas", "2", "--port", str(_free_port()),
                      cwd=root, env=env, timeout=300)  # fmt: skip
    assert refused.returncode == 1
    assert "2 replicas on SQLite" in refused.stderr and "--replicas 1" in refused.stderr


def test_a_bad_release_is_rolled_back_on_every_replica(deploy_project: tuple[Path, dict]) -> None:
    from fakes.webhook import WebhookReceiver

    from lgp_lab.deploy.local import LocalDeployment

    root, env = deploy_project
    hook = WebhookReceiver()
    env = {**env, "LGP_ALERT_WEBHOOK": hook.url}
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        first = run_cli("deploy", "flow", "--port", str(port), cwd=root, env=env, timeout=300)
        assert first.returncode == 0, first.stderr
        twelve = sorted({5, 13, 21, 29, 37, 45, 53, 61, 69, 77, 85, 93})
        write(
            root / "workflows" / "flow.py",
            FLOW.replace('"v1"', '"v2"').replace("FAILING_AT = set()", f"FAILING_AT = {twelve}"),
        )
        second = run_cli("deploy", "flow", cwd=root, env=env, timeout=300)  # passes the gate
        assert second.returncode == 0, second.stderr
        load = _Load(url)
        assert hook.received.wait(120), (
            "no alert: " + LocalDeployment(root, "production").log_tail()
        )
        results = load.finish()
        LocalDeployment(root, "production").wait_serving("rel-0003", replicas=2, timeout=180)
    finally:
        hook.close()
    # Failing runs were answered as 500s; no request went unanswered across the roll.
    assert {r[0] for r in results} <= {200, 500}, {r[0] for r in results}
    assert _invoke(url) == "v1:x"
    incidents = json.loads(run_cli("incidents", "--json", cwd=root, env=env).stdout)
    [incident] = incidents
    assert incident["version"] == 1 and incident["error_rate"] > 0.10
    assert incident["action"] == "rolled back release rel-0002 -> rel-0001 (live as rel-0003)"
    assert incident["incident_id"] in hook.bodies[0]["text"]
    listed = run_cli("releases", cwd=root, env=env).stdout
    assert "automatic rollback to rel-0001: flow v1 error rate over the threshold" in listed


@pytest.fixture(params=["sqlite", "postgres"])
def backend_lab(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A Lab on each backend (a SQLite file, or a fresh database on the real server)."""
    from lgp_lab import Lab
    from lgp_lab.config import LabConfig

    checkpoint: dict[str, object] = {"path": str(tmp_path / "db.sqlite")}
    if request.param == "postgres":
        checkpoint = {"backend": "postgres", "url": request.getfixturevalue("postgres_url")}
    config = LabConfig.model_validate({"checkpoint": checkpoint, "environment": "production"})
    with Lab(config=config.with_root(tmp_path), console=False) as lab:
        yield lab


def test_release_and_incident_stores_on_both_backends(backend_lab: Any) -> None:
    """One conformance test for the two tables this issue adds, on every backend."""
    from lgp_lab.storage.incidents import Incident, incident_store_for
    from lgp_lab.storage.releases import Release, ReleaseStore, content_hash

    lab = backend_lab

    async def scenario() -> None:
        saver = await lab.acheckpointer()
        releases = ReleaseStore(saver)
        files = {"workflows/a.py": "x = 1\n", "config/production.yaml": "{}\n"}
        made = []
        for env in ("production", "production", "hosted"):
            release = Release("", env, content_hash(files), files, ["a"], "local")
            made.append((await releases.add(release)).release_id)
        assert made == ["rel-0001", "rel-0002", "rel-0001"]  # numbered per environment
        listed = await releases.list("production")
        assert [r.release_id for r in listed] == ["rel-0002", "rel-0001"]
        got = await releases.get("production", "rel-0001")
        assert got is not None and got.files == files and got.workflows == ["a"]
        assert await releases.get("production", "rel-0404") is None

        incidents = incident_store_for(saver)
        first = await incidents.add(Incident("", "a", 2, 0.12, 0.1, 60, 50, 6, "alerted"))
        second = await incidents.add(Incident("", "b", 3, 0.5, 0.1, 60, 20, 10, "alerted"))
        year = first.created_at[:4]
        assert (first.incident_id, second.incident_id) == (f"INC-{year}-001", f"INC-{year}-002")
        first.rate_after = 0.0
        await incidents.update(first)
        stored = await incidents.list(workflow="a")
        assert [(i.incident_id, i.rate_after) for i in stored] == [(first.incident_id, 0.0)]
        assert [i.workflow for i in await incidents.list()] == ["b", "a"]

    lab.engine.call(scenario())
