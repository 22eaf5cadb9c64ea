"""``lgp-lab deploy``, ``releases`` and ``incidents``: the production side of the CLI.

Thin commands over :mod:`lgp_lab.promotion` (gate, releases, incidents) and
:mod:`lgp_lab.deploy` (local replicas, Kubernetes manifests).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from lgp_lab.cli._options import lab_config
from lgp_lab.cli._output import Output
from lgp_lab.errors import LgpError

__all__ = ["deploy_command", "incidents_command", "releases_command"]


@click.command("incidents")
@click.option("--workflow", "-w", metavar="NAME", help="Only this workflow's incidents.")
@click.option(
    "--env", "-e", "env", metavar="NAME", help="Config environment (default: $LGP_ENV or "
    "production): whose database to read.",
)  # fmt: skip
@click.option(
    "--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True,
    help="How many, newest first.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the incidents as one JSON document.")
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def incidents_command(
    workflow: str | None, env: str | None, limit: int, as_json: bool, verbose: bool
) -> None:
    """List anomaly incidents (INC-<year>-<nnn>): the version whose error rate spiked,
    the rate against the threshold, and what was done (rollback, alert)."""
    from lgp_lab.lab import Lab
    from lgp_lab.storage.incidents import incident_store_for

    out = Output(verbose=verbose, json_only=as_json)
    config = lab_config(env, "production", out)

    async def listed(lab: Lab) -> list:
        store = incident_store_for(await lab.acheckpointer())
        return await store.list(workflow=workflow, limit=limit)

    try:
        with Lab(config=config, console=False) as lab:
            incidents = lab.engine.call(listed(lab))
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    if as_json:
        out.result("Incidents", [i.to_dict() for i in incidents])
        return
    if not incidents:
        click.echo("No incidents.")
        return
    for incident in incidents:
        click.echo(f"{incident.created_at[:19].replace('T', ' ')}  {incident.summary()}")


@click.command("deploy")
@click.argument("workflows", nargs=-1)
@click.option(
    "--target", "-t", type=click.Choice(["local", "kubernetes"]), default="local",
    show_default=True, help="Replicas on this machine, or Kubernetes manifests.",
)  # fmt: skip
@click.option(
    "--env", "-e", "env", default="production", show_default=True, metavar="NAME",
    help="The environment deployed to (its config, its database).",
)  # fmt: skip
@click.option(
    "--from-env", "from_env", metavar="NAME",
    help="Where the gate reads recorded threads (default: $LGP_ENV or experiment).",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Deploy even when a gate check fails.")
@click.option(
    "--rollback", "rollback", is_flag=False, flag_value="previous", metavar="[RELEASE]",
    help="Restore a recorded release (default: the one before the current).",
)  # fmt: skip
@click.option(
    "--replicas", "-n", type=click.IntRange(1, 64), default=2, show_default=True,
    help="local: replica processes.",
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="local: bind address.")
@click.option("--port", "-p", type=click.IntRange(1, 65535), help="local: port (server.port).")
@click.option("--stop", is_flag=True, help="local: stop the replicas.")
@click.option("--image", metavar="IMAGE", help="kubernetes: the image holding the project.")
@click.option("--name", metavar="NAME", help="kubernetes: app name (default: project folder).")
@click.option("--namespace", metavar="NS", help="kubernetes: namespace.")
@click.option(
    "--autoscaler", type=click.Choice(["hpa", "keda"]), default="hpa", show_default=True,
    help="kubernetes: HorizontalPodAutoscaler, or KEDA ScaledObject (pending runs).",
)  # fmt: skip
@click.option("--prometheus-url", metavar="URL", help="kubernetes/keda: Prometheus for req/s.")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
    help="kubernetes: where to write the manifests (default: .lgp/deploy/<env>/k8s/).",
)  # fmt: skip
@click.option("--apply", "apply", is_flag=True, help="kubernetes: kubectl apply and wait.")
@click.option(
    "--timeout", type=click.FloatRange(min=1), default=300.0, show_default=True,
    help="Seconds the rollout may take.",
)  # fmt: skip
@click.option("--verbose", "-v", is_flag=True, help="Show tracebacks.")
def deploy_command(**options: Any) -> None:
    """Deploy WORKFLOWS (default: the project's) to ENV: run the promotion gate, record
    an immutable release in the environment's database, then roll it out — to local
    replicas (one at a time, gated by readiness) or as Kubernetes manifests."""
    out = Output(verbose=options["verbose"])
    try:
        code = _deploy(out, options)
    except LgpError as exc:
        out.error(exc)
        code = 1
    sys.exit(code)


@click.command("releases")
@click.option(
    "--env", "-e", "env", default="production", show_default=True, metavar="NAME",
    help="Whose releases.",
)  # fmt: skip
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (without file texts).")
@click.option(
    "--record", "record", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
    help="Record the release in FILE (rendered by deploy --target kubernetes) unless it is "
    "already the newest: what the manifests' Job runs in the cluster.",
)  # fmt: skip
def releases_command(env: str, limit: int, as_json: bool, record: Path | None) -> None:
    """List recorded releases, newest first: id, when, who, content hash, target."""
    from lgp_lab.lab import Lab
    from lgp_lab.storage.releases import ReleaseStore

    out = Output(json_only=as_json)
    config = lab_config(env, "production", out)
    try:
        if record is not None:
            _record_release(out, config, record, as_json)
            return
        with Lab(config=config, console=False) as lab:
            store = ReleaseStore(lab.engine.call(lab.acheckpointer()))
            releases = lab.engine.call(store.list(config.environment, limit=limit))
    except LgpError as exc:
        out.error(exc)
        sys.exit(1)
    if as_json:
        out.result("Releases", [r.to_dict(with_files=False) for r in releases])
        return
    if not releases:
        click.echo(f"No releases of {config.environment} yet.")
    for release in releases:
        click.echo(release.summary())


def _record_release(out: Output, config: Any, path: Path, as_json: bool) -> None:
    """``releases --record FILE``: in the cluster, the Job of a rendering records it."""
    import datetime as dt

    from lgp_lab.lab import Lab
    from lgp_lab.storage.releases import ReleaseStore, read_release_file

    release = read_release_file(path)
    if release.environment != config.environment:
        raise LgpError(
            f"{path} holds a release of {release.environment!r}, not of {config.environment!r}",
            hint=f"pass --env {release.environment}",
        )
    rendered = release.created_at[:19].replace("T", " ")
    # When it took effect: the release list is ordered by it.
    release.created_at = dt.datetime.now(dt.UTC).isoformat()
    release.note = "; ".join(
        n for n in (release.note, f"recorded in the cluster, rendered {rendered} UTC") if n
    )
    with Lab(config=config, console=False) as lab:
        store = ReleaseStore(lab.engine.call(lab.acheckpointer()))
        stored, added = lab.engine.call(store.add_unless_current(release))
    if as_json:
        out.result("Release", {**stored.to_dict(with_files=False), "added": added})
    elif added:
        out.status(f"Release {stored.release_id} recorded ({stored.content_hash[:12]})")
    else:
        out.status(
            f"Release {stored.release_id} already records render {release.render_id}: "
            "nothing to record"
        )


def _deploy(out: Output, o: dict[str, Any]) -> int:
    from lgp_lab.lab import Lab
    from lgp_lab.storage.releases import ReleaseStore

    target_config = lab_config(o["env"], "production", out)
    env = target_config.environment
    if o["stop"]:
        return _stop_local(out, target_config)
    k8s = None
    if o["target"] == "local":
        _check_local(target_config, o)
    elif o["image"]:
        k8s = _kubernetes_target(target_config, o)  # a bad --name/--image fails here
    elif not o["rollback"]:
        raise click.UsageError("--target kubernetes needs --image (the image with the project)")
    if o["target"] == "kubernetes":
        from lgp_lab.deploy.kubernetes import cluster_database_note

        # A cluster's database is often reachable only from inside it: then neither the
        # gate nor the release store can use it from here.
        note = cluster_database_note(target_config, k8s)
        if note is not None:
            return _kubernetes_in_cluster(out, target_config, k8s, note, o)
    with Lab(config=target_config, console=False) as target_lab:
        store = ReleaseStore(target_lab.engine.call(target_lab.acheckpointer()))
        if o["rollback"]:
            release = _rollback_release(out, target_lab, store, env, o)
        else:
            release = _gated_release(out, o)
            if release is None:
                return 1
        if o["target"] == "kubernetes" and (k8s is not None or release.manifests is None):
            if k8s is None:
                raise click.UsageError(
                    f"{release.release_id or 'that release'} has no Kubernetes manifests: "
                    "pass --image to render them"
                )
            from lgp_lab.deploy.kubernetes import render_manifests, to_yaml

            release.manifests = to_yaml(render_manifests(target_config, k8s))
        release = target_lab.engine.call(store.add(release))
        out.status(f"Release {release.release_id} recorded ({release.content_hash[:12]})")
    if o["target"] == "local":
        return _roll_local(out, target_config, release, o)
    return _kubernetes(out, target_config, release.manifests, release.release_id, o)


def _kubernetes_in_cluster(out: Output, config: Any, k8s: Any, note: str, o: dict[str, Any]) -> int:
    """Render for a cluster whose database this machine cannot reach: the gate reports
    the database check as not run, and the release travels in the manifests (a Job
    records it in the cluster's database when they are applied)."""
    from lgp_lab.deploy.kubernetes import (
        release_recorder,
        render_id,
        render_manifests,
        to_yaml,
    )

    env = config.environment
    if o["rollback"]:
        raise LgpError(
            f"cannot roll back {env} from here: its release history is in the cluster's "
            f"database, and {note}",
            hint="reach the database from here (kubectl port-forward to it, then "
            "DATABASE_URL=postgresql://USER:PASSWORD@127.0.0.1:PORT/DB) and run this "
            f"again, or kubectl apply -f an earlier file of .lgp/deploy/{env}/k8s/",
        )
    release = _gated_release(out, o, skip_database=note)
    if release is None:
        return 1
    release.manifests = to_yaml(render_manifests(config, k8s))
    release.render_id = render_id(release)
    recorder = release_recorder(config, k8s, release)
    job = recorder[-1]["metadata"]["name"]
    out.status(
        f"Release {release.content_hash[:12]} is not recorded from here: job/{job} records "
        "it in the cluster's database once the manifests are applied"
    )
    text = release.manifests + "---\n" + to_yaml(recorder)
    return _kubernetes(out, config, text, f"render-{release.render_id}", o, job=job)


def _gated_release(out: Output, o: dict[str, Any], skip_database: str | None = None) -> Any:
    from lgp_lab.lab import Lab
    from lgp_lab.promotion import run_gate
    from lgp_lab.storage.releases import Release, content_hash, snapshot_files

    source = lab_config(o["from_env"], "experiment", out)
    out.status("Validating environment...")
    with Lab(config=source, console=False) as lab:
        report = run_gate(
            lab, list(o["workflows"]), env=o["env"], timeout=min(o["timeout"], 120),
            where="cli", skip_database=skip_database,
        )  # fmt: skip
        workflows = report.workflows
        extra = [f for wf in lab.workflows.values() for f in wf.files]
        root = lab.root
    for line in report.lines()[:-1]:
        if not line.startswith("✅"):
            out.status(line)
    if not report.passed and not o["force"]:
        failed = len(report.failures())
        out.status(
            f"Validating environment... ❌ {failed} check(s) failed: not deploying "
            "(fix them, or pass --force)",
            style="bold red",
        )
        return None
    out.status("Validating environment... ✅" + ("" if report.passed else " (forced)"))
    files = snapshot_files(root, extra)
    note = "forced past a failed gate" if not report.passed else ""
    return Release(
        release_id="", environment=o["env"], content_hash=content_hash(files), files=files,
        workflows=workflows, target=o["target"], note=note,
    )  # fmt: skip


def _rollback_release(out: Output, lab: Any, store: Any, env: str, o: dict[str, Any]) -> Any:
    from lgp_lab.storage.releases import Release

    wanted = o["rollback"]
    if wanted == "previous":
        history = lab.engine.call(store.list(env, limit=50))
        current = history[0].content_hash if history else None
        older = [r for r in history if r.content_hash != current]
        if not older:
            raise LgpError(
                f"no earlier release of {env} to roll back to",
                hint="lgp-lab releases lists what there is",
            )
        source = older[0]
    else:
        source = lab.engine.call(store.get(env, wanted))
        if source is None:
            raise LgpError(
                f"release {wanted!r} of {env} not found",
                hint="lgp-lab releases lists the recorded ones",
            )
    out.status(f"Rolling back to {source.release_id} ({source.content_hash[:12]})")
    return Release(
        release_id="", environment=env, content_hash=source.content_hash, files=source.files,
        workflows=source.workflows, target=o["target"], note=f"rollback to {source.release_id}",
        manifests=source.manifests,
    )  # fmt: skip


def _roll_local(out: Output, config: Any, release: Any, o: dict[str, Any]) -> int:
    import os

    from lgp_lab.deploy.local import LocalDeployment
    from lgp_lab.deploy.local_app import WORKFLOWS_VAR

    local = LocalDeployment(config.root, config.environment)
    previous = local.activate(release)
    env = dict(os.environ)
    env[WORKFLOWS_VAR] = ",".join(release.workflows)
    try:
        if local.state():
            replicas = local.state()["replicas"]
            out.status(f"Rolling update: {replicas} replicas, one at a time...")
            local.roll(release.release_id, timeout=o["timeout"])
        else:
            port = o["port"] or config.server.port
            out.status(f"Starting {o['replicas']} replicas...")
            local.start(
                host=o["host"], port=port, replicas=o["replicas"], env=env, timeout=o["timeout"]
            )
    except LgpError:
        if previous is not None:  # the replicas that restart later load the old release
            from lgp_lab.storage.releases import Release

            local.activate(Release(previous, "", "", {}, [], "local"))
        raise
    out.status("Running health checks...")
    if not local.ready():
        out.status("Running health checks... ❌ /ready does not answer 200", style="bold red")
        return 1
    out.status("Running health checks... ✅")
    out.status(f"✅ Deployed: {local.url} ({release.release_id})", style="bold green")
    return 0


def _check_local(config: Any, o: dict[str, Any]) -> None:
    """Before anything is recorded: replicas need a shared database, and a first local
    deploy a free port."""
    from lgp_lab.deploy.local import LocalDeployment, check_port

    if config.checkpoint.backend == "sqlite" and o["replicas"] > 1:
        raise LgpError(
            f"{o['replicas']} replicas on SQLite: one SQLite file has one writer process",
            hint="use checkpoint.backend: postgres (config/production.yaml does), or --replicas 1",
        )
    if not LocalDeployment(config.root, config.environment).state():
        check_port(o["host"], o["port"] or config.server.port)


def _kubernetes_target(config: Any, o: dict[str, Any]) -> Any:
    import re

    from lgp_lab.deploy.kubernetes import KubernetesTarget

    name = o["name"] or re.sub(r"[^a-z0-9-]+", "-", config.root.name.lower()).strip("-")
    return KubernetesTarget(
        name=name, image=o["image"], namespace=o["namespace"], autoscaler=o["autoscaler"],
        prometheus_url=o["prometheus_url"],
    )  # fmt: skip


def _stop_local(out: Output, config: Any) -> int:
    from lgp_lab.deploy.local import LocalDeployment

    local = LocalDeployment(config.root, config.environment)
    if local.stop():
        out.status(f"Stopped the local replicas of {config.environment}")
    else:
        out.status(f"No local replicas of {config.environment} were running")
    return 0


def _kubernetes(
    out: Output, config: Any, text: str, label: str, o: dict[str, Any], job: str | None = None
) -> int:
    """Write the manifests ``text`` (of release or rendering ``label``) and, with
    ``--apply``, apply them and wait for the rollout (and the recording ``job``)."""
    import yaml

    name = next(
        d["metadata"]["name"] for d in yaml.safe_load_all(text) if d["kind"] == "Deployment"
    )
    path = o["output"] or (
        config.root / ".lgp" / "deploy" / config.environment / "k8s" / f"{label}.yaml"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    out.status(f"Manifests for {label}: {path}")
    if not o["apply"]:
        out.status(f"✅ Rendered: kubectl apply -f {path}", style="bold green")
        return 0
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        out.status(
            f"kubectl is not installed here: nothing applied. Apply with: kubectl apply -f {path}",
            style="yellow",
        )
        return 1
    namespace = ["-n", o["namespace"]] if o["namespace"] else []
    steps = [
        ("Checking the cluster", [kubectl, "cluster-info", "--request-timeout=10s"]),
        ("Applying", [kubectl, "apply", *namespace, "-f", str(path)]),
        ("Waiting for the rollout", [kubectl, "rollout", "status", *namespace,
                                     f"deployment/{name}", f"--timeout={int(o['timeout'])}s"]),
    ]  # fmt: skip
    if job is not None:
        steps.append(("Recording the release in the cluster", [
            kubectl, "wait", *namespace, "--for=condition=complete", f"job/{job}",
            f"--timeout={int(o['timeout'])}s",
        ]))  # fmt: skip
    for label, command in steps:
        out.status(f"{label}...")
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=o["timeout"] + 30,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if done.returncode != 0:
            reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            out.status(f"{label}... ❌ {reason[0]}", style="bold red")
            return 1
    out.status(f"✅ Deployed: deployment/{name} ({label})", style="bold green")
    return 0
