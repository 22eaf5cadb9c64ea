"""The suite runs where scripts/test.sh put it: a new virtualenv, nothing from the machine.

A green run on a machine that already had the packages proves nothing, so when the README's
test command runs the suite (it sets ``LGP_TEST_VENV``) these check that the interpreter,
the packages and the ``lgp-lab`` on PATH are the venv's own.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.smoke,
    pytest.mark.skipif(
        not os.environ.get("LGP_TEST_VENV"), reason="run by scripts/test.sh (LGP_TEST_VENV)"
    ),
]


def test_the_interpreter_is_the_test_venvs() -> None:
    venv = Path(os.environ["LGP_TEST_VENV"]).resolve()
    assert Path(sys.prefix).resolve() == venv
    assert sys.prefix != sys.base_prefix


def test_nothing_comes_from_the_machines_python() -> None:
    base = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
    machine = {base["purelib"], base["platlib"]}
    assert not machine & set(sys.path), "the venv sees the machine's site-packages"
    assert not site.ENABLE_USER_SITE or site.getusersitepackages() not in sys.path
    import langgraph.graph  # langgraph itself is a namespace package: no __file__

    import lgp_lab

    for module in (langgraph.graph, lgp_lab):
        path = Path(module.__file__).resolve()
        assert not any(path.is_relative_to(Path(p).resolve()) for p in machine), path


def test_the_cli_on_path_is_the_venvs() -> None:
    found = shutil.which("lgp-lab")
    # Not resolved: a venv's python is a symlink to the base interpreter.
    assert found and Path(found).parent == Path(sys.executable).parent
