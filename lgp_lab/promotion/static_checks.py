"""Checks that read files and configuration: clean import, secrets, env vars, keys, database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from lgp_lab.config import DEFAULT_ENV
from lgp_lab.promotion.report import CheckResult

__all__ = [
    "MIN_KEY_LENGTH",
    "check_api_keys",
    "check_clean_import",
    "check_database",
    "check_env_vars",
    "check_secrets",
    "find_secrets",
]

MIN_KEY_LENGTH = 32
# Where the gate runs: a kernel or Python (``notebook``), or a terminal (``cli``).
Where = Literal["notebook", "cli"]
_NEW_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'

# Common key shapes (provider prefixes), then a generic "name = 'long literal'" form.
_SECRET_SHAPES: list[tuple[str, re.Pattern[str]]] = [
    ("an Anthropic API key", re.compile(r"sk-ant-[A-Za-z0-9_\-]{20,}")),
    ("a Langfuse secret key", re.compile(r"sk-lf-[A-Za-z0-9\-]{16,}")),
    ("an OpenAI API key", re.compile(r"sk-(?:proj-)?[A-Za-z0-9_\-]{20,}")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("a private key", re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----")),
]
_ASSIGNED_SECRET = re.compile(
    r"""(?ix)\b([a-z0-9_]*(?:api_?key|secret|token|password|passwd)[a-z0-9_]*)\s*[:=]\s*
        (?P<q>["'])(?P<value>[^"'\s]{16,})(?P=q)"""
)


def check_clean_import(
    workflow: Any,
    *,
    root: Path,
    timeout: float = 60.0,
    python: str | None = None,
    projects: Sequence[Path] = (),
    where: Where = "notebook",
) -> CheckResult:
    """Import the workflow file in a fresh interpreter, as ``lgp-lab serve`` would.

    The kernel may have notebook variables and extra ``sys.path`` entries that
    production does not; a fresh ``python`` with the project root as working directory
    has neither. What serve does add, it adds too: the ``dependencies`` of each
    ``langgraph.json`` in ``projects`` (the folder and its ``src/``, as ``langgraph dev``
    installs them) and their ``env``.

    Args:
        workflow: The loaded workflow (its ``source`` file and graph ``attr``).
        root: The project root, the fresh interpreter's working directory.
        timeout: Seconds the import may take.
        python: The interpreter (default: this one).
        projects: ``langgraph.json`` files whose dependencies serve puts on ``sys.path``.
        where: Where the gate runs, for the fix: ``notebook`` (a kernel, or Python) or
            ``cli`` (``lgp-lab check``/``deploy``, where there is no kernel).
    """
    name = workflow.name
    if workflow.source is None:
        return CheckResult(
            "clean-import", "fail", "the workflow was defined in a notebook cell; there is "
            "no file to deploy", "move it into a .py file (e.g. workflows/"
            f"{name}.py) and check that file", name,
        )  # fmt: skip
    script = (
        "import sys; from pathlib import Path\n"
        "from lgp_lab.runtime.loader import load_source\n"
        "from lgp_lab.runtime.project import read_project\n"
        "try:\n"
        "    for file in sys.argv[5:]:\n"
        "        read_project(Path(file)).activate()\n"
        "    load_source(Path(sys.argv[1]), name=sys.argv[2], project_root=Path(sys.argv[3]),"
        " attr=sys.argv[4] or None)\n"
        "except Exception as exc:\n"
        "    cause = exc.__cause__ or exc\n"
        "    print(f'{type(cause).__name__}: {cause}', file=sys.stderr)\n"
        "    sys.exit(1)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    try:
        done = subprocess.run(
            # -P: no working directory on sys.path, as for the `lgp-lab` console script.
            [python or sys.executable, "-P", "-c", script, str(workflow.source), name,
             str(root), workflow.attr or "", *(str(p) for p in projects)],
            cwd=root, capture_output=True, text=True, timeout=timeout, env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return CheckResult(
            "clean-import", "fail", f"importing {workflow.source.name} took over "
            f"{timeout:.0f}s in a fresh interpreter",
            "move slow work (downloads, model loads) out of import time, into a node "
            "or a graph factory", name,
        )  # fmt: skip
    if done.returncode == 0:
        return CheckResult(
            "clean-import",
            "pass",
            f"{workflow.source.name} imports in a fresh interpreter",
            workflow=name,
        )
    error = _last_error_line(done.stderr)
    return CheckResult(
        "clean-import", "fail", f"{workflow.source.name} does not import in a fresh "
        f"interpreter: {error}", _import_fix(error, where, root), name,
    )  # fmt: skip


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception)\b", line) or "Error:" in line:
            return line.removeprefix("lgp_lab.errors.")
    return lines[-1] if lines else "(no output)"


def _import_fix(error: str, where: Where, root: Path) -> str:
    missing = re.search(r"No module named '([\w.]+)'", error, re.IGNORECASE)
    if missing:
        module = missing.group(1).split(".")[0]
        local = _project_package(module, root)
        if local is not None:
            # The project has it but does not declare itself: `langgraph dev` would not
            # install it either.
            return (
                f"the project has {module} at {_rel(local, root)}, but nothing makes it "
                'importable: list its folder in langgraph.json ("dependencies": ["."], '
                "a src/ layout included), as `langgraph dev` installs it"
            )
        if where == "cli":
            return (
                f"'{module}' imported in this lgp-lab process only through a path the "
                "deployment does not have (the working directory, or another workflow's "
                f"folder): put {module} beside the workflow, in a package of a folder "
                'langgraph.json lists in "dependencies", or install it and add it to '
                "the project's requirements"
            )
        return (
            f"'{module}' is importable only in this kernel (a notebook sys.path entry or "
            f"package): put {module} beside the workflow or in the project, or add the "
            "package to the project's dependencies"
        )
    if where == "cli":
        return (
            "run `python -P <file>` from the project root to see it fail, and remove what "
            "depends on this process (sys.path changes, working directory, variables)"
        )
    return (
        "run `python -P <file>` from the project root to see it fail, and remove what "
        "depends on the notebook (variables, sys.path changes, working directory)"
    )


def _project_package(module: str, root: Path) -> Path | None:
    """The project's own package or module ``module`` (``src/`` layout or flat), if any."""
    for base in (root / "src", root):
        for candidate in (base / module / "__init__.py", base / f"{module}.py"):
            if candidate.is_file():
                return candidate.parent if candidate.name == "__init__.py" else candidate
    return None


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def find_secrets(files: list[Path]) -> list[tuple[Path, int, str, str]]:
    """``(file, line, kind, masked value)`` of every secret-looking literal in ``files``."""
    found: list[tuple[Path, int, str, str]] = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            hit = _secret_in(line)
            if hit is not None:
                found.append((path, number, hit[0], _mask(hit[1])))
    return found


def _secret_in(line: str) -> tuple[str, str] | None:
    for kind, pattern in _SECRET_SHAPES:
        match = pattern.search(line)
        if match:
            return kind, match.group(0)
    match = _ASSIGNED_SECRET.search(line)
    if match and not _looks_like_placeholder(match.group("value")):
        return f"a literal {match.group(1)}", match.group("value")
    return None


def _looks_like_placeholder(value: str) -> bool:
    if re.fullmatch(r"[A-Z][A-Z0-9_]*", value):
        return True  # the name of an environment variable, not its value
    lowered = value.lower()
    return lowered.startswith(("${", "<", "your", "xxx", "changeme", "example")) or set(
        lowered
    ) <= {"x", "*", "-", "_"}


def _mask(value: str) -> str:
    return value[:6] + "…" if len(value) > 8 else "…"


def check_secrets(workflow: Any) -> CheckResult:
    """No secret literal (API key, token, password) in the workflow's own files."""
    name = workflow.name
    files = list(workflow.files)
    if not files:
        return CheckResult("secrets", "warn", "no source file to scan (defined in a notebook)",
                           "move the workflow into a .py file", name)  # fmt: skip
    hits = find_secrets(files)
    if not hits:
        return CheckResult(
            "secrets", "pass", f"no secret literal in {len(files)} source file(s)", workflow=name
        )
    path, line, kind, masked = hits[0]
    more = f" (+{len(hits) - 1} more)" if len(hits) > 1 else ""
    return CheckResult(
        "secrets", "fail", f"{path.name}:{line} holds {kind} ({masked}){more}",
        "read it from the environment instead (os.environ['NAME'], set in the deployment's "
        "secrets) and rotate the exposed key", name,
    )  # fmt: skip


def check_env_vars(config: Any) -> CheckResult:
    """Every ``${VAR}`` without a default in the target config is set."""
    where = _config_name(config)
    missing = sorted(config.missing_env)
    if not missing:
        return CheckResult("config-env", "pass", f"every ${{VAR}} in {where} is set")
    names = ", ".join(missing)
    exports = " ".join(f"{m}=..." for m in missing)
    return CheckResult(
        "config-env", "fail", f"{where} uses unset variable(s) without a default: {names}",
        f"set them in the deployment's environment ({exports}) or give a default "
        f"(${{{missing[0]}:-value}})",
    )  # fmt: skip


def check_api_keys(config: Any) -> CheckResult:
    """API keys present when required, each at least 32 characters."""
    keys = config.server.keys()
    where = _config_name(config)
    if not keys:
        host = config.server.host
        by_design = config.environment == DEFAULT_ENV or config.server.require_api_key is False
        if not config.api_key_required and by_design and _is_loopback(host):
            # experiment (or an explicit require_api_key: false) on this machine only:
            # an open API is the point, not an oversight.
            return CheckResult(
                "api-keys", "pass", f"no API key in {where}: the API is open by design "
                f"(served on {host} only; set LGP_API_KEY to require one)",
            )  # fmt: skip
        status = "fail" if config.api_key_required else "warn"
        return CheckResult(
            "api-keys",
            status,
            f"no API key in {where}: the API would be open"
            + ("" if _is_loopback(host) else f" to every client reaching {host}"),
            f"set server.api_key (e.g. LGP_API_KEY) to a new key: {_NEW_KEY}",
        )
    short = [i for i, k in enumerate(keys) if len(k) < MIN_KEY_LENGTH]
    if short:
        lengths = ", ".join(str(len(keys[i])) for i in short)
        return CheckResult(
            "api-keys", "fail", f"{len(short)} API key(s) shorter than {MIN_KEY_LENGTH} "
            f"characters (length {lengths})", f"replace with a longer key: {_NEW_KEY}",
        )  # fmt: skip
    return CheckResult(
        "api-keys", "pass", f"{len(keys)} API key(s), each ≥ {MIN_KEY_LENGTH} characters"
    )


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_database(config: Any) -> CheckResult:
    """The target database is reachable and holds LangGraph's tables (or can create them)."""
    backend = getattr(config.checkpoint, "backend", "sqlite")
    if backend != "sqlite":
        return _check_server_database(config, backend)
    path = config.checkpoint_path
    if not path.exists():
        parent = next((p for p in path.parents if p.exists()), None)
        if parent is None or not os.access(parent, os.W_OK):
            return CheckResult(
                "database", "fail", f"{path} does not exist and {parent} is not writable",
                "set checkpoint.path (LGP_CHECKPOINT_PATH) to a writable location",
            )  # fmt: skip
        return CheckResult(
            "database",
            "warn",
            f"{path} does not exist yet; it is created on first start",
            "start the server once (or run lgp-lab check again after the first deploy)",
        )
    return _check_sqlite_tables(path)


def _check_sqlite_tables(path: Path) -> CheckResult:
    import sqlite3

    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return CheckResult(
            "database", "fail", f"{path} cannot be read: {exc}",
            "check the file's permissions, or point checkpoint.path at a valid database",
        )  # fmt: skip
    missing = {"checkpoints", "writes"} - tables
    if missing:
        return CheckResult(
            "database", "warn", f"{path} lacks LangGraph's tables ({', '.join(sorted(missing))})",
            "they are created on first start; start the server once to migrate",
        )  # fmt: skip
    return CheckResult("database", "pass", f"{path} is reachable and migrated")


def _check_server_database(config: Any, backend: str) -> CheckResult:
    url = getattr(config.checkpoint, "url", None) or getattr(config.checkpoint, "dsn", None)
    if not url:
        return CheckResult(
            "database", "fail", f"checkpoint.backend is {backend!r} but no connection URL is set",
            "set checkpoint.url (e.g. ${DATABASE_URL})",
        )  # fmt: skip
    try:
        import psycopg
    except ImportError:
        return CheckResult(
            "database", "fail", f"the {backend} backend needs psycopg, which is not installed",
            'pip install "lgp-lab[postgres]"',
        )  # fmt: skip
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute("SELECT to_regclass('checkpoint_migrations')").fetchone()
    except Exception as exc:
        from lgp_lab.config import redact_url

        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return CheckResult(
            "database", "fail", f"the {backend} database at {redact_url(url)} is not "
            f"reachable: {reason}", "check checkpoint.url, that the server runs and "
            "accepts connections from this machine",
        )  # fmt: skip
    if not row or row[0] is None:
        return CheckResult(
            "database", "warn", f"the {backend} database has no LangGraph tables yet",
            "they are created on first start; start the server once to migrate",
        )  # fmt: skip
    return CheckResult("database", "pass", f"the {backend} database is reachable and migrated")


def _config_name(config: Any) -> str:
    if config.source is not None:
        try:
            return str(config.source.relative_to(config.root))
        except ValueError:
            return str(config.source)
    return f"the built-in {config.environment} config"
