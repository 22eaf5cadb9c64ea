"""Makes this folder a package only so that pytest imports its conftest.py as
``notebooks.conftest``, beside ``tests/conftest.py`` (two top-level ``conftest`` modules clash)."""
