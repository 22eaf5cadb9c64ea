"""Run the API with uvicorn on a Lab's engine loop, off the caller's thread.

The notebook (``%lgp_serve``) and the CLI (``lgp-lab serve``) both use
:func:`start_server`, so the served API shares the Lab's checkpointer connection and
its live workflow handles: a reload is served at once, and a thread is visible from the
notebook and over HTTP alike.
"""

from __future__ import annotations

import concurrent.futures
import errno
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any

from lgp_lab.errors import ConfigError, LgpError

__all__ = ["ServerHandle", "running_servers", "start_server"]

_SERVERS: list[ServerHandle] = []
_LOCK = threading.Lock()


class ServerHandle:
    """A running server: its URL, the served workflows, and :meth:`stop`."""

    def __init__(self, lab: Any, server: Any, future: Any, host: str, port: int, names: list[str]):
        self.lab = lab
        self.host = host
        self.port = port
        self.workflows = names
        self.started_at = time.time()
        self._server = server
        self._future: concurrent.futures.Future[Any] = future

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "running"
        return f"<ServerHandle {self.url} {', '.join(self.workflows)} {state}>"

    @property
    def url(self) -> str:
        """The base URL."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def stopped(self) -> bool:
        """Whether the server has exited."""
        return self._future.done()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish (bounded), free the port."""
        self._server.should_exit = True
        try:
            self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            self._server.force_exit = True
            try:
                self._future.result(2.0)
            except Exception:
                self._future.cancel()
        except BaseException:
            pass
        with _LOCK:
            if self in _SERVERS:
                _SERVERS.remove(self)


def running_servers() -> list[ServerHandle]:
    """Servers started in this process that are still running."""
    with _LOCK:
        return [s for s in _SERVERS if not s.stopped]


def start_server(
    lab: Any,
    targets: Sequence[Any] | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    watch: bool = False,
    access_log: bool = False,
    ready_timeout: float = 10.0,
) -> ServerHandle:
    """Serve ``targets`` (default: every graph the project declares) from ``lab``.

    Args:
        lab: The Lab whose engine loop, checkpointer and workflows are served.
        targets: Workflow files, registered names, langgraph.json graph ids or Workflow
            handles; empty: every graph in langgraph.json and workflows/config.yaml.
        host: Bind address; default ``server.host`` (loopback).
        port: TCP port; ``0`` picks a free one. Default ``server.port``.
        watch: Hot-reload the served workflows (new versions are served at once).
        access_log: Log each request (never its headers, so never a key).

    Raises:
        ConfigError: The environment requires an API key and none is set, or no
            workflow to serve.
        LgpError: The port is taken.
        MissingExtraError: fastapi/uvicorn are not installed (names the pip install).
    """
    from lgp_lab.extras import require_extra

    for module in ("fastapi", "uvicorn"):
        require_extra(module, "server", "lgp-lab serve and %lgp_serve")
    import uvicorn

    from lgp_lab.server.app import create_app

    settings = lab.config.server
    _require_key(lab)
    descriptions = _project_graphs(lab)
    if not targets:
        targets = list(descriptions)
        if not targets:
            raise ConfigError(
                f"no workflows to serve: the project at {lab.config.root} declares none "
                "(no langgraph.json graphs, nothing in workflows/config.yaml)",
                hint="pass a WORKFLOW (a .py file or a name), add a graph to langgraph.json, "
                "or register one in workflows/config.yaml",
            )
    workflows = [lab.load(t) for t in targets]
    # Adopt the runs a dead server left on this database before taking requests: they
    # resume from their last checkpoint (lgp_lab.runtime.runs.ownership).
    lab._call(lab.runs.astart())
    host = host or settings.host
    port = settings.port if port is None else port
    sock = _bind(host, port)
    port = sock.getsockname()[1]

    app = create_app(lab, workflows, descriptions=descriptions)
    proxies = settings.trusted_proxies()
    config = uvicorn.Config(
        app,
        log_level="info" if access_log else "warning",
        access_log=access_log,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=10,
        # uvicorn trusts X-Forwarded-* from 127.0.0.1 by default, so any local client
        # could forge its address; trust them only from the configured proxies.
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
    )
    server = uvicorn.Server(config)
    # serve() would load the config (importing the HTTP protocol, h11 and its regexes:
    # 0.2-0.5 s) on the engine loop; load it here so no run or request waits on that.
    config.load()
    future = lab.engine.submit(server.serve(sockets=[sock]))
    handle = ServerHandle(lab, server, future, host, port, [wf.name for wf in workflows])
    deadline = time.monotonic() + ready_timeout
    while not server.started and not future.done() and time.monotonic() < deadline:
        time.sleep(0.001)  # start-up waits on this: poll finely (uvicorn sets a plain flag)
    if not server.started:
        handle.stop(2.0)
        sock.close()
        raise LgpError(
            f"the API server did not start on {handle.url}",
            hint="run with --verbose to see uvicorn's log",
        )
    if watch:
        for wf in workflows:
            lab.watch(wf)
    lab.on_close(handle.stop)
    with _LOCK:
        _SERVERS.append(handle)
    return handle


def _project_graphs(lab: Any) -> dict[str, str]:
    """Every graph the project declares (name -> description)."""
    project_graphs = getattr(lab, "project_graphs", None)
    if callable(project_graphs):  # langgraph.json graphs + workflows/config.yaml
        return dict(project_graphs())
    from lgp_lab.runtime.registry import read_registry

    return {n: e.description for n, e in read_registry(lab.config.workflows_dir).items()}


def _require_key(lab: Any) -> None:
    config = lab.config
    if not config.api_key_required or config.server.keys():
        return
    missing = sorted(config.missing_env)
    where = config.source.name if config.source else "the config"
    variable = missing[0] if missing else "LGP_API_KEY"
    raise ConfigError(
        f"environment {config.environment!r} requires an API key, and server.api_key is "
        f"empty ({variable} is not set; referenced from {where})",
        hint=f"export {variable}=<a long random secret> "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))'), "
        "or use --env experiment for a local, open API",
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Responses go out as headers + body; without NODELAY the body waits for the client's
    # delayed ACK (~40 ms per request on a kept-alive connection). Accepted sockets
    # inherit it from the listener.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise LgpError(
                f"port {port} on {host} is already in use",
                hint="pick another with --port, or stop the other server",
            ) from None
        raise LgpError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="check the --host address exists on this machine",
        ) from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock
