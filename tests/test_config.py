"""Config: discovery, env expansion, validation messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write

from lgp_lab.config import expand_env, find_project_root, load_config
from lgp_lab.errors import ConfigError


def test_project_root_is_found_upward(project: Path) -> None:
    nested = project / "notebooks" / "deep"
    nested.mkdir(parents=True)
    assert find_project_root(nested) == project
    config = load_config(start=nested)
    assert config.root == project
    assert config.checkpoint_path == project / ".lgp" / "checkpoints.sqlite"
    assert config.source == project / "config" / "experiment.yaml"


def test_outside_a_project_defaults_apply(tmp_path: Path) -> None:
    config = load_config(start=tmp_path)
    assert config.source is None
    assert config.environment == "experiment"
    assert config.checkpoint_path == tmp_path.resolve() / ".lgp" / "checkpoints.sqlite"
    assert config.checkpoint.synchronous == "normal"


def test_env_vars_expand_with_defaults(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGP_CHECKPOINT_PATH", "/tmp/elsewhere.sqlite")
    assert load_config(start=project).checkpoint_path == Path("/tmp/elsewhere.sqlite")
    missing: set[str] = set()
    assert expand_env({"a": ["${NOPE_X:-dflt}", "x${NOPE_Y}y"]}, missing) == {"a": ["dflt", "xy"]}
    assert missing == {"NOPE_Y"}


def test_each_environment_loads(project: Path) -> None:
    assert load_config("hosted", project).environment == "hosted"
    prod = load_config("production", project)
    assert prod.checkpoint.synchronous == "full"


def test_env_from_environment_variable(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGP_ENV", "production")
    assert load_config(start=project).environment == "production"


def test_unknown_key_names_file_key_and_fix(project: Path) -> None:
    write(project / "config" / "experiment.yaml", "checkpont:\n  path: x.sqlite\n")
    with pytest.raises(ConfigError) as err:
        load_config(start=project)
    text = str(err.value)
    assert "experiment.yaml" in text
    assert "unknown key 'checkpont'" in text
    assert "did you mean 'checkpoint'" in text


def test_nested_unknown_key_and_bad_type(project: Path) -> None:
    write(
        project / "config" / "experiment.yaml",
        "checkpoint:\n  busy_timeout_ms: soon\n  synchronus: full\n",
    )
    with pytest.raises(ConfigError) as err:
        load_config(start=project)
    text = str(err.value)
    assert "'checkpoint.busy_timeout_ms'" in text and "'soon'" in text
    assert "checkpoint.synchronus" in text and "did you mean 'synchronous'" in text


def test_unknown_environment_lists_known_ones(project: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config("staging", project)
    assert "staging" in str(err.value)
    assert "experiment, hosted, production" in str(err.value)


def test_invalid_yaml_names_the_line(project: Path) -> None:
    write(project / "config" / "experiment.yaml", "checkpoint:\n  path: [unclosed\n")
    with pytest.raises(ConfigError, match=r"experiment\.yaml:\d+: not valid YAML"):
        load_config(start=project)


def test_builtin_defaults_read_lgp_api_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LGP_API_KEY", raising=False)
    hosted = load_config("hosted", tmp_path)
    assert hosted.source is None and hosted.api_key_required
    assert hosted.server.keys() == [] and hosted.missing_env == {"LGP_API_KEY"}
    monkeypatch.setenv("LGP_API_KEY", "from-the-environment")
    assert load_config("hosted", tmp_path).server.keys() == ["from-the-environment"]
    assert load_config(start=tmp_path).server.keys() == ["from-the-environment"]
    # A project made by `lgp-lab create` (workflows/ but no config/) gets the same.
    (tmp_path / "made" / "workflows").mkdir(parents=True)
    made = load_config("production", tmp_path / "made")
    assert made.root == (tmp_path / "made").resolve()
    assert made.server.keys() == ["from-the-environment"]


def test_server_defaults_per_environment(project: Path) -> None:
    experiment = load_config(start=project)
    assert experiment.rate_limit_per_minute == 0 and experiment.server.trusted_proxies() == []
    hosted = load_config("hosted", project)
    assert hosted.rate_limit_per_minute == 100 and hosted.server.trusted_proxies() == []
    write(project / "config" / "experiment.yaml", "server:\n  forwarded_allow_ips: ' , '\n")
    assert load_config(start=project).server.trusted_proxies() == []


def test_unknown_environment_outside_a_project_is_refused(tmp_path, monkeypatch) -> None:
    from lgp_lab.config import load_config
    from lgp_lab.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    assert load_config("hosted").environment == "hosted"
    with pytest.raises(ConfigError, match=r"'nosuch' is not built in.*experiment, hosted"):
        load_config("nosuch")


FLOW = """
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START

    class State(TypedDict, total=False):
        input: str

    builder = StateGraph(State)
    builder.add_node("echo", lambda state: {})
    builder.add_edge(START, "echo")
    workflow = builder
"""


def test_builtin_environments_exist_until_a_file_overrides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from conftest import cli_env, run_cli

    from lgp_lab.config import available_environments

    monkeypatch.delenv("LGP_API_KEY", raising=False)
    root = tmp_path / "proj"
    write(root / "workflows" / "flow.py", FLOW)
    assert load_config("hosted", root).source is None  # no config/: built in
    # One file in config/ overrides its environment only; the others stay built in.
    write(root / "config" / "production.yaml", "checkpoint:\n  path: prod.sqlite\n")
    assert load_config("production", root).source == root.resolve() / "config/production.yaml"
    hosted = load_config("hosted", root)
    assert hosted.source is None and hosted.environment == "hosted"
    assert hosted.api_key_required and hosted.root == root.resolve()
    assert load_config("experiment", root).source is None
    assert available_environments(root) == ["experiment", "hosted", "production"]
    write(root / "config" / "staging.yaml", "server:\n  port: 8100\n")
    assert available_environments(root) == ["experiment", "hosted", "production", "staging"]
    with pytest.raises(ConfigError) as err:
        load_config("qa", root)
    assert "known: experiment, hosted, production, staging" in str(err.value)
    assert "config/qa.yaml" in str(err.value) and "config/qa.yaml" in (err.value.hint or "")

    # The same through the CLI, as a new user meets it.
    ran = run_cli("run", "--env", "hosted", "--verbose", "--input", "{}", "flow.py",
                  cwd=root / "workflows", env=cli_env())  # fmt: skip
    assert ran.returncode == 0 and "has no config file" not in ran.stderr, ran.stderr
    assert "config: built-in defaults (env hosted)" in ran.stderr, ran.stderr
    bad = run_cli("run", "--env", "qa", "flow.py", cwd=root / "workflows", env=cli_env())
    assert bad.returncode == 2
    assert "known: experiment, hosted, production, staging" in bad.stderr, bad.stderr
