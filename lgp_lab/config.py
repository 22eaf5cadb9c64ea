"""Project discovery and environment configuration.

A project is the first directory, walking up from the working directory, that holds
``config/`` or ``workflows/``. Its ``config/<env>.yaml`` is validated by the pydantic
models below, after ``${VAR}`` and ``${VAR:-default}`` are expanded from the
environment. Outside any project, built-in defaults apply with the working directory
as root, so a lone ``flow.py`` runs anywhere.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from lgp_lab.errors import ConfigError

__all__ = [
    "BUILTIN_ENVIRONMENTS",
    "DEFAULT_ENV",
    "AlertsConfig",
    "AnomalyConfig",
    "AutoScalingConfig",
    "CheckpointConfig",
    "CostConfig",
    "LabConfig",
    "LangfuseConfig",
    "LlmProvidersConfig",
    "McpConfig",
    "McpServerConfig",
    "MetricsConfig",
    "ObservabilityConfig",
    "ServerConfig",
    "available_environments",
    "builtin_config",
    "expand_env",
    "find_project_root",
    "load_config",
    "redact_url",
]

DEFAULT_ENV = "experiment"
# The environments that exist without a config file; config/<env>.yaml overrides one.
BUILTIN_ENVIRONMENTS = ("experiment", "hosted", "production")
# The environments whose API refuses to start without a key (unless the config says).
_KEY_REQUIRED = ("hosted", "production")
_HOSTED_RATE_LIMIT = 100
# What the built-in defaults read from the environment (outside a project, or an
# environment without a config file), as the shipped config/*.yaml files do, so
# `LGP_API_KEY=... lgp-lab serve flow.py --env hosted` works anywhere.
_BUILTIN: dict[str, Any] = {
    "checkpoint": {"path": "${LGP_CHECKPOINT_PATH:-.lgp/checkpoints.sqlite}"},
    "server": {"api_key": "${LGP_API_KEY}"},
}
# Where no key is required (experiment) the key is optional, as config/experiment.yaml
# has it: an unset LGP_API_KEY is then no missing variable, the API is open by design.
_BUILTIN_OPEN: dict[str, Any] = {**_BUILTIN, "server": {"api_key": "${LGP_API_KEY:-}"}}
ENV_VAR = "LGP_ENV"
_LOCAL_ORIGINS = ("http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*")
_CORS_EXPOSE = ("Content-Location", "Location", "X-Pagination-Total", "X-Pagination-Next")
_ENV_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class CheckpointConfig(_Section):
    """Where threads persist.

    ``synchronous`` is SQLite's durability level for the WAL-mode database. ``normal``
    (the default) survives process crashes and keeps the file consistent; only the
    last commits can be lost on a power failure. ``full`` syncs every commit.

    ``backend: postgres`` keeps everything (checkpoints, store, runs, threads,
    assistants, traces) in the PostgreSQL database at ``url`` (``postgresql://user:pw@
    host:5432/db`` or a libpq ``key=value`` string; usually ``${DATABASE_URL}``), through
    one connection pool of ``pool_min_size``..``pool_max_size`` connections per process.
    ``connect_timeout_s`` bounds opening a connection, ``pool_timeout_s`` waiting for a
    free one, ``statement_timeout_ms`` (0 = off) any one statement. ``pool_check``
    tests a connection that sat idle in the pool (1 s or more) before handing it out
    (one empty query), so after a failover or restart no request fails on a stale one.

    ``ttl`` (minutes; default off) deletes threads idle longer than that: a background
    sweep every ``ttl_sweep_interval_minutes`` finds threads whose latest checkpoint and
    thread record are older, at most ``ttl_sweep_limit`` per sweep, and deletes them
    (``ttl_strategy: delete``, as LangGraph's ``checkpointer.ttl``) or prunes each to
    its latest checkpoint (``keep_latest``). Threads with a run queued or in flight are
    left alone. Unset here, ``langgraph.json``'s ``checkpointer.ttl`` applies.
    """

    backend: Literal["sqlite", "postgres"] = "sqlite"
    path: str = ".lgp/checkpoints.sqlite"
    url: str | None = None
    synchronous: Literal["off", "normal", "full", "extra"] = "normal"
    busy_timeout_ms: int = Field(default=5000, ge=0)
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    pool_timeout_s: float = Field(default=30.0, gt=0)
    statement_timeout_ms: int = Field(default=0, ge=0)
    pool_check: bool = True
    ttl: float | None = Field(default=None, gt=0)
    ttl_strategy: Literal["delete", "keep_latest"] = "delete"
    ttl_sweep_interval_minutes: float = Field(default=5.0, gt=0)
    ttl_sweep_limit: int = Field(default=1000, ge=1)

    @model_validator(mode="after")
    def _backend_settings_agree(self) -> CheckpointConfig:
        # An empty url (an unset ${DATABASE_URL}) is not refused here, so the file
        # still loads for commands that never open the database; opening it names
        # the variable to set.
        if self.backend == "sqlite" and self.url:
            raise ValueError(
                "checkpoint.url is set but checkpoint.backend is sqlite (which uses "
                "checkpoint.path); set backend: postgres, or remove url"
            )
        if self.backend == "postgres":
            if self.url is None:
                raise ValueError(
                    "checkpoint.backend is postgres but checkpoint.url is missing; add "
                    "url: ${DATABASE_URL} (postgresql://user:password@host:5432/dbname)"
                )
            scheme = self.url.partition("://")[0] if "://" in self.url else None
            if scheme is not None and scheme not in ("postgresql", "postgres"):
                raise ValueError(
                    f"checkpoint.url must be a postgresql:// URL, got a {scheme}:// one; "
                    "write postgresql://user:password@host:5432/dbname"
                )
            if scheme is None and self.url.strip() and "=" not in self.url:
                raise ValueError(
                    "checkpoint.url is neither a postgresql:// URL nor key=value settings; "
                    "write postgresql://user:password@host:5432/dbname"
                )
        if self.pool_min_size > self.pool_max_size:
            raise ValueError(
                f"checkpoint.pool_min_size ({self.pool_min_size}) is larger than "
                f"checkpoint.pool_max_size ({self.pool_max_size}); lower min or raise max"
            )
        return self


class ServerConfig(_Section):
    """The hosted API (``lgp-lab serve``, ``%lgp_serve``).

    ``api_key`` and ``api_keys`` are merged; empty values (an unset ``${VAR}``) are
    ignored. ``require_api_key`` defaults to true in the ``hosted`` and ``production``
    environments, which then refuse to start without a key. ``rate_limit_per_minute``
    defaults to off (0) in ``experiment`` and to 100 elsewhere.

    ``cors_origins`` lists the browser origins (a comma-separated string or a list;
    ``*`` inside a pattern, as in ``http://localhost:*``; ``*`` alone allows any) that
    may call the API, as Agent Chat UI or a ``useStream`` page on another origin does;
    unset, it is this machine's pages in ``experiment`` and none elsewhere.
    ``cors_expose_headers`` are the response headers such a page may read.

    ``forwarded_allow_ips`` lists the reverse proxies (addresses or CIDR networks, a
    comma-separated string or a list; ``*`` trusts any peer) whose ``X-Forwarded-For`` /
    ``X-Forwarded-Proto`` headers set the client address. Unset (the default), proxy
    headers are ignored, so a client cannot forge its address to dodge the rate limit.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    api_key: str | None = None
    api_keys: list[str] = Field(default_factory=list)
    require_api_key: bool | None = None
    rate_limit_per_minute: int | None = Field(default=None, ge=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    forwarded_allow_ips: str | list[str] | None = None
    cors_origins: str | list[str] | None = None
    cors_expose_headers: list[str] = Field(default_factory=lambda: list(_CORS_EXPOSE))

    def keys(self) -> list[str]:
        """Every configured, non-empty API key."""
        return [k for k in [self.api_key, *self.api_keys] if k]

    def allowed_origins(self, environment: str = "experiment") -> list[str]:
        """The browser origins allowed to call the API (CORS). Unset: this machine's
        pages on any port in ``experiment``, none elsewhere; ``*`` allows any."""
        value = self.cors_origins
        if value is None:
            return list(_LOCAL_ORIGINS) if environment == DEFAULT_ENV else []
        items = value.split(",") if isinstance(value, str) else list(value)
        return [item.strip() for item in items if item and item.strip()]

    def trusted_proxies(self) -> list[str]:
        """The proxy addresses whose forwarded headers are trusted (empty: none)."""
        value = self.forwarded_allow_ips
        items = value.split(",") if isinstance(value, str) else list(value or [])
        return [item.strip() for item in items if item and item.strip()]


class LangfuseConfig(_Section):
    """Langfuse export. ``enabled: null`` (the default) turns it on when both keys are set,
    here or in ``LANGFUSE_PUBLIC_KEY`` / ``LANGFUSE_SECRET_KEY``; ``false`` keeps it off."""

    enabled: bool | None = None
    public_key: str | None = None
    secret_key: str | None = None
    host: str | None = None
    flush_timeout_s: float = Field(default=2.0, gt=0, le=30)


class ObservabilityConfig(_Section):
    """Where run traces go; see the README's Observability section."""

    console: bool | None = None
    local: bool = True
    max_length: int = Field(default=2000, ge=20)
    repository: str | None = None
    langfuse: LangfuseConfig = Field(default_factory=LangfuseConfig)


class CostConfig(_Section):
    """How a run's cost is reported in its trace."""

    cost_model: Literal["none", "fixed_subscription", "per_token"] = "none"
    monthly_cost: float = Field(default=0.0, ge=0)


class McpServerConfig(_Section):
    """One MCP server the Lab can start over stdio (``command args...`` with ``env``)."""

    command: str
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    start_timeout_s: float = Field(default=20.0, gt=0)


class McpConfig(_Section):
    """MCP servers by name; ``mesh`` defaults to ``lgp-lab mesh --root repositories``."""

    servers: dict[str, McpServerConfig] = Field(default_factory=dict)


class OllamaProviderConfig(_Section):
    """An OpenAI-compatible endpoint (Ollama by default; its cost is $0.00)."""

    enabled: bool = False
    base_url: str = "http://localhost:11434/v1"
    default_model: str = "llama3.2"
    api_key: str = "ollama"
    timeout_s: float = Field(default=60.0, gt=0)
    connect_timeout_s: float = Field(default=3.0, gt=0)


class ClaudeCodeProviderConfig(_Section):
    """Claude Code through the MCP mesh (``mesh_execute``)."""

    enabled: bool = True
    server: str = "mesh"
    repository: str | None = None


class LlmProvidersConfig(_Section):
    """Which provider agent nodes use, and each provider's settings."""

    default: Literal["claude_code", "ollama"] = "claude_code"
    ollama: OllamaProviderConfig = Field(default_factory=OllamaProviderConfig)
    claude_code: ClaudeCodeProviderConfig = Field(default_factory=ClaudeCodeProviderConfig)


class RunsConfig(_Section):
    """Durable runs: how a run outlives the process that accepted it.

    Every run row names its owner (this process) and holds a lease the owner renews
    every ``lease_seconds / 3``. When the owner dies (``kill -9``, a lost node) its lease
    runs out and another replica — or the same server restarted — adopts the run and
    resumes it from its last checkpoint: nodes that completed are not run again. A run
    is tried at most ``max_attempts`` times, waiting ``retry_backoff_seconds`` doubled
    per attempt, then ends ``error`` with the reason. On one machine a dead owner is
    noticed at once (its process is gone); elsewhere after its lease. ``poll_seconds``
    is how often a replica looks for cancel requests, runs to adopt and runs of other
    replicas it waits on.

    ``retry_on_error`` also retries a run whose graph raised, from its last checkpoint,
    within the same ``max_attempts``; off by default, as in LangGraph, where an error
    ends the run (a node's own ``RetryPolicy`` retries that node either way).
    """

    lease_seconds: float = Field(default=15.0, gt=0)
    max_attempts: int = Field(default=3, ge=1)
    retry_on_error: bool = False
    retry_backoff_seconds: float = Field(default=1.0, ge=0)
    poll_seconds: float = Field(default=0.5, gt=0)


class MetricsConfig(_Section):
    """``GET /metrics`` (Prometheus text format). It needs the API key like every other
    route unless ``public`` is true (a scraper inside the cluster without the key)."""

    enabled: bool = True
    public: bool = False


class AlertsConfig(_Section):
    """Where anomaly alerts go: ``webhook_url`` receives Slack-compatible JSON
    (``{"text": ...}``, as Slack, Mattermost and Teams incoming webhooks take)."""

    webhook_url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)


class AnomalyConfig(_Section):
    """The error-rate watch of each workflow version (every replica watches its runs).

    A version whose failed runs exceed ``error_rate_threshold`` (a fraction: 0.10 is
    10%) of at least ``min_runs`` runs in the last ``window_s`` seconds is an anomaly:
    it is alerted, recorded as an incident and, with ``auto_rollback``, replaced by
    the previous good version. ``enabled: null`` (the default) watches in ``hosted``
    and ``production`` and not in ``experiment``, where a failing version is often the
    point; set it true there to have notebook hot reloads rolled back too.
    """

    enabled: bool | None = None
    error_rate_threshold: float = Field(default=0.10, gt=0, le=1)
    window_s: float = Field(default=60.0, gt=0, le=86_400)
    min_runs: int = Field(default=20, ge=1)
    auto_rollback: bool = True


class ScaleUpThreshold(_Section):
    """When to add replicas: average CPU above ``cpu_percent`` of the request, or more
    than ``requests_per_second`` per replica (from /metrics, through KEDA)."""

    cpu_percent: int = Field(default=80, ge=1, le=100)
    requests_per_second: float = Field(default=100, gt=0)


class AutoScalingConfig(_Section):
    """Replicas on Kubernetes (HorizontalPodAutoscaler + KEDA ScaledObject).

    ``scale_down_delay`` (seconds) is the scale-down stabilisation window;
    ``pending_runs_per_replica`` is the queued runs one replica should carry (KEDA scales
    on the pending-runs count, as LangGraph's own chart scales its queue workers).
    """

    enabled: bool = False
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=10, ge=1)
    scale_up_threshold: ScaleUpThreshold = Field(default_factory=ScaleUpThreshold)
    scale_down_delay: int = Field(default=300, ge=0, le=3600)
    pending_runs_per_replica: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _replicas_in_order(self) -> AutoScalingConfig:
        if self.max_replicas < self.min_replicas:
            raise ValueError(
                f"max_replicas ({self.max_replicas}) is below min_replicas "
                f"({self.min_replicas}); raise max_replicas or lower min_replicas"
            )
        return self


class LabConfig(_Section):
    """One environment's configuration (``config/<env>.yaml``)."""

    environment: str = DEFAULT_ENV
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    runs: RunsConfig = Field(default_factory=RunsConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    mcp: McpConfig = Field(default_factory=McpConfig)
    llm_providers: LlmProvidersConfig = Field(default_factory=LlmProvidersConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)
    auto_scaling: AutoScalingConfig = Field(default_factory=AutoScalingConfig)

    _root: Path = PrivateAttr(default_factory=Path.cwd)
    _source: Path | None = PrivateAttr(default=None)
    _missing_env: frozenset[str] = PrivateAttr(default=frozenset())

    @property
    def root(self) -> Path:
        """The project root every relative path is resolved against."""
        return self._root

    @property
    def source(self) -> Path | None:
        """The YAML file this config came from; ``None`` for built-in defaults."""
        return self._source

    @property
    def missing_env(self) -> frozenset[str]:
        """Environment variables referenced by the file that were unset."""
        return self._missing_env

    @property
    def checkpoint_path(self) -> Path:
        """The SQLite file, absolute."""
        path = Path(self.checkpoint.path).expanduser()
        return path if path.is_absolute() else self.root / path

    @property
    def api_key_required(self) -> bool:
        """Whether the API must refuse to start without a key."""
        required = self.server.require_api_key
        return self.environment in _KEY_REQUIRED if required is None else required

    @property
    def rate_limit_per_minute(self) -> int:
        """Requests per minute per client (0 = off); default off in ``experiment`` only."""
        value = self.server.rate_limit_per_minute
        if value is None:
            return 0 if self.environment == DEFAULT_ENV else _HOSTED_RATE_LIMIT
        return value

    @property
    def console_traces(self) -> bool:
        """Whether nodes are printed as they finish (default: in experiment only)."""
        value = self.observability.console
        return self.environment == DEFAULT_ENV if value is None else value

    def langfuse_settings(self) -> dict[str, str] | None:
        """``{public_key, secret_key, host}`` when Langfuse export is on, else ``None``."""
        lf = self.observability.langfuse
        if lf.enabled is False:
            return None
        public = lf.public_key or os.environ.get("LANGFUSE_PUBLIC_KEY")
        secret = lf.secret_key or os.environ.get("LANGFUSE_SECRET_KEY")
        if not (public and secret):
            if lf.enabled:
                raise ConfigError(
                    "observability.langfuse.enabled is true but the keys are missing",
                    hint="set observability.langfuse.public_key/secret_key, or "
                    "LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY",
                )
            return None
        host = (
            lf.host
            or os.environ.get("LANGFUSE_BASE_URL")
            or os.environ.get("LANGFUSE_HOST")
            or "https://cloud.langfuse.com"
        )
        return {"public_key": public, "secret_key": secret, "host": host.rstrip("/")}

    def mcp_server(self, name: str) -> McpServerConfig:
        """The named MCP server; ``mesh`` has a default (the bundled mesh over ./repositories)."""
        import sys

        server = self.mcp.servers.get(name)
        if server is not None:
            return server
        if name == "mesh":
            return McpServerConfig(
                command=sys.executable,
                args=["-m", "lgp_lab", "mesh", "--root", str(self.root / "repositories")],
            )
        known = ", ".join(sorted(self.mcp.servers)) or "(none)"
        raise ConfigError(
            f"MCP server {name!r} is not configured; known: {known}",
            hint=f"add mcp.servers.{name}: {{command: ..., args: [...]}} to the config",
        )

    @property
    def repository(self) -> str:
        """The repository name traces carry (default: the project directory's name)."""
        return self.observability.repository or self.root.name

    @property
    def workflows_dir(self) -> Path:
        """The directory of ``workflows/config.yaml``."""
        return self.root / "workflows"

    def with_root(self, root: Path, source: Path | None = None) -> LabConfig:
        """This config, anchored at ``root``."""
        self._root = root.resolve()
        self._source = source
        return self


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` with ``config/`` or ``workflows/``."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "config").is_dir() or (candidate / "workflows").is_dir():
            return candidate
    return None


def available_environments(root: Path) -> list[str]:
    """Every environment a project has: the built-in ones and its ``config/*.yaml``.

    A file overrides the built-in environment of its name only; the others stay.
    """
    config_dir = root / "config"
    defined = {p.stem for p in config_dir.glob("*.yaml")} if config_dir.is_dir() else set()
    return sorted(defined | set(BUILTIN_ENVIRONMENTS))


def load_config(env: str | None = None, start: Path | None = None) -> LabConfig:
    """Load the configuration of environment ``env`` for the project around ``start``.

    Args:
        env: Environment name; defaults to ``$LGP_ENV`` or ``experiment``.
        start: Where to look for the project; defaults to the working directory.

    Raises:
        ConfigError: The environment does not exist or its file is invalid.
    """
    env = env or os.environ.get(ENV_VAR) or DEFAULT_ENV
    if not _ENV_NAME.match(env):
        raise ConfigError(
            f"environment name {env!r} is not valid",
            hint="use letters, digits, '_', '-' or '.', e.g. --env hosted",
        )
    root = find_project_root(start)
    if root is None:
        return _builtin_env(env).with_root(start or Path.cwd())

    path = root / "config" / f"{env}.yaml"
    if path.is_file():
        return parse_config_file(path, env=env).with_root(root, path)
    if env in BUILTIN_ENVIRONMENTS:
        # Built in until a file overrides it, whatever else config/ holds.
        return builtin_config(env).with_root(root)
    raise ConfigError(
        f"environment {env!r} has no config file {_rel(path, root)} and is not built in; "
        f"known: {', '.join(available_environments(root))}",
        hint=f"create {_rel(path, root)}, or pick a known one",
    )


def _builtin_env(env: str) -> LabConfig:
    """The built-in defaults of a known environment (outside a project, where no
    config/ defines others)."""
    if env not in BUILTIN_ENVIRONMENTS:
        raise ConfigError(
            f"environment {env!r} is not built in (no config/{env}.yaml here); "
            f"known: {', '.join(BUILTIN_ENVIRONMENTS)}",
            hint=f"pick a known one, or add config/{env}.yaml to the project",
        )
    return builtin_config(env)


def builtin_config(env: str = DEFAULT_ENV) -> LabConfig:
    """The defaults used without a config file; ``LGP_API_KEY`` and
    ``LGP_CHECKPOINT_PATH`` are read as the shipped config files read them (the key is
    required in ``hosted`` and ``production``, optional elsewhere)."""
    missing: set[str] = set()
    settings = _BUILTIN if env in _KEY_REQUIRED else _BUILTIN_OPEN
    config = LabConfig.model_validate({**expand_env(settings, missing), "environment": env})
    config._missing_env = frozenset(missing)
    return config


def parse_config_file(path: Path, *, env: str | None = None) -> LabConfig:
    """Parse and validate one YAML config file."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})",
            hint="fix the YAML syntax (indentation, ':' after keys, quotes)",
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings, got {type(raw).__name__}",
            hint="start the file with keys such as 'checkpoint:'",
        )
    missing: set[str] = set()
    data = expand_env(raw, missing)
    data.setdefault("environment", env or path.stem)
    try:
        config = LabConfig.model_validate(data)
    except ValidationError as exc:
        raise _config_error(path, exc) from None
    config._missing_env = frozenset(missing)
    return config


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(value: Any, missing: set[str] | None = None) -> Any:
    """Expand ``${VAR}`` and ``${VAR:-default}`` in every string of ``value``.

    An unset variable without a default expands to ``""`` and is added to ``missing``
    so the setting that needs it can say which variable to set.
    """
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            got = os.environ.get(name)
            if got is not None and (got != "" or default is None):
                return got
            if default is not None:
                return default
            if missing is not None:
                missing.add(name)
            return ""

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: expand_env(v, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, missing) for v in value]
    return value


def _config_error(path: Path, exc: ValidationError) -> ConfigError:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            parent = _model_at(err["loc"][:-1])
            known = sorted(parent.model_fields) if parent else []
            close = difflib.get_close_matches(str(err["loc"][-1]), known, n=1)
            fix = f"did you mean '{close[0]}'?" if close else "remove it"
            lines.append(f"unknown key '{loc}'; {fix} (known keys here: {', '.join(known)})")
        else:
            # Never echo a database password back (a checkpoint.url is in the input).
            lines.append(f"'{loc}': {err['msg']} (got {redact_url(err.get('input'))!r})")
    return ConfigError(
        f"{path}: invalid configuration\n  " + "\n  ".join(lines),
        hint="correct the key or value named above; see the README's Configuration section",
    )


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)\S*@")  # greedy: a raw "@" in a password
# user:password@ without a scheme before it (a mistyped "postgresql//user:pw@host").
_BARE_PASSWORD = re.compile(r"((?:^|[\s\"'/])[\w.%+-]+:)[^\s@/*][^\s@]*@")
_DSN_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact_url(value: Any) -> Any:
    """``value`` with the password of every database URL / libpq string in it masked
    (``postgresql://user:***@host/db``); dicts and lists are redacted item by item."""
    if isinstance(value, str):
        masked = _BARE_PASSWORD.sub(r"\1***@", _URL_PASSWORD.sub(r"\1***@", value))
        return _DSN_PASSWORD.sub(r"\1***", masked)
    if isinstance(value, dict):
        return {k: redact_url(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_url(v) for v in value]
    return value


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    model: type[BaseModel] = LabConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
