"""``lgp-lab deploy --target local``: replicas on this machine under uvicorn's own
multiprocess supervisor, on the environment's (shared) database.

The deploy directory (``.lgp/deploy/<env>/`` in the project) holds each release's files
(``releases/<id>/``), the ``current`` link the replicas load from, the supervisor's pid
and state, and its log. A first deploy starts ``uvicorn --factory
lgp_lab.deploy.local_app:create --workers N`` on one shared socket; the next ones switch
``current`` and send ``SIGHUP``, on which uvicorn replaces the replicas one at a time,
each replacement started (release loaded, database answering) before the old one is
retired — so requests keep being served throughout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lgp_lab.errors import ConfigError, LgpError

__all__ = ["DEPLOY_DIR_VAR", "DeployError", "LocalDeployment", "arollback_release", "check_port"]

# Where a replica (lgp_lab.deploy.local_app, which imports this module) finds its
# deployment's state: set by the supervisor started here.
DEPLOY_DIR_VAR = "LGP_DEPLOY_DIR"

_POLL_S = 0.2


class DeployError(LgpError):
    """A deploy that did not complete (the previous release keeps serving)."""


@dataclass
class LocalDeployment:
    """The local replicas of one environment of a project."""

    root: Path
    environment: str

    @property
    def directory(self) -> Path:
        """``<root>/.lgp/deploy/<env>``."""
        return self.root / ".lgp" / "deploy" / self.environment

    @property
    def log_file(self) -> Path:
        """The supervisor's and replicas' log."""
        return self.directory / "server.log"

    def state(self) -> dict[str, Any]:
        """``{pid, host, port, replicas}`` of the running supervisor, or ``{}``."""
        path = self.directory / "state.json"
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return state if _alive(state.get("pid")) else {}

    @property
    def url(self) -> str | None:
        """The running deployment's base URL."""
        state = self.state()
        return f"http://{state['host']}:{state['port']}" if state else None

    def current(self) -> str | None:
        """The release id ``current`` points at."""
        link = self.directory / "current"
        return link.resolve().name if link.exists() else None

    # ------------------------------------------------------------------ actions

    def activate(self, release: Any) -> str | None:
        """Write ``release``'s files (once) and point ``current`` at them; the previous
        release id."""
        previous = self.current()
        target = self.directory / "releases" / release.release_id
        if not target.exists():
            staging = target.with_name(target.name + ".tmp")
            if staging.exists():
                _rmtree(staging)
            release.materialize(staging)
            staging.rename(target)
        _point(self.directory / "current", target)
        return previous

    def start(
        self, *, host: str, port: int, replicas: int, env: dict[str, str], timeout: float
    ) -> str:
        """Start the supervisor and its replicas on the current release; the URL."""
        if self.state():
            raise DeployError(
                f"local replicas of {self.environment!r} already run at {self.url}",
                hint="deploy again to roll them, or lgp-lab deploy --stop",
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "lgp_lab.deploy.local_app:create",
            "--host", host, "--port", str(port), "--workers", str(replicas),
            "--timeout-graceful-shutdown", "30", "--timeout-worker-healthcheck", "120",
            "--no-server-header", "--log-level", "warning",
        ]  # fmt: skip
        child_env = {**env, DEPLOY_DIR_VAR: str(self.directory), "LGP_ENV": self.environment}
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(
                command, cwd=self.directory, env=child_env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        state = {"pid": process.pid, "host": host, "port": port, "replicas": replicas}
        (self.directory / "state.json").write_text(json.dumps(state))
        url = f"http://{host}:{port}"
        release = self.current()
        try:
            self.wait_serving(release, replicas=replicas, timeout=timeout, process=process)
        except DeployError:
            self.stop()
            raise
        return url

    def roll(self, release_id: str, *, timeout: float) -> None:
        """Replace the running replicas one at a time with ``release_id`` (current)."""
        state = self.state()
        if not state:
            raise DeployError(f"no local replicas of {self.environment!r} are running")
        os.kill(state["pid"], signal.SIGHUP)
        self.wait_serving(release_id, replicas=state["replicas"], timeout=timeout)

    def wait_serving(
        self, release_id: str | None, *, replicas: int, timeout: float, process: Any = None
    ) -> None:
        """Wait (bounded) until every replica serves ``release_id``: ``replicas``
        distinct processes answered with it, then a run of answers saw no other."""
        state = self.state() or {}
        url = f"http://{state.get('host')}:{state.get('port')}"
        deadline = time.monotonic() + timeout
        pids: set[int] = set()
        streak = 0
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise DeployError(
                    f"the replicas exited at start (code {process.returncode}): {self.log_tail()}",
                    hint=f"see {self.log_file}",
                )
            answer = _get_json(f"{url}/release")
            if answer is not None and answer.get("release") == release_id:
                pids.add(answer["pid"])
                streak += 1
                if len(pids) >= replicas and streak >= 4 * replicas:
                    return
            else:
                streak = 0
                time.sleep(_POLL_S)
        raise DeployError(
            f"release {release_id} was not served by all {replicas} replicas within "
            f"{timeout:.0f}s: {self.log_tail()}",
            hint=f"see {self.log_file}; the replicas that did not start keep the old release",
        )

    def ready(self) -> bool:
        """Whether ``/ready`` answers 200."""
        url = self.url
        return url is not None and _get_json(f"{url}/ready") is not None

    def stop(self, timeout: float = 40.0) -> bool:
        """Stop the supervisor (graceful, then killed after ``timeout``); False if none ran."""
        state_file = self.directory / "state.json"
        try:
            pid = json.loads(state_file.read_text()).get("pid")
        except (OSError, ValueError):
            return False
        if not _alive(pid):
            state_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(_POLL_S)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        state_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the log, one string."""
        try:
            text = self.log_file.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"


async def arollback_release(
    lab: Any, deployment: LocalDeployment, current_id: str, workflow: str, version: int
) -> str | None:
    """Restore the release before ``current_id`` on every local replica (a replica's
    anomaly watcher calls this): record it as a new release, point ``current`` at it and
    have the supervisor roll the replicas. One replica does it per release (a lock file).
    Returns the action, as the incident records it, or ``None`` on the other replicas
    (the rollback is already under way; they record no second incident)."""
    import asyncio

    from lgp_lab.storage.releases import Release, ReleaseStore

    lock = deployment.directory / f"rollback-{current_id}.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return None
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    store = ReleaseStore(await lab.acheckpointer())
    history = await store.list(deployment.environment, limit=100)
    current = next((r for r in history if r.release_id == current_id), None)
    if current is None:
        raise DeployError(f"the live release {current_id} is not recorded")
    older = [
        r for r in history
        if r.created_at < current.created_at and r.content_hash != current.content_hash
    ]  # fmt: skip
    if not older:
        return f"alerted (no release before {current_id} to restore)"
    previous = older[0]
    supervisor = deployment.state().get("pid")
    if supervisor != os.getppid():
        raise DeployError(f"this replica's supervisor ({os.getppid()}) is not the deployment's")
    restored = await store.add(
        Release(
            release_id="", environment=deployment.environment,
            content_hash=previous.content_hash, files=previous.files,
            workflows=previous.workflows, target="local",
            note=f"automatic rollback to {previous.release_id}: {workflow} v{version} "
            "error rate over the threshold",
        )
    )  # fmt: skip
    await asyncio.to_thread(deployment.activate, restored)
    os.kill(supervisor, signal.SIGHUP)  # uvicorn replaces the replicas one at a time
    return (
        f"rolled back release {current_id} -> {previous.release_id} (live as {restored.release_id})"
    )


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our exited child
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _point(link: Path, target: Path) -> None:
    """Make ``link`` point at ``target`` in one rename (readers never see it missing)."""
    tmp = link.with_name(link.name + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target.relative_to(link.parent))
    os.replace(tmp, link)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def _get_json(url: str) -> dict[str, Any] | None:
    request = urllib.request.Request(url, headers={"Connection": "close"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            if response.status == 200:
                return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return None


def check_port(host: str, port: int) -> None:
    """Raise a clear error when ``host:port`` is taken."""
    import socket

    with socket.socket() as sock:
        # As uvicorn binds: connections in TIME_WAIT from earlier runs do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise ConfigError(
                f"{host}:{port} is in use ({exc.strerror})",
                hint="pick another with --port, or stop what listens there",
            ) from None
