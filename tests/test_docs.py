"""The README documents every CLI command, option and config key, and its commands exist."""

from __future__ import annotations

import re

from conftest import REPO
from pydantic import BaseModel

README = (REPO / "README.md").read_text(encoding="utf-8")


def _config_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _config_keys(ann, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_cli_command_and_option_is_documented() -> None:
    from lgp_lab.cli import cli

    for name, command in cli.commands.items():
        assert f"### `lgp-lab {name}`" in README, f"README lacks a section for {name}"
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in README, f"README does not mention {name} {opt}"


def test_every_magic_and_option_is_documented() -> None:
    from lgp_lab.magics import LgpMagics

    for name in LgpMagics.magics["line"]:
        assert f"### `%{name}`" in README, f"README lacks a section for %{name}"
        parser = getattr(LgpMagics, name).parser
        for action in parser._actions:
            for opt in action.option_strings:
                if opt.startswith("--"):
                    assert opt in README, f"README does not mention %{name} {opt}"


def test_every_config_key_is_documented() -> None:
    from lgp_lab.config import LabConfig

    for key in _config_keys(LabConfig):
        if key == "environment":
            continue  # taken from the file name
        leaf = key.rsplit(".", 1)[-1]
        assert re.search(rf"\b{re.escape(leaf)}:", README), f"README lacks config key {key}"


def test_readme_commands_match_ci() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci and "bash scripts/test.sh" in README
    # The first command installs from the committed lock, as CI does, then runs a workflow.
    assert "uv run --locked --all-extras lgp-lab run workflows/basic_workflow.py" in README
    assert (REPO / "uv.lock").is_file()
