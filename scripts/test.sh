#!/usr/bin/env bash
# The README's test command: installs everything the tests need, then runs them.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

echo "== ruff"
python -m ruff check .
python -m ruff format --check .

echo "== pytest (tests/ and the notebooks under nbval)"
python -m pytest tests notebooks --nbval-lax --nbval-current-env "$@"
