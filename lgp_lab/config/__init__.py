"""Project discovery and environment configuration.

A project is the first directory, walking up from the working directory, that holds
``config/`` or ``workflows/``. Its ``config/<env>.yaml`` is validated by the pydantic
models of this package, after ``${VAR}`` and ``${VAR:-default}`` are expanded from the
environment. Outside any project, built-in defaults apply with the working directory
as root, so a lone ``flow.py`` runs anywhere.

One module per concept: each section's models (``checkpoint``, ``runs``, ``server``,
``observability``, ``mcp``, ``providers``, ``production``), the root model
(``model.LabConfig``), loading (``loading``) and password masking (``redaction``).
Everything is importable from ``lgp_lab.config`` as before the split.
"""

from __future__ import annotations

from lgp_lab.config.base import BUILTIN_ENVIRONMENTS, DEFAULT_ENV
from lgp_lab.config.checkpoint import CheckpointConfig
from lgp_lab.config.loading import (
    ENV_VAR,
    available_environments,
    builtin_config,
    expand_env,
    find_project_root,
    load_config,
    parse_config_file,
)
from lgp_lab.config.mcp import McpConfig, McpServerConfig
from lgp_lab.config.model import LabConfig
from lgp_lab.config.observability import (
    CostConfig,
    LangfuseConfig,
    MetricsConfig,
    ObservabilityConfig,
)
from lgp_lab.config.production import (
    AlertsConfig,
    AnomalyConfig,
    AutoScalingConfig,
    ScaleUpThreshold,
)
from lgp_lab.config.providers import (
    ClaudeCodeProviderConfig,
    LlmProvidersConfig,
    OllamaProviderConfig,
)
from lgp_lab.config.redaction import redact_url
from lgp_lab.config.runs import RunsConfig
from lgp_lab.config.server import ServerConfig

# Every public name of the single module this package replaced.
__all__ = [
    "BUILTIN_ENVIRONMENTS",
    "DEFAULT_ENV",
    "ENV_VAR",
    "AlertsConfig",
    "AnomalyConfig",
    "AutoScalingConfig",
    "CheckpointConfig",
    "ClaudeCodeProviderConfig",
    "CostConfig",
    "LabConfig",
    "LangfuseConfig",
    "LlmProvidersConfig",
    "McpConfig",
    "McpServerConfig",
    "MetricsConfig",
    "ObservabilityConfig",
    "OllamaProviderConfig",
    "RunsConfig",
    "ScaleUpThreshold",
    "ServerConfig",
    "available_environments",
    "builtin_config",
    "expand_env",
    "find_project_root",
    "load_config",
    "parse_config_file",
    "redact_url",
]
