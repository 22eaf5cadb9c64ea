"""The served API docs (/docs, /redoc) work offline: Swagger UI's and ReDoc's assets come
from the package, not a CDN. Opened in headless Debian Chromium with every request to
anything but the server itself aborted, as on a machine (or in a cluster) with no way out.

Needs Debian's chromium (scripts/test.sh apt-installs it).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from lgp_lab import Lab
from lgp_lab.server.background import start_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The same flags as tests/lab_browser.py: no network beyond loopback, CI friendly.
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

pytestmark = pytest.mark.slow


def test_docs_assets_are_served_by_the_server(project: Path) -> None:
    with Lab(root=project) as lab:
        handle = start_server(lab, ["workflows/basic_workflow.py"], host="127.0.0.1", port=0)
        page = httpx.get(f"{handle.url}/docs").text
        assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            src = next(part for part in page.split('"') if part.endswith(asset))
            assert not urlsplit(src).netloc, f"{asset} is loaded from {src}"
            got = httpx.get(f"{handle.url}{src}")
            assert got.status_code == 200 and len(got.content) > 10_000, (asset, got.status_code)
        redoc = httpx.get(f"{handle.url}/redoc").text
        assert "cdn.jsdelivr.net" not in redoc and "redoc.standalone.js" in redoc


def test_swagger_ui_lists_the_operations_with_the_network_off(project: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: run scripts/test.sh (it apt-installs chromium)")
    from playwright.sync_api import sync_playwright

    with Lab(root=project) as lab:
        handle = start_server(lab, ["workflows/basic_workflow.py"], host="127.0.0.1", port=0)
        server = urlsplit(handle.url).netloc
        blocked: list[str] = []

        def only_the_server(route) -> None:
            if urlsplit(route.request.url).netloc == server:
                route.continue_()
            else:  # the offline part: anything else fails, as it would without a network
                blocked.append(route.request.url)
                route.abort("internetdisconnected")

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.route("**/*", only_the_server)
                page.goto(f"{handle.url}/docs")
                # Swagger UI renders one block per operation once the spec is loaded.
                page.wait_for_selector(".opblock", timeout=20_000)
                paths = page.locator(".opblock-summary-path").all_inner_texts()
                assert "/threads" in {p.replace("\u200b", "") for p in paths}
                assert any("/workflows/" in p for p in paths), paths
                assert (
                    page.locator(".swagger-ui .info .title").inner_text().startswith("lgp_lab API")
                )
            finally:
                browser.close()
        # Nothing the page needs lives elsewhere (a blocked request would be a CDN asset).
        assert blocked == [], blocked
