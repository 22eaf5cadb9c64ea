"""A real JupyterLab server and headless Debian Chromium, for the browser tests (not named
`jupyterlab.py`: tests/ is on sys.path and it would shadow the real package).

Needs Debian's chromium (scripts/test.sh installs it); Playwright's own browser download
is not used.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from conftest import cli_env

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "jupyterlab_server"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags that keep Chromium off the network and quiet in a sandboxed CI machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab_server(root: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on 127.0.0.1 serving ``root`` (isolated Jupyter dirs under
    ``tmp_path``): yields ``(url, token)``, stops it afterwards (bounded)."""
    port, token = _free_port(), secrets.token_hex(16)
    env = cli_env(
        JUPYTER_CONFIG_DIR=str(tmp_path / "jcfg"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jrun"),
        JUPYTER_DATA_DIR=str(tmp_path / "jdata"),
    )
    env["JUPYTER_PATH"] = os.pathsep.join(
        p for p in [str(Path(sys.prefix) / "share" / "jupyter")] if Path(p).exists()
    )
    log = open(tmp_path / "lab.log", "w")  # noqa: SIM115 - closed in the finally below
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=log,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        else:
            raise AssertionError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text())
        yield url, token
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
