"""Anomaly detection and automatic rollback: a version failing 12% of runs under load
is rolled back, alerted to a webhook (a local HTTP server speaking Slack's incoming
webhook JSON) and recorded as an incident; a version failing 5% is left alone.

Real components: a real Lab on a SQLite file, a real uvicorn on 127.0.0.1 driven by
concurrent clients, a hot reload to the bad version, the CLI as a subprocess.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from conftest import run_cli, write
from fakes.webhook import WebhookReceiver

from lgp_lab import Lab
from lgp_lab.config import load_config
from lgp_lab.errors import WorkflowRunError
from lgp_lab.runtime.anomaly import ErrorRateWindow, anomaly_watcher, watch_anomalies
from lgp_lab.server.background import start_server

pytestmark = pytest.mark.slow

# Version 1 never fails; FAILING_AT marks the inputs n (mod 100) the next version fails on.
FLOW = """
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START

    FAILING_AT = set()

    class State(TypedDict, total=False):
        n: int
        output: str

    def work(state: State) -> State:
        if state["n"] % 100 in FAILING_AT:
            raise RuntimeError(f"bad release on input {state['n']}")
        return {"output": f"done {state['n']}"}

    builder = StateGraph(State)
    builder.add_node("work", work)
    builder.add_edge(START, "work")
    workflow = builder
"""
# 12 of every 100 inputs, spread out (as a real partial failure is).
TWELVE_PERCENT = {5, 13, 21, 29, 37, 45, 53, 61, 69, 77, 85, 93}
FIVE_PERCENT = {7, 27, 47, 67, 87}


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver()
    yield hook
    hook.close()


def _lab(root: Path, webhook_url: str, *, traced: bool = True) -> Lab:
    config = load_config("experiment", root)
    config.observability.local = traced  # off: no trace exporter at all (console is off)
    config.anomaly.enabled = True  # off by default in experiment
    config.anomaly.min_runs = 20
    config.anomaly.window_s = 60
    config.anomaly.error_rate_threshold = 0.10
    config.alerts.webhook_url = webhook_url
    return Lab(config=config, console=False)


def _release(flow: Path, failing: set[int]) -> None:
    write(flow, FLOW.replace("FAILING_AT = set()", f"FAILING_AT = {sorted(failing)!r}"))


def _load(url: str, inputs: range, workers: int = 4) -> list[int]:
    """POST one run per input from ``workers`` concurrent clients; the status codes."""
    local = threading.local()

    def one(n: int) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=60)
        return client.post("/workflows/flaky/invoke", json={"input": {"n": n}}).status_code

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, inputs))


def _runs(url: str) -> dict[tuple[str, str], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (s.labels["version"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "lgp_runs_total" and s.labels.get("workflow") == "flaky"
    }


def test_twelve_percent_is_rolled_back_alerted_and_recorded(
    project: Path, webhook: WebhookReceiver
) -> None:
    flow = project / "workflows" / "flaky.py"
    _release(flow, set())
    with _lab(project, webhook.url) as lab:
        handle = start_server(lab, [str(flow)], port=0)
        try:
            assert set(_load(handle.url, range(40))) == {200}  # v1: healthy
            _release(flow, TWELVE_PERCENT)
            assert lab.reload("flaky") == 2  # the hot reload of a bad version
            statuses = _load(handle.url, range(200))
            assert webhook.received.wait(30), "no alert reached the webhook"
            lab.engine.call(anomaly_watcher(lab).adrain())
            runs = _runs(handle.url)
            wf = lab.workflows["flaky"]
        finally:
            handle.stop()
        incidents = anomaly_watcher(lab).incidents
    # Rolled back: v1's code is live again (as v3), and it fails nothing.
    assert wf.version == 3
    assert 500 in statuses  # the bad version did fail some requests...
    bad_runs = runs[("2", "complete")] + runs[("2", "error")]
    assert bad_runs < 60, "detected only after the whole load"  # ...but not for long
    after_ok, after_err = runs[("3", "complete")], runs.get(("3", "error"), 0)
    assert after_ok > 100 and after_err / (after_ok + after_err) < 0.01
    [incident] = incidents
    assert incident.version == 2 and incident.restored_version == 1
    assert incident.live_version == 3 and incident.error_rate > 0.10
    assert incident.incident_id.startswith("INC-") and incident.incident_id.endswith("-001")
    assert incident.rate_after is not None and incident.rate_after < 0.01
    assert incident.action == "rolled back to v1 (live as v3)"
    # The Slack-compatible alert.
    [alert] = webhook.bodies
    assert "⚠️ Anomaly detected: error_rate = " in alert["text"]
    assert "(threshold: 10%)" in alert["text"] and incident.incident_id in alert["text"]
    fields = {f["title"]: f["value"] for f in alert["attachments"][0]["fields"]}
    assert fields["Workflow"] == "flaky v2" and fields["Action"] == incident.action
    # Listed from the database by the CLI.
    listed = run_cli("incidents", "--env", "experiment", cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert incident.incident_id in listed.stdout and "flaky v2" in listed.stdout
    assert "rolled back to v1" in listed.stdout
    as_json = run_cli("incidents", "--env", "experiment", "--json", cwd=project)
    [stored] = json.loads(as_json.stdout)
    assert stored["rate_after"] < 0.01 and stored["window_s"] == 60


def test_five_percent_is_not_rolled_back(project: Path, webhook: WebhookReceiver) -> None:
    flow = project / "workflows" / "flaky.py"
    _release(flow, set())
    with _lab(project, webhook.url) as lab:
        handle = start_server(lab, [str(flow)], port=0)
        try:
            _load(handle.url, range(40))
            _release(flow, FIVE_PERCENT)
            assert lab.reload("flaky") == 2
            statuses = _load(handle.url, range(200))
            lab.engine.call(anomaly_watcher(lab).adrain())
            version = lab.workflows["flaky"].version
        finally:
            handle.stop()
        assert anomaly_watcher(lab).incidents == []
    assert statuses.count(500) == 10  # 5% failed...
    assert version == 2  # ...and the version stayed
    assert webhook.bodies == []
    listed = run_cli("incidents", "--env", "experiment", cwd=project)
    assert listed.stdout.strip() == "No incidents."


@pytest.mark.parametrize("traced", [True, False], ids=["traced", "exporters-off"])
def test_notebook_hot_reload_is_rolled_back_without_a_server(
    project: Path, webhook: WebhookReceiver, traced: bool
) -> None:
    import logging

    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("lgp_lab.promotion")
    logger.addHandler(handler)
    flow = project / "workflows" / "flaky.py"
    _release(flow, set())
    with _lab(project, webhook.url, traced=traced) as lab:
        watcher = watch_anomalies(lab)
        assert watcher is not None
        lab.run(str(flow), {"n": 0})
        _release(flow, {n for n in range(100) if n % 2})  # half the inputs fail
        assert lab.reload("flaky") == 2
        failures = 0
        for n in range(60):
            try:
                lab.run("flaky", {"n": n})
            except WorkflowRunError:
                failures += 1
        lab.engine.call(watcher.adrain())
        assert lab.workflows["flaky"].version == 3
        assert lab.run("flaky", {"n": 1}).state["output"] == "done 1"  # v1's code
    logger.removeHandler(handler)
    assert failures == 10  # detected at the 20th run of v2 (min_runs), half of them failed
    assert [i.action for i in watcher.incidents] == ["rolled back to v1 (live as v3)"]
    assert records[0].startswith("⚠️ Anomaly detected: error_rate = 50.0% (threshold: 10%)")
    assert records[1] == "Rolled back flaky v2 -> v1 (live as v3)"


def test_a_restored_version_that_fails_is_alerted_not_rolled_back_again(
    project: Path, webhook: WebhookReceiver
) -> None:
    # The only good graph is the one already live: nothing earlier to restore.
    flow = write(project / "workflows" / "flaky.py", FLOW.replace("set()", "set(range(100))"))
    with _lab(project, webhook.url) as lab:
        watcher = watch_anomalies(lab)
        for n in range(25):
            with pytest.raises(WorkflowRunError):
                lab.run(str(flow), {"n": n})
        lab.engine.call(watcher.adrain())
        assert lab.workflows["flaky"].version == 1
    [incident] = watcher.incidents
    assert incident.action == "alerted (no earlier good version to restore)"
    assert webhook.received.is_set()


def test_a_replica_finding_the_release_rollback_under_way_adds_no_incident(
    project: Path, webhook: WebhookReceiver
) -> None:
    # Every replica of a bad release sees the spike; the one that takes the rollback
    # records the incident and alerts. The others' restorer answers None: no second
    # incident, no second page.
    flow = write(project / "workflows" / "flaky.py", FLOW.replace("set()", "set(range(100))"))
    calls: list[tuple[str, int]] = []

    async def under_way_elsewhere(workflow: str, version: int) -> None:
        calls.append((workflow, version))

    with _lab(project, webhook.url) as lab:
        watcher = watch_anomalies(lab)
        watcher.restorer = under_way_elsewhere
        for n in range(25):
            with pytest.raises(WorkflowRunError):
                lab.run(str(flow), {"n": n})
        lab.engine.call(watcher.adrain())
    assert calls == [("flaky", 1)]
    assert watcher.incidents == []
    assert not webhook.received.is_set()
    listed = run_cli("incidents", "--json", "--env", "experiment", cwd=project)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_replicas_seeing_the_same_spike_record_one_incident_and_send_one_alert(
    project: Path, webhook: WebhookReceiver, backend: str, request: pytest.FixtureRequest
) -> None:
    # Two watchers on one database (two replicas of a release, e.g. Kubernetes pods with
    # no earlier version to restore): both see the spike of the same code.
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        write(project / "config" / "experiment.yaml",
              f"checkpoint:\n  backend: postgres\n  url: {url}\n")  # fmt: skip
    flow = write(project / "workflows" / "flaky.py", FLOW.replace("set()", "set(range(100))"))
    with _lab(project, webhook.url) as first, _lab(project, webhook.url) as second:
        watchers = [watch_anomalies(first), watch_anomalies(second)]
        for lab, watcher in zip((first, second), watchers, strict=True):
            for n in range(20):
                with pytest.raises(WorkflowRunError):
                    lab.run(str(flow), {"n": n})
            lab.engine.call(watcher.adrain())
        [incident] = watchers[0].incidents
        assert watchers[1].incidents == []  # the second saw it recorded already
        # A second spike of other code, seen by the second replica, is its own incident.
        _release(flow, set(range(100)) - {1})
        assert second.reload("flaky") == 2
        for n in range(20):
            with contextlib.suppress(WorkflowRunError):
                second.run("flaky", {"n": n})
        second.engine.call(watchers[1].adrain())
    listed = json.loads(run_cli("incidents", "--json", "--env", "experiment", cwd=project).stdout)
    assert [i["incident_id"] for i in listed][1:] == [incident.incident_id]
    assert listed[0]["version"] == 2 and listed[0]["recorded_by"] == watchers[1].owner
    assert len(webhook.bodies) == 2 and incident.incident_id in webhook.bodies[0]["text"]


def test_error_rate_window_slides() -> None:
    window = ErrorRateWindow(60)
    for t in range(10):
        window.add(failed=t < 5, now=float(t))
    assert window.counts(9.0) == (5, 10)
    assert window.counts(64.5) == (0, 5)  # the failed runs (t < 5) left the window
    assert window.rate(200.0) is None


def test_anomaly_config_errors_name_the_key(tmp_path: Path) -> None:
    from lgp_lab.config import parse_config_file
    from lgp_lab.errors import ConfigError

    bad = write(tmp_path / "config" / "production.yaml", "anomaly:\n  error_rate_threshold: 12\n")
    with pytest.raises(ConfigError) as caught:
        parse_config_file(bad)
    assert "anomaly.error_rate_threshold" in str(caught.value)


def test_watch_is_off_in_experiment_unless_enabled(project: Path) -> None:
    from lgp_lab.runtime.anomaly import anomaly_enabled

    assert not anomaly_enabled(load_config("experiment", project))
    assert anomaly_enabled(load_config("production", project))
    with Lab(root=project, console=False) as lab:
        assert watch_anomalies(lab) is None and anomaly_watcher(lab) is None


def test_incident_is_a_langfuse_event_when_langfuse_is_on(
    project: Path, webhook: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fakes.langfuse_server import FakeLangfuse

    with FakeLangfuse() as lf:
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-anomaly")
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-anomaly")
        monkeypatch.setenv("LANGFUSE_BASE_URL", lf.url)
        flow = project / "workflows" / "flaky.py"
        _release(flow, set(range(100)))  # every run fails: nothing earlier to restore
        with _lab(project, webhook.url) as lab:
            watcher = watch_anomalies(lab)
            for n in range(20):
                with pytest.raises(WorkflowRunError):
                    lab.run(str(flow), {"n": n})
            lab.engine.call(watcher.adrain())
        # Closing the Lab flushed the client.
        [event] = [s for s in lf.spans if s["name"] == "lgp-anomaly"]
    [incident] = watcher.incidents
    attributes = json.dumps(event["attributes"])
    assert incident.incident_id in attributes and "flaky" in attributes
