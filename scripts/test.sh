#!/usr/bin/env bash
# The README's test command: installs everything the tests need, then runs them.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

python -m pip install --quiet --disable-pip-version-check -e ".[dev]"

# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work
# on this network).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing chromium for the JupyterLab browser test"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "!! chromium is missing and cannot be installed here; the browser test will fail" >&2
  fi
fi

echo "== ruff"
python -m ruff check .
python -m ruff format --check .

echo "== pytest (tests/ and the notebooks under nbval)"
python -m pytest tests notebooks --nbval-lax --nbval-current-env "$@"
