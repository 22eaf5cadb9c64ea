"""The app each local replica runs: ``uvicorn --factory lgp_lab.deploy.local_app:create``.

uvicorn's own multiprocess supervisor (``--workers N``) runs the replicas on one shared
listening socket and replaces them one at a time on ``SIGHUP``, each replacement
serving before the old one is retired. A replica is "started" only once this factory
has loaded the current release's workflows and the database answered, so the roll is
gated on readiness. ``LGP_DEPLOY_DIR`` names the deploy directory; its ``current`` link
points at the release being served (read at each replica's start).

A Lab runs its workflows, checkpointer and API on its own engine loop; uvicorn runs an
app on the worker's main loop. :class:`EngineBridge` carries each request across: the
app runs on the engine loop, ``receive``/``send`` hop back to uvicorn's loop.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from lgp_lab.deploy.local import DEPLOY_DIR_VAR
from lgp_lab.errors import ConfigError

__all__ = ["DEPLOY_DIR_VAR", "EngineBridge", "create"]

WORKFLOWS_VAR = "LGP_DEPLOY_WORKFLOWS"


class EngineBridge:
    """An ASGI app that runs ``app`` on ``lab``'s engine loop and owns the lifespan
    (startup: nothing left to do; shutdown: close the Lab, bounded like any close)."""

    def __init__(self, app: Any, lab: Any) -> None:
        self.app = app
        self.lab = lab

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        here = asyncio.get_running_loop()

        async def hop_receive() -> Any:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(receive(), here))

        async def hop_send(message: Any) -> None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(send(message), here))

        future = asyncio.run_coroutine_threadsafe(
            self.app(scope, hop_receive, hop_send), self.lab.engine.loop
        )
        try:
            await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.cancel()
            raise

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.lab.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


_DRAIN_S = 0.5


def _drain_before_shutdown() -> None:
    """Make this worker's uvicorn stop accepting, then wait ``_DRAIN_S``, before it closes
    its idle connections.

    uvicorn's shutdown closes every connection with no request in progress right after
    closing its listener. A connection it accepted a moment before, whose request bytes
    it has not read yet, counts as idle: the client sees the connection dropped with no
    response (``RemoteProtocolError``, about 1 request in 300 during a roll here). With
    the pause, such a request is read and answered (with ``Connection: close``), and the
    other replicas take the new connections. The patch is on the class, made when the
    worker loads this app (before any shutdown), in the worker process only.
    """
    from uvicorn.server import Server

    original = Server.shutdown
    if getattr(original, "_lgp_drains", False):
        return

    async def shutdown(self: Any, sockets: Any = None) -> None:
        for server in self.servers:
            server.close()  # stop accepting; uvicorn's own shutdown closes again (a no-op)
        await asyncio.sleep(_DRAIN_S)
        await original(self, sockets)

    shutdown._lgp_drains = True  # type: ignore[attr-defined]
    Server.shutdown = shutdown  # type: ignore[method-assign]


def create() -> EngineBridge:
    """Build one replica's app from the current release (uvicorn calls this per worker).

    Raises:
        ConfigError: No deploy directory, no current release, no API key where one is
            required, or the database does not answer (the replica never starts, so a
            roll stops and the old replicas keep serving).
    """
    _drain_before_shutdown()
    from lgp_lab.lab import Lab
    from lgp_lab.server.app import create_app
    from lgp_lab.server.metrics import readiness

    deploy_dir = os.environ.get(DEPLOY_DIR_VAR)
    if not deploy_dir:
        raise ConfigError(f"{DEPLOY_DIR_VAR} is not set", hint="start replicas with lgp-lab deploy")
    current = Path(deploy_dir) / "current"
    if not current.exists():
        raise ConfigError(f"{current} does not exist", hint="deploy a release first")
    release_dir = current.resolve()
    lab = Lab(root=release_dir, console=False)
    try:
        if lab.config.api_key_required and not lab.config.server.keys():
            raise ConfigError(
                f"environment {lab.environment!r} requires an API key and none is set",
                hint="set LGP_API_KEY (or server.api_key) in the deploy's environment",
            )
        names = [n for n in os.environ.get(WORKFLOWS_VAR, "").split(",") if n]
        targets = names or list(lab.project_graphs())
        workflows = [lab.load(t) for t in targets]
        descriptions = lab.project_graphs()
        app = create_app(lab, workflows, descriptions=descriptions)
        release = release_dir.name

        @app.get("/release", include_in_schema=False)
        async def which_release() -> dict[str, Any]:
            return {"release": release, "pid": os.getpid()}

        served = {wf.name: wf for wf in workflows}
        ok, body = lab.engine.call(readiness(lab, served), timeout=30)
        if not ok:
            raise ConfigError(f"replica not ready: {body.get('error')}")
        _restore_releases_on_anomaly(lab, Path(deploy_dir), release)
    except BaseException:
        lab.close()
        raise
    return EngineBridge(app, lab)


def _restore_releases_on_anomaly(lab: Any, deploy_dir: Path, release: str) -> None:
    """A replica holds one version per workflow: on an anomaly its watcher restores the
    previous *release* on every replica (:func:`arollback_release`)."""
    import functools

    from lgp_lab.deploy.local import LocalDeployment, arollback_release
    from lgp_lab.runtime.anomaly import anomaly_watcher

    watcher = anomaly_watcher(lab)
    if watcher is None:
        return
    deployment = LocalDeployment(deploy_dir.parent.parent.parent, lab.environment)
    if deployment.directory.resolve() != deploy_dir.resolve():
        return  # not laid out by `lgp-lab deploy`: nothing to roll back to
    watcher.restorer = functools.partial(arollback_release, lab, deployment, release)
