"""Make docs/images/studio.png: the studio in a real JupyterLab page (headless Debian
Chromium driven by Playwright, as tests/test_studio_lab.py does).

    python tests/docs_support/screenshot_studio.py [OUTPUT.png]

It copies the repository's workflows/ and config/ into a temporary project, opens a
notebook that runs basic_workflow twice on thread ``t1`` and shows ``%lgp_studio`` on
it, selects the thread and its latest checkpoint, and screenshots the widget. Nothing is
written into the repository except OUTPUT (default docs/images/studio.png).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))

CELLS = [
    "%load_ext lgp_lab",
    "r = %lgp_run basic_workflow --input 'Remember my name is Alice' --thread t1 --quiet",
    "r = %lgp_run basic_workflow --input 'What is my name?' --thread t1 --quiet",
    "%lgp_studio basic_workflow --thread t1",
]
RUN_CELL = """async (code) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource(code);
  await app.commands.execute('notebook:run-cell');
}"""


def main(output: Path) -> None:
    import nbformat
    from lab_browser import CHROMIUM, CHROMIUM_ARGS, jupyterlab_server
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory(prefix="lgp-shot-") as tmp:
        tmp_path = Path(tmp)
        project = tmp_path / "project"
        for name in ("workflows", "config"):
            shutil.copytree(REPO / name, project / name)
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(c) for c in CELLS]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        nbformat.write(nb, project / "studio.ipynb")
        with jupyterlab_server(project, tmp_path) as (url, token), sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            try:
                page.goto(f"{url}/lab/tree/studio.ipynb?token={token}", timeout=90_000)
                page.wait_for_function(
                    "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                    " && window.jupyterapp.shell.currentWidget.sessionContext"
                    " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                    " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                    timeout=90_000,
                )
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                studio = page.locator(".lgp-studio").first
                studio.locator('.lgp-node[data-node="respond"]').wait_for(timeout=90_000)
                # A third run, so the graph shows its nodes done and the Live tab its steps.
                page.evaluate(
                    RUN_CELL, "%lgp_run basic_workflow --input 'What is my name?' -t t1 -q"
                )
                expect(studio.locator(".lgp-run-head")).to_contain_text("complete", timeout=60_000)
                studio.locator('.lgp-tab[data-tab="threads"]').click()
                studio.locator('.lgp-thread[data-thread="t1"]').click(timeout=30_000)
                studio.locator(".lgp-checkpoint").first.click(timeout=30_000)
                expect(studio.locator(".lgp-cp .lgp-json")).to_contain_text("Alice", timeout=30_000)
                # JupyterLab's "news" toast would cover a corner of the widget.
                hide = ".Toastify, .jp-toast-container {display: none !important}"
                page.add_style_tag(content=hide)
                studio.scroll_into_view_if_needed()
                output.parent.mkdir(parents=True, exist_ok=True)
                studio.screenshot(path=str(output))
            finally:
                browser.close()
    print(f"wrote {output}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "images" / "studio.png")
