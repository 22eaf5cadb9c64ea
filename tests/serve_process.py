"""``lgp-lab serve`` as a real subprocess on 127.0.0.1, for tests that kill and restart it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

__all__ = ["ServeProcess", "free_port"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """One ``lgp-lab serve`` process; ``url`` answers once :meth:`start` returns.

    stderr goes to a file (``log``), so a killed process loses nothing of it and no pipe
    fills up under load.
    """

    def __init__(self, root: Path, targets: list[str], env: dict[str, str], log: Path) -> None:
        self.root = root
        self.targets = targets
        self.env = env
        self.log = log
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServeProcess:
        self.port = free_port()
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lgp_lab", "serve", *self.targets, "--env",
                 "experiment", "--port", str(self.port)],
                cwd=self.root, env=self.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=err,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited {self.proc.returncode}: {self.stderr()}")
            try:
                if httpx.get(f"{self.url}/ok", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"serve did not answer within {timeout} s: {self.stderr()}")

    def kill(self) -> None:
        """``kill -9``: no shutdown, no bookkeeping, as a crashed node."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in 20 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def stderr(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
