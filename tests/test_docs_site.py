"""The documentation site builds with ``mkdocs build --strict`` (no broken link or anchor,
no warning), and its generated reference pages cover the code: every CLI command and
option, every magic and option, every configuration key and every HTTP route."""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from conftest import REPO, cli_env
from test_docs import _config_keys


def _generator() -> ModuleType:
    """docs/_scripts/gen_reference.py, the script mkdocs-gen-files runs."""
    path = REPO / "docs" / "_scripts" / "gen_reference.py"
    spec = importlib.util.spec_from_file_location("gen_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_magics_page_has_every_magic_and_option() -> None:
    from lgp_lab.magics import LgpMagics

    page = _generator().render_magics()
    for name in LgpMagics.magics["line"]:
        assert f"## `%{name}`" in page
        for action in getattr(LgpMagics, name).parser._actions:
            for opt in action.option_strings:
                if opt != "--help":
                    assert f"`{opt}`" in page, f"%{name} {opt}"


def test_generated_configuration_page_has_every_key() -> None:
    from lgp_lab.config import LabConfig

    page = _generator().render_configuration()
    for key in _config_keys(LabConfig):
        if key.startswith("mcp.servers"):
            key = "mcp.servers"  # a map of named sections, documented once as <name>
        assert f"`{key}`" in page, key
    for name in ("command", "args", "env", "cwd", "start_timeout_s"):
        assert f"`mcp.servers.<name>.{name}`" in page


def test_generated_http_page_has_every_route(tmp_path: Path) -> None:
    gen = _generator()
    spec = gen.openapi_spec()
    page = gen.render_http_api()
    for path, item in spec["paths"].items():
        for method in item:
            if method in gen.HTTP_METHODS:
                assert f"| `{method.upper()}` | `{path}` |" in page
    assert {"threads", "runs", "assistants", "store", "workflows"} <= set(gen.operations(spec))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_site_builds_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = cli_env(DISABLE_MKDOCS_2_WARNING="true", NO_MKDOCS_2_WARNING="1", HOME=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        stdin=subprocess.DEVNULL,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert not re.search(r"^(WARNING|ERROR)\b", log, flags=re.M), log
    for page in ("reference/cli", "reference/magics", "reference/configuration",
                 "reference/http-api", "guides/langgraph-projects", "benchmarks"):  # fmt: skip
        assert (site / page / "index.html").is_file(), page
    assert (site / "images" / "studio.png").is_file()
    assert (site / "search" / "search_index.json").is_file()

    from lgp_lab.cli import cli

    cli_page = html.unescape((site / "reference" / "cli" / "index.html").read_text())
    for name, command in cli.commands.items():
        assert f"lgp-lab {name} [OPTIONS]" in cli_page, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and not getattr(param, "hidden", False):
                    assert opt in cli_page, f"{name} {opt}"
    assert "Sentinel.UNSET" not in cli_page
    # Nothing of the build lands in the work tree (site_dir is under ignored build/).
    assert not (REPO / "site").exists()
    assert os.path.isdir(site)
