"""``LabConfig``: one environment's whole configuration, its sections, and the
settings derived from them (absolute paths, per-environment defaults)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, PrivateAttr

from lgp_lab.config.base import DEFAULT_ENV, KEY_REQUIRED, Section
from lgp_lab.config.checkpoint import CheckpointConfig
from lgp_lab.config.mcp import McpConfig, McpServerConfig
from lgp_lab.config.observability import (
    CostConfig,
    MetricsConfig,
    ObservabilityConfig,
)
from lgp_lab.config.production import AlertsConfig, AnomalyConfig, AutoScalingConfig
from lgp_lab.config.providers import LlmProvidersConfig
from lgp_lab.config.runs import RunsConfig
from lgp_lab.config.server import HOSTED_RATE_LIMIT, ServerConfig
from lgp_lab.errors import ConfigError

__all__ = ["LabConfig"]


class LabConfig(Section):
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
        return self.environment in KEY_REQUIRED if required is None else required

    @property
    def rate_limit_per_minute(self) -> int:
        """Requests per minute per client (0 = off); default off in ``experiment`` only."""
        value = self.server.rate_limit_per_minute
        if value is None:
            return 0 if self.environment == DEFAULT_ENV else HOSTED_RATE_LIMIT
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
