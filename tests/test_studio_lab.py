"""The studio in a real JupyterLab page, in headless Debian Chromium driven by Playwright:
the graph drawn with the workflow's node names, a run from a notebook cell lighting the
nodes up in order while it runs, fork-with-edit from an earlier checkpoint, and an
interrupt resumed from the form. Screenshots of each go to an artifact folder under
pytest's tmp_path (its path is printed).

Set-up as in tests/test_jupyterlab.py (Debian's chromium; scripts/test.sh installs it).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from conftest import write
from lab_browser import CHROMIUM, CHROMIUM_ARGS, jupyterlab_server
from test_studio import HITL, flow_source

# Records, in the page, each node of the first studio turning running/done, and which
# nodes were already done at that moment (so "in order, while running" needs no clock).
OBSERVE = """() => {
  window.__lit = [];
  const svg = document.querySelectorAll('.lgp-studio')[0];
  const seen = new Set();
  new MutationObserver((records) => {
    for (const r of records) {
      const g = r.target;
      if (!g.classList || !g.classList.contains('lgp-node')) continue;
      for (const cls of ['lgp-running', 'lgp-done']) {
        const key = g.dataset.node + cls;
        if (g.classList.contains(cls) && !seen.has(key)) {
          seen.add(key);
          const done = [...svg.querySelectorAll('.lgp-node.lgp-done')].map((n) => n.dataset.node);
          window.__lit.push({node: g.dataset.node, cls, done});
        }
      }
    }
  }).observe(svg, {subtree: true, attributes: true, attributeFilter: ['class']});
}"""

# A graph defined in the notebook: a subgraph and a breakpoint (interrupt_before).
NESTED = """
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

class N(TypedDict):
    x: int

class Ctx(TypedDict, total=False):
    user: str

def bump(s):
    return {"x": s["x"] + 1}

inner = StateGraph(N)
inner.add_node("inner_a", bump)
inner.add_node("inner_b", bump)
inner.add_edge(START, "inner_a")
inner.add_edge("inner_a", "inner_b")
outer = StateGraph(N, context_schema=Ctx)
outer.add_node("prep", bump)
outer.add_node("sub", inner.compile())
outer.add_node("check", bump)
outer.add_edge(START, "prep")
outer.add_edge("prep", "sub")
outer.add_edge("sub", "check")
outer.add_edge("check", END)
nested = outer.compile(interrupt_before=["check"])
%lgp_studio nested
"""

RUN_CELL = """async (code) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource(code);
  await app.commands.execute('notebook:run-cell');
}"""


def test_studio_in_jupyterlab(project: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/test.sh (it apt-installs chromium)")
    from playwright.sync_api import expect, sync_playwright

    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    print(f"studio screenshots: {artifacts}")
    # Each node takes a moment, so the page can show one lit at a time.
    write(project / "flow.py", flow_source(0.4))
    write(project / "hitl.py", HITL)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext lgp_lab"),
        nbformat.v4.new_code_cell("%lgp_studio flow.py"),
        nbformat.v4.new_code_cell("%lgp_studio hitl.py"),
        nbformat.v4.new_code_cell(NESTED),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(nb, project / "studio.ipynb")

    with jupyterlab_server(project, tmp_path) as (url, token), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        try:
            _drive(page, url, token, artifacts, expect)
        except Exception:
            page.screenshot(path=str(artifacts / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _drive(page, url: str, token: str, artifacts: Path, expect) -> None:
    page.goto(f"{url}/lab/tree/studio.ipynb?token={token}", timeout=90_000)
    page.wait_for_selector(".jp-Notebook", timeout=90_000)
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.sessionContext"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session"
        " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
        timeout=90_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    studios = page.locator(".lgp-studio")
    flow, hitl = studios.nth(0), studios.nth(1)

    # 1. The graph: SVG nodes named after the workflow's nodes.
    flow.locator('.lgp-node[data-node="review"]').wait_for(timeout=90_000)
    hitl.locator('.lgp-node[data-node="ask"]').wait_for(timeout=30_000)
    names = flow.locator(".lgp-node text").all_text_contents()
    assert [n for n in names if n] == ["start", "plan", "act", "review", "end"]
    assert flow.locator("svg.lgp-graph path.lgp-edge").count() == 4
    page.screenshot(path=str(artifacts / "graph.png"), full_page=True)

    # 2. A run from a notebook cell lights the nodes up in order while it runs.
    page.evaluate(OBSERVE)
    page.evaluate(RUN_CELL, '%lgp_run flow.py -i \'{"text": "page"}\' -t jl-run -q')
    page.wait_for_function(
        "() => window.__lit.some((e) => e.node === 'review' && e.cls === 'lgp-done')",
        timeout=60_000,
    )
    lit = page.evaluate("() => window.__lit")
    done = [e["node"] for e in lit if e["cls"] == "lgp-done"]
    assert done == ["plan", "act", "review"], lit
    running = {e["node"]: e["done"] for e in lit if e["cls"] == "lgp-running"}
    # Each node was shown running after the previous one finished and before the next:
    # the page saw the run step by step, not all at once afterwards.
    assert running == {"plan": [], "act": ["plan"], "review": ["plan", "act"]}, lit
    expect(flow.locator(".lgp-run-head")).to_contain_text("complete", timeout=30_000)
    flow.locator('.lgp-tab[data-tab="live"]').click()
    expect(flow.locator(".lgp-events")).to_contain_text("review", timeout=10_000)
    page.screenshot(path=str(artifacts / "run.png"), full_page=True)

    # 2b. A run from the studio's own form (fields from the input schema).
    flow.locator('.lgp-tab[data-tab="run"]').click()
    flow.locator('.lgp-pane-run input[data-key="text"]').fill("form")
    flow.locator(".lgp-run").click()
    expect(flow.locator(".lgp-events")).to_contain_text("reviewed form!", timeout=60_000)
    expect(flow.locator(".lgp-run-head")).to_contain_text("complete", timeout=30_000)

    # 3. Fork from the checkpoint after "plan" with an edit; the branch reruns from there.
    flow.locator('.lgp-tab[data-tab="threads"]').click()
    flow.locator('.lgp-thread[data-thread="jl-run"]').click(timeout=30_000)
    plan_row = flow.locator(
        ".lgp-checkpoint", has=page.locator("span", has_text=re.compile("^plan$"))
    )
    plan_row.click(timeout=30_000)
    expect(flow.locator(".lgp-checkpoint.lgp-selected")).to_contain_text("plan", timeout=30_000)
    expect(flow.locator(".lgp-cp .lgp-json")).to_contain_text('"page!"', timeout=30_000)
    flow.locator(".lgp-fork-values").fill('{"text": "EDITED"}')
    flow.locator(".lgp-fork-run").click()
    expect(flow.locator(".lgp-cp .lgp-json")).to_contain_text("reviewed EDITED", timeout=60_000)
    expect(flow.locator(".lgp-checkpoint").first).to_contain_text("review", timeout=10_000)
    page.screenshot(path=str(artifacts / "fork.png"), full_page=True)

    # 4. An interrupt shows its value and is resumed from the form.
    page.evaluate(RUN_CELL, "%lgp_run hitl.py -t jl-ask -q")
    hitl.locator('.lgp-thread[data-thread="jl-ask"]').click(timeout=60_000)
    form = hitl.locator(".lgp-interrupt")
    expect(form).to_contain_text("ship it?", timeout=30_000)
    expect(form.locator(".lgp-choice")).to_have_count(2)
    ask = hitl.locator('.lgp-node[data-node="ask"]')
    expect(ask).to_have_class(re.compile("lgp-paused"), timeout=10_000)
    page.screenshot(path=str(artifacts / "interrupt.png"), full_page=True)
    form.locator(".lgp-resume-value").fill("yes")
    form.locator(".lgp-resume").click()
    expect(hitl.locator(".lgp-interrupt")).to_have_count(0, timeout=60_000)
    expect(hitl.locator(".lgp-cp .lgp-json")).to_contain_text('"yes"', timeout=30_000)
    expect(hitl.locator(".lgp-thread-head")).to_contain_text("idle", timeout=10_000)
    expect(ask).to_have_class(re.compile("lgp-done"), timeout=10_000)
    page.screenshot(path=str(artifacts / "resumed.png"), full_page=True)

    # 4b. A 1 MB state renders cut, with "show more"; delete asks, then deletes.
    flow.locator(".lgp-fork-values").fill('{"text": "' + "x" * 1_000_000 + '"}')
    flow.locator(".lgp-fork-run").click()
    more = flow.locator(".lgp-cp .lgp-json .lgp-more", has_text="1,000,000 chars")
    more.wait_for(timeout=60_000)
    assert len(flow.locator(".lgp-cp .lgp-json").inner_text()) < 20_000
    more.click()
    page.wait_for_function(  # still cut, now at 6,000 characters
        "() => (document.querySelectorAll('.lgp-studio')[0].querySelector('.lgp-cp .lgp-json')"
        ".innerText.match(/x/g) || []).length > 6000",
        timeout=10_000,
    )
    expect(more).to_have_count(1)
    page.screenshot(path=str(artifacts / "big_state.png"), full_page=True)
    hitl.locator(".lgp-thread-head .lgp-danger").click()
    hitl.locator(".lgp-confirm .lgp-danger").click()
    expect(hitl.locator(".lgp-thread")).to_have_count(0, timeout=30_000)
    expect(hitl.locator(".lgp-nav").first).to_contain_text("no threads yet")

    # 5. Subgraphs expand; a breakpoint is marked on its node.
    nested = studios.nth(2)
    expect(nested.locator('.lgp-node[data-node="sub"]')).to_have_count(1)
    assert nested.locator('.lgp-node[data-node="check"] rect.lgp-int-mark').count() == 2
    nested.locator(".lgp-expand input").check()
    expect(nested.locator('.lgp-cluster[data-node="sub"]')).to_have_count(1, timeout=10_000)
    inner = nested.locator('.lgp-node[data-node="sub:inner_b"] text').first
    expect(inner).to_have_text("inner_b")
    # The run form has fields for the input and the context schemas.
    nested.locator('.lgp-tab[data-tab="run"]').click()
    expect(nested.locator('.lgp-pane-run input[data-key="x"]')).to_have_count(1)
    expect(nested.locator('.lgp-pane-run input[data-key="context.user"]')).to_have_count(1)
    nested.locator('.lgp-pane-run input[data-key="x"]').fill("1")
    nested.locator('.lgp-pane-run input[data-key="context.user"]').fill("ada")
    nested.locator(".lgp-run").click()
    # It stops at the static breakpoint: an interrupted run, as interrupt() makes one.
    expect(nested.locator(".lgp-run-head")).to_contain_text("interrupted", timeout=60_000)
    nested.locator('.lgp-tab[data-tab="threads"]').click()
    expect(nested.locator(".lgp-breakpoint")).to_contain_text("Paused before check", timeout=30_000)
    expect(nested.locator(".lgp-thread-head")).to_contain_text("paused")
    nested.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "subgraph.png"), full_page=True)
