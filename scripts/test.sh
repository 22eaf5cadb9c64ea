#!/usr/bin/env bash
# The README's test command, and all of CI (.ci/run calls it). On a fresh machine it:
#   1. installs uv, and the Debian packages the tests drive (chromium, postgresql, node/npm);
#   2. builds a NEW virtualenv from the committed lock (uv.lock, `uv sync --locked`: a lock
#      out of step with pyproject.toml fails here, naming the package) on Python 3.12 —
#      nothing from the machine's own Python is used;
#   3. lints, then runs the smoke set (tests marked `smoke`) in a second new virtualenv
#      holding the LOWEST versions pyproject.toml allows, on the lowest supported Python;
#   4. runs the whole suite (tests/ and the notebooks under nbval) in the locked venv.
# Each phase's time and the ten slowest tests are printed.
# Usage: bash scripts/test.sh [pytest args...]   (passed to the whole-suite run)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

UV_VERSION=0.13.8
# The suite's interpreter. CPython 3.11.7 (pyenv's default here) can crash pytest while it
# formats a failure (pytest issue 10763: "AST constructor recursion depth mismatch"), so
# the suite runs on 3.12; the smoke step keeps the lowest supported Python, 3.11.
SUITE_PYTHON=3.12
LOWEST_PYTHON=3.11
VENV=${LGP_TEST_VENV:-$ROOT/.venv-test}
LOWEST_VENV=${LGP_LOWEST_VENV:-$ROOT/.venv-lowest}
LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/lgp-test.XXXXXX")

declare -a PHASES=()
phase_start=$SECONDS
phase() { # phase NAME: ends the running phase under NAME
  PHASES+=("$(printf '%-34s %5d s' "$1" $((SECONDS - phase_start)))")
  phase_start=$SECONDS
}

# A Python of version $1 that really runs: on PATH, else one of pyenv's builds (pyenv's
# shims answer only for its global versions), else the system's.
find_python() {
  local v=$1 c
  for c in "python$v" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/"python$v" \
    "/usr/local/bin/python$v" "/usr/bin/python$v"; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c "" >/dev/null 2>&1; then
      command -v "$c"
      return
    fi
  done
  echo "!! no Python $v found (on PATH, in pyenv or in /usr/bin): install one, e.g." \
    "'apt-get install python$v' or 'pyenv install $v'" >&2
  exit 1
}

apt_install() { # apt_install WHAT PACKAGE...
  local what=$1
  shift
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing $* for $what"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "!! $* missing and cannot be installed here (not root or no apt-get): $what will fail" >&2
  fi
}

# --- 1. tools and system packages --------------------------------------------------------
if command -v uv >/dev/null 2>&1 && [ "$(uv --version 2>/dev/null | cut -d' ' -f2)" = "$UV_VERSION" ]; then
  UV=(uv)
else
  echo "== installing uv $UV_VERSION"
  python3 -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  UV=(python3 -m uv)
fi
# Browser tests drive Debian's Chromium (Playwright's own browser download cannot work on
# this network).
command -v chromium >/dev/null 2>&1 || apt_install "the JupyterLab browser tests" chromium
# The PostgreSQL backend's tests start a real server (tests/postgres.py) from Debian's
# binaries, which live off PATH in /usr/lib/postgresql/<version>/bin.
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  apt_install "the PostgreSQL backend tests" postgresql
fi
command -v npm >/dev/null 2>&1 || apt_install "the JS client tests" nodejs npm

# --- 2. the locked virtualenv, new every run ---------------------------------------------
suite_python=$(find_python "$SUITE_PYTHON")
echo "== new virtualenv $VENV from uv.lock on $("$suite_python" -V) ($suite_python)"
rm -rf "$VENV"
if ! UV_PROJECT_ENVIRONMENT=$VENV "${UV[@]}" sync --locked --all-extras \
  --python "$suite_python" --no-python-downloads --quiet; then
  echo "!! uv.lock does not install as committed. What \`uv lock\` would change:" >&2
  "${UV[@]}" lock --dry-run 2>&1 | grep -vE '^(Using|Resolved) ' | sed 's/^/!!   /' >&2 || true
  echo "!! if pyproject.toml changed on purpose, run \`uv lock\` and commit uv.lock" >&2
  exit 1
fi
# Activated, so `lgp-lab`, `jupyter` and the kernels the tests start are the venv's own.
# shellcheck disable=SC1091
source "$VENV/bin/activate"
export LGP_TEST_VENV=$VENV # tests/test_ci_env.py checks the suite really runs in it
if command -v npm >/dev/null 2>&1; then
  # The official JS SDK and useStream (tests/js), the studio's bundle toolchain (js/studio)
  # and the vendored JS Agent Server API suite (tests/js_api), each from its own lock.
  for dir in tests/js js/studio tests/js_api; do
    if [ -f "$dir/package-lock.json" ]; then
      echo "== npm ci ($dir)"
      npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    fi
  done
fi
phase "install (locked venv, npm)"

# --- 3. lint -----------------------------------------------------------------------------
echo "== ruff"
ruff check .
ruff format --check .
# The layering contract ([tool.importlinter] in pyproject.toml): no import up a layer.
echo "== lint-imports"
lint-imports --no-cache
phase "lint (ruff, import layers)"

# --- 4. the smoke set on the lowest allowed versions -------------------------------------
lowest_python=$(find_python "$LOWEST_PYTHON")
echo "== smoke: new virtualenv $LOWEST_VENV, lowest allowed versions, $("$lowest_python" -V)"
rm -rf "$LOWEST_VENV"
"${UV[@]}" venv --quiet --python "$lowest_python" --no-python-downloads "$LOWEST_VENV"
VIRTUAL_ENV=$LOWEST_VENV "${UV[@]}" pip install --quiet --resolution lowest-direct \
  -e ".[notebook,server,agents,observability]" \
  "pytest>=9.0.3" "pytest-timeout>=2.3" "nbclient>=0.10" "nbformat>=5.10" \
  "opentelemetry-proto>=1.33"
VIRTUAL_ENV=$LOWEST_VENV "${UV[@]}" pip list --quiet 2>/dev/null \
  | grep -iE '^(langgraph|langgraph-checkpoint-sqlite|openai|httpx|fastapi|uvicorn|langfuse|pydantic|ipython|mcp) ' \
  | awk '{printf "%s %s  ", $1, $2} END {print ""}'
# --tb=native: pytest's own traceback formatting is what crashes on CPython 3.11.7.
# Only the modules holding smoke tests: the others may import what only `dev` installs.
mapfile -t smoke_files < <(grep -l 'mark\.smoke' tests/test_*.py)
smoke_status=0
PATH=$LOWEST_VENV/bin:$PATH LGP_TEST_VENV=$LOWEST_VENV \
  "$LOWEST_VENV/bin/python" -m pytest "${smoke_files[@]}" -m smoke --tb=native -p no:cacheprovider -q \
  2>&1 | tee "$LOG_DIR/smoke.log" || smoke_status=$?
phase "smoke (lowest versions)"

# --- 5. the whole suite ------------------------------------------------------------------
echo "== pytest (tests/ and the notebooks under nbval) on $(python -V)"
suite_status=0
python -m pytest tests notebooks --nbval-lax --nbval-current-env --durations=10 "$@" \
  2>&1 | tee "$LOG_DIR/suite.log" || suite_status=$?
phase "tests (whole suite)"

echo
echo "== time per phase"
printf '  %s\n' "${PHASES[@]}"
echo "== smoke on the lowest versions: $(tail -n 1 "$LOG_DIR/smoke.log")"
[ "$smoke_status" = 0 ] || echo "!! the smoke step failed: a lower bound in pyproject.toml no longer works (see above)"
# The whole suite's summary line last, for whoever reads the closing line.
echo "$(tail -n 1 "$LOG_DIR/suite.log")"
rm -rf "$LOG_DIR"
[ "$smoke_status" = 0 ] && [ "$suite_status" = 0 ]
