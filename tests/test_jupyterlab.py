"""The widgets in a real JupyterLab page, in headless Chromium driven by Playwright.

Needs Debian's chromium (scripts/test.sh installs it); Playwright's own browser download
is not used.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import nbformat
import pytest
from conftest import cli_env

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


def test_widgets_render_thread_names_in_jupyterlab(project: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/test.sh (it apt-installs chromium)")
    from playwright.sync_api import sync_playwright

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext lgp_lab"),
        nbformat.v4.new_code_cell(
            "%lgp_run basic_workflow -i 'my name is Lin' -t jl-thread-one -q\n"
            "%lgp_run basic_workflow -i 'hello' -t jl-thread-two -q"
        ),
        nbformat.v4.new_code_cell("%lgp_sessions"),
        nbformat.v4.new_code_cell("%lgp_traces"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, project / "browse.ipynb")

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
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={project}",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=log,
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

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                page.goto(f"{url}/lab/tree/browse.ipynb?token={token}", timeout=90_000)
                page.wait_for_selector(".jp-Notebook", timeout=90_000)
                page.wait_for_function(
                    "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                    " && window.jupyterapp.shell.currentWidget.sessionContext"
                    " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                    " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                    timeout=90_000,
                )
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                one = page.locator("select option", has_text="jl-thread-one")
                one.first.wait_for(state="attached", timeout=90_000)
                two = page.locator("select option", has_text="jl-thread-two")
                two.first.wait_for(state="attached", timeout=30_000)
                traces = page.locator("select option", has_text="langgraph-platform")
                traces.first.wait_for(state="attached", timeout=30_000)
                assert one.count() >= 1 and two.count() >= 1
                page.screenshot(path=str(tmp_path / "jupyterlab.png"))
            except Exception:
                page.screenshot(path=str(tmp_path / "failure.png"))
                raise
            finally:
                browser.close()
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
