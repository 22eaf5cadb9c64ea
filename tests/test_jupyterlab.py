"""The widgets in a real JupyterLab page, in headless Chromium driven by Playwright.

Needs Debian's chromium (scripts/test.sh installs it); Playwright's own browser download
is not used.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from lab_browser import CHROMIUM, CHROMIUM_ARGS, jupyterlab_server


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

    with jupyterlab_server(project, tmp_path) as (url, token), sync_playwright() as pw:
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
