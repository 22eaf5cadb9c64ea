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

# The PostgreSQL backend's tests start a real server (tests/postgres.py) from Debian's
# binaries, which live off PATH in /usr/lib/postgresql/<version>/bin.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing postgresql for the PostgreSQL backend tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "!! PostgreSQL (initdb, pg_ctl) is missing and cannot be installed here; the postgres tests will fail" >&2
  fi
fi

# The JS client tests (tests/test_js_clients.py) run the official @langchain/langgraph-sdk
# under node and bundle a useStream page with esbuild: the versions are pinned in
# tests/js/package-lock.json.
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing node and npm for the JS client tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "!! node/npm are missing and cannot be installed here; the JS client tests will skip" >&2
  fi
fi
if command -v npm >/dev/null 2>&1; then
  echo "== npm ci (tests/js)"
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
  # The studio widget's bundle is rebuilt from js/studio with its committed lock file
  # (tests/test_studio.py checks lgp_lab/widgets/static/studio.js is current).
  echo "== npm ci (js/studio)"
  npm ci --prefix js/studio --no-audit --no-fund --loglevel=error
fi

echo "== ruff"
python -m ruff check .
python -m ruff format --check .

echo "== pytest (tests/ and the notebooks under nbval)"
python -m pytest tests notebooks --nbval-lax --nbval-current-env "$@"
