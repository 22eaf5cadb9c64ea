"""MCP client sessions owned by a Lab (plan task R5.1).

Each configured server (``mcp.servers.<name>``) is started lazily on the Lab's engine
loop the first time a node calls it, reused by every later run, restarted once if its
subprocess died, and closed with the Lab. A server that fails to start is reported with
its command and the tail of its stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

from lgp_lab.errors import LgpError
from lgp_lab.extras import require_extra

__all__ = ["McpServerError", "McpSessions"]


class McpServerError(LgpError):
    """An MCP server could not be started or stopped answering."""


class _Server:
    """One stdio server: a task that holds the client session open until stopped."""

    def __init__(self, name: str, settings: Any, cwd: Path) -> None:
        self.name = name
        self.settings = settings
        self.cwd = Path(settings.cwd) if settings.cwd else cwd
        self.session: Any = None
        fd, errlog = tempfile.mkstemp(prefix=f"lgp-mcp-{name}-", suffix=".log")
        os.close(fd)  # reopened by _run for the subprocess; keeping it would leak one per start
        self.errlog_path = Path(errlog)
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    @property
    def command_line(self) -> str:
        return shlex.join([self.settings.command, *self.settings.args])

    @property
    def alive(self) -> bool:
        return self._task is not None and not self._task.done() and self.session is not None

    async def start(self) -> Any:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"mcp-{self.name}")
        waiter = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait(
            {waiter, self._task},
            timeout=self.settings.start_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        waiter.cancel()
        if self.session is None:
            await self.close()
            reason = (
                f"{type(self._error).__name__}: {self._error}"
                if self._error
                else f"no answer within {self.settings.start_timeout_s:.0f}s"
            )
            raise McpServerError(
                f"MCP server {self.name!r} failed to start: `{self.command_line}` ({reason})"
                + _stderr_tail(self.errlog_path),
                hint=f"check mcp.servers.{self.name}.command/args in the config, or run the "
                "command by hand to see why it exits",
            )
        return self.session

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None and not self._task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 5.0)
            except (TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        self.session = None

    async def _run(self) -> None:
        try:
            from mcp import ClientSession, StdioServerParameters
            from mcp.client.stdio import get_default_environment, stdio_client

            params = StdioServerParameters(
                command=self.settings.command,
                args=list(self.settings.args),
                env={**get_default_environment(), **self.settings.env},
                cwd=str(self.cwd),
            )
            # A real file, not a pipe: captured-output runners (nbval) break pipes.
            with open(self.errlog_path, "a", encoding="utf-8") as errlog:
                async with (
                    stdio_client(params, errlog=errlog) as (read, write),
                    ClientSession(read, write) as session,
                ):
                    await session.initialize()
                    self.session = session
                    self._ready.set()
                    await self._stop.wait()
        except BaseException as exc:  # reported by start() / call()
            self._error = _unwrap(exc)
        finally:
            self.session = None


class McpSessions:
    """The Lab's MCP servers by name."""

    def __init__(self, config: Any) -> None:
        self._config = config
        self._servers: dict[str, _Server] = {}
        self._lock: asyncio.Lock | None = None

    async def session(self, name: str) -> Any:
        """The open client session of server ``name``, starting it if needed.

        Raises:
            MissingExtraError: The ``mcp`` package is not installed (``[agents]`` extra).
            McpServerError: The server did not start; the message has its stderr.
        """
        require_extra("mcp", "agents", "MCP servers (Claude Code nodes, the mesh)")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            server = self._servers.get(name)
            if server is not None and server.alive:
                return server.session
            if server is not None:
                await server.close()
            server = _Server(name, self._config.mcp_server(name), self._config.root)
            self._servers[name] = server
            return await server.start()

    async def call_tool(self, name: str, tool: str, arguments: dict[str, Any]) -> Any:
        """Call ``tool`` on server ``name``; a dead server is restarted once and retried."""
        for attempt in (1, 2):
            session = await self.session(name)
            try:
                return await session.call_tool(tool, arguments)
            except Exception as exc:
                if attempt == 2 or not _is_disconnect(exc):
                    raise McpServerError(
                        f"MCP server {name!r} failed on {tool}: {type(exc).__name__}: {exc}"
                        + _stderr_tail(self._servers[name].errlog_path),
                        hint="the server process may have crashed; see its stderr above",
                    ) from exc
                server = self._servers.get(name)
                if server is not None:
                    await server.close()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        """Stop every server."""
        servers, self._servers = list(self._servers.values()), {}
        await asyncio.gather(*(s.close() for s in servers), return_exceptions=True)
        for server in servers:
            with contextlib.suppress(OSError):
                os.unlink(server.errlog_path)


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _is_disconnect(exc: BaseException) -> bool:
    exc = _unwrap(exc)
    name = type(exc).__name__
    text = str(exc).lower()
    return (
        name in ("ClosedResourceError", "BrokenResourceError", "EndOfStream", "BrokenPipeError")
        or "connection closed" in text
        or isinstance(exc, ConnectionError | EOFError)
    )


def _stderr_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    if not text:
        return ""
    tail = "\n    ".join(text.splitlines()[-lines:])
    return f"\n  stderr:\n    {tail}"
